"""Write synthetic run directories in the documented format (docs/run-directory.md), for report tests.

The report, compare and leaderboard read nothing but run directories; building them here, field by
field as the format document describes, lets those commands be tested (and timed) on any size and any
pattern of right and wrong answers without a model.
"""

from __future__ import annotations

import base64
import io
import json
import random
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from PIL import Image, ImageDraw

Outcomes = dict[tuple[str, str], list[bool | None]]
_WORDS = (
    "the figure shows a triangle with sides labelled and an angle marked at the vertex so we "
    "compute area using base times height over two then compare with each option carefully "
    "considering units since the graph plots velocity against time the slope gives acceleration "
    "which means the object speeds up between two and four seconds and the shaded region counts"
).split()


def thumbnail(seed: int, size: tuple[int, int] = (128, 96)) -> str:
    """A small, varied JPEG as base64, like the runner's per-image thumbnail."""
    rng = random.Random(seed)
    image = Image.new("RGB", size, (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    draw = ImageDraw.Draw(image)
    for _ in range(4):
        x0, y0 = rng.randrange(size[0]), rng.randrange(size[1])
        box = (x0, y0, x0 + rng.randrange(10, 60), y0 + rng.randrange(10, 40))
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)(box, fill=colour)
    draw.text((4, 4), f"fig {seed}", fill=(0, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def prose(rng: random.Random, n_words: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(n_words))


def make_items(
    benchmark: str,
    n: int,
    *,
    subjects: tuple[str, ...] = ("algebra", "geometry"),
    with_thumbnails: bool = True,
    id_prefix: str = "q",
) -> list[dict[str, Any]]:
    """Multiple-choice items cycling through the subjects; the answer letter cycles A-D."""
    items = []
    for index in range(n):
        item = {
            "benchmark": benchmark,
            "id": f"{id_prefix}{index:05d}",
            "question": f"Question {index} of {benchmark}: which option matches the figure?",
            "choices": {"A": "3", "B": "4", "C": "5", "D": "6"},
            "answer": "ABCD"[index % 4],
            "answer_type": "mcq",
            "subject": subjects[index % len(subjects)],
            "meta": {},
            "prompt": f"<|im_start|>user\nQuestion {index}<|im_end|>\n<|im_start|>assistant\n<think>",
            "thumbnails": [thumbnail(zlib.crc32(f"{benchmark}/{index}".encode()))] if with_thumbnails else [],
        }
        items.append(item)
    return items


def random_outcomes(items: list[dict[str, Any]], samples: int, accuracy: float, seed: int = 0) -> Outcomes:
    """Each item gets a latent difficulty so samples of one item agree more often than chance."""
    rng = random.Random(seed)
    outcomes: Outcomes = {}
    for item in items:
        p = min(1.0, max(0.0, rng.gauss(accuracy, 0.3)))
        outcomes[(item["benchmark"], item["id"])] = [rng.random() < p for _ in range(samples)]
    return outcomes


def default_text(item: dict[str, Any], sample: int, correct: bool | None, mode: str) -> str:
    letter = item["answer"] if correct else ("B" if item["answer"] != "B" else "C")
    thinking = f"Looking at the figure for item {item['id']}, sample {sample}. Hmm, the sides are 3 and 4."
    answer = f"The answer is \\boxed{{{letter}}}."
    if mode == "nothink":
        return answer
    return f"{thinking}</think>\n{answer}"


@dataclass
class BenchmarkMeta:
    title: str | None = None
    group: str | None = None
    data_fingerprint: str = "data-v1"
    definition_sha256: str = "def-v1"


@dataclass
class RunSpec:
    items: list[dict[str, Any]]
    outcomes: Outcomes
    model: str = "models/tiny-vlm"
    mode: str = "slow"
    budget: int = 256
    samples: int = 2
    benchmarks: dict[str, BenchmarkMeta] = field(default_factory=dict)
    text: Callable[[dict[str, Any], int, bool | None, str], str] = default_text
    think_tokens: Callable[[dict[str, Any], int], int] = lambda item, sample: 40 + 3 * sample
    answer_tokens: int = 9
    truncated: set[tuple[str, str, int]] = field(default_factory=set)
    errored: set[tuple[str, str, int]] = field(default_factory=set)
    judged: set[tuple[str, str, int]] = field(default_factory=set)
    ban_keywords: list[str] = field(default_factory=list)
    ban_rule: str | None = "word"  # None: a manifest from before the rule was recorded
    ban_tokens: list[str] | None = None  # None: a manifest that lists no tokens
    write_summary: bool = True
    write_items: bool = True
    write_generations: bool = True


def _dump_lines(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def _ban_block(spec: RunSpec) -> dict[str, Any]:
    """The manifest's ban block as `BanSet.manifest` writes it, less what an older run did not record."""
    block: dict[str, Any] = {"keywords": spec.ban_keywords, "excluded": [], "sha256": "1" * 64,
                             "size": len(spec.ban_tokens if spec.ban_tokens is not None else spec.ban_keywords)}
    if spec.ban_rule is not None:
        block["rule"] = spec.ban_rule
    if spec.ban_tokens is not None:
        block["tokens"] = spec.ban_tokens
    return block


def write_run(root: str | Path, spec: RunSpec) -> Path:
    """Write manifest.json, items.jsonl, generations.jsonl, scores.jsonl and summary.json for `spec`."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    names = list(dict.fromkeys(item["benchmark"] for item in spec.items))
    benchmarks_block = {}
    for name in names:
        meta = spec.benchmarks.get(name, BenchmarkMeta())
        entry: dict[str, Any] = {
            "definition_sha256": meta.definition_sha256,
            "data_fingerprint": meta.data_fingerprint,
            "n_items": sum(item["benchmark"] == name for item in spec.items),
        }
        if meta.group:
            entry["group"] = meta.group
        if meta.title:
            entry["title"] = meta.title
        benchmarks_block[name] = entry
    manifest = {
        "harness_version": "0.1.0",
        "created": "2026-11-23T12:00:00+00:00",
        "config": {
            "model": spec.model, "benchmarks": names, "mode": spec.mode, "budget": spec.budget,
            "budget_policy": "cap", "samples": spec.samples, "temperature": 1.0, "top_p": 1.0,
            "seed": 0, "engine": "vllm",
        },
        "comparable": {"mode": spec.mode, "budget": spec.budget},
        "model": {"path": spec.model, "family": "chatml", "fingerprint": f"fp-{spec.model}"},
        "benchmarks": benchmarks_block,
        "template": {"name": f"chatml_{spec.mode}.j2", "sha256": "0" * 64},
        "ban": _ban_block(spec),
        "judge": {"policy": "union" if spec.judged else "never", "model": None, "prompt_sha256": None},
        "packages": {"vllm": "0.32.0"},
        "git_sha": "0" * 40,
    }
    (root / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")

    generations, scores = [], []
    per_bench: dict[str, dict[str, Any]] = {name: {"cells": [], "subjects": {}} for name in names}
    for item in spec.items:
        bench, item_id = item["benchmark"], item["id"]
        for sample in range(spec.samples):
            key = (bench, item_id, sample)
            correct = spec.outcomes[(bench, item_id)][sample]
            errored = key in spec.errored
            text = "" if errored else spec.text(item, sample, correct, spec.mode)
            generations.append({
                "benchmark": bench, "id": item_id, "sample_index": sample, "text": text,
                "token_ids": [], "finish_reason": "error" if errored else ("length" if key in spec.truncated else "stop"),
                "forced": False, "think_tokens": 0 if errored else spec.think_tokens(item, sample),
                "answer_tokens": 0 if errored else spec.answer_tokens, "prompt_tokens": 57, "seed": sample,
                "latency_s": 0.5, "error": "engine failed" if errored else None,
            })
            judged = key in spec.judged
            verdict_correct = None if errored else correct
            scores.append({
                "benchmark": bench, "id": item_id, "sample_index": sample, "subject": item["subject"],
                "extracted": None if errored or correct is None else (item["answer"] if correct else "Z"),
                "correct": verdict_correct,
                "method": "error" if errored else ("judge" if judged else ("mcq" if correct is not None else "no_answer")),
                "format_ok": not errored, "rule_correct": None if judged else verdict_correct,
                "judge_correct": verdict_correct if judged else None,
                "judge_rationale": "The response picks the option the figure supports." if judged else None,
            })
            per_bench[bench]["cells"].append((sample, verdict_correct))
    if spec.write_items:
        _dump_lines(root / "items.jsonl", spec.items)
    if spec.write_generations:
        _dump_lines(root / "generations.jsonl", generations)
    _dump_lines(root / "scores.jsonl", scores)
    if spec.write_summary:
        summary = {"benchmarks": {}, "throughput": {
            "prompt_tokens": 57 * len(generations), "generated_tokens": 50 * len(generations),
            "generate_s": 10.0, "tokens_per_s": 5.0 * len(generations), "load_s": 3.0, "score_s": 0.4, "wall_s": 14.0,
        }}
        for name, data in per_bench.items():
            per_sample = []
            for sample in range(spec.samples):
                decided = [c for s, c in data["cells"] if s == sample and c is not None]
                per_sample.append(100.0 * sum(decided) / len(decided) if decided else 0.0)
            mean = sum(per_sample) / len(per_sample)
            summary["benchmarks"][name] = {
                "n_items": benchmarks_block[name]["n_items"], "samples": spec.samples,
                "accuracy": mean, "std": 0.0, "ci95": [mean, mean], "per_sample_accuracy": per_sample,
                "errors": len(spec.errored), "undecided": 0, "subjects": {}, "metrics": {},
                "tokens": {"mean_think": 40.0, "mean_answer": 9.0, "mean_total": 49.0},
                "truncation_rate": 0.0, "forced_rate": 0.0, "residual_keywords": {},
            }
        (root / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return root


def simple_run(
    root: str | Path,
    *,
    n_items: int = 40,
    samples: int = 2,
    accuracy: float = 0.6,
    seed: int = 0,
    benchmark: str = "sample",
    **overrides: Any,
) -> Path:
    """One benchmark with random outcomes: the common case for tests that need any valid run."""
    items = make_items(benchmark, n_items)
    spec = RunSpec(items=items, outcomes=random_outcomes(items, samples, accuracy, seed), samples=samples, **overrides)
    return write_run(root, spec)


def write_sweep(root: str | Path, specs: dict[tuple[str, int], RunSpec], *, budget_policy: str = "cap") -> Path:
    """A sweep directory as `harness sweep` leaves it: a run directory per (mode, budget) and sweep.json."""
    root = Path(root)
    entries = []
    for (mode, budget), spec in specs.items():
        name = f"{mode}-b{budget}"
        write_run(root / name, replace(spec, mode=mode, budget=budget))
        entries.append({"mode": mode, "budget": budget, "budget_policy": budget_policy, "dir": name, "results": {}})
    modes = list(dict.fromkeys(mode for mode, _ in specs))
    index = {"modes": modes, "budgets": sorted({budget for _, budget in specs}), "budget_policy": budget_policy,
             "runs": entries, "cost": {}}
    (root / "sweep.json").write_text(json.dumps(index, indent=2), encoding="utf-8")
    return root
