"""Load a run directory into typed records, strictly where it matters and leniently where it may not.

Reports, comparisons and leaderboards all start here, so the rules for what a run directory must hold
live in one place: a malformed line is an error naming the file and line; an optional field or an
optional file that is missing is simply absent; a torn last line (a run killed mid-write) is ignored,
as docs/run-directory.md promises.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from harness.types import Generation, Verdict
from harness.store import read_jsonl_numbered

OTHER_GROUP = "Other"
Key = tuple[str, str, int]  # (benchmark, item id, sample index)


class RunDirError(ValueError):
    """A run directory that cannot be read as documented; the message names the file and line."""


@dataclass
class Item:
    """One benchmark item as the model saw it (from items.jsonl)."""

    benchmark: str
    id: str
    question: str = ""
    choices: dict[str, str] = field(default_factory=dict)
    answer: str = ""
    answer_type: str = ""
    subject: str = ""
    thumbnails: list[str] = field(default_factory=list)  # base64 JPEG (or data: URLs)


@dataclass
class Score:
    """One verdict line of scores.jsonl."""

    benchmark: str
    id: str
    sample_index: int
    subject: str
    verdict: Verdict


@dataclass
class BenchmarkInfo:
    """What the manifest says about one benchmark of the run."""

    name: str
    title: str
    group: str
    definition_sha256: str | None = None
    data_fingerprint: str | None = None
    n_items: int | None = None


@dataclass
class Run:
    """Everything one run directory holds, keyed by (benchmark, id, sample_index)."""

    path: Path
    manifest: dict[str, Any]
    benchmarks: dict[str, BenchmarkInfo]
    items: dict[tuple[str, str], Item]
    generations: dict[Key, Generation]
    scores: dict[Key, Score]
    summary: dict[str, Any] | None

    @property
    def config(self) -> dict[str, Any]:
        return self.manifest.get("config") or {}

    @property
    def model(self) -> str:
        """A short model name: the last path component of the model path."""
        raw = self.config.get("model") or (self.manifest.get("model") or {}).get("path") or "unknown"
        return str(raw).rstrip("/").split("/")[-1] or str(raw)

    @property
    def model_fingerprint(self) -> str | None:
        return (self.manifest.get("model") or {}).get("fingerprint")

    @property
    def mode(self) -> str:
        return str(self.config.get("mode", "?"))

    @property
    def budget(self) -> int | None:
        value = self.config.get("budget")
        return int(value) if isinstance(value, (int, float)) else None

    @property
    def samples(self) -> int:
        """k in Avg@k: the configured sample count, else the most sample indices seen."""
        value = self.config.get("samples")
        if isinstance(value, int) and value > 0:
            return value
        seen = {key[2] for key in self.scores}
        return max(len(seen), 1)

    @property
    def label(self) -> str:
        """How the run is named in tables: model, mode and budget."""
        budget = f" b{self.budget}" if self.budget is not None else ""
        return f"{self.model} ({self.mode}{budget})"

    def benchmark_names(self) -> list[str]:
        """Benchmarks in manifest order, then any that only appear in scores.jsonl."""
        names = list(self.benchmarks)
        for benchmark, _, _ in self.scores:
            if benchmark not in self.benchmarks and benchmark not in names:
                names.append(benchmark)
        return names

    def info(self, benchmark: str) -> BenchmarkInfo:
        return self.benchmarks.get(benchmark) or BenchmarkInfo(benchmark, benchmark, OTHER_GROUP)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise RunDirError(f"{path}:{error.lineno}: not valid JSON ({error.msg})") from None
    except UnicodeDecodeError as error:
        raise RunDirError(f"{path}: not UTF-8 ({error.reason})") from None


def iter_jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) per line, skipping blank lines and a torn final line (see harness.store)."""
    return read_jsonl_numbered(path, RunDirError)


def _require(obj: dict[str, Any], name: str, kind: type | tuple[type, ...], where: str) -> Any:
    if name not in obj:
        raise RunDirError(f"{where}: missing required field {name!r}")
    value = obj[name]
    if not isinstance(value, kind) or isinstance(value, bool) and bool not in _as_tuple(kind):
        raise RunDirError(f"{where}: field {name!r} should be {_kind_name(kind)}, got {value!r:.80}")
    return value


def _optional(obj: dict[str, Any], name: str, kind: type | tuple[type, ...], where: str, default: Any) -> Any:
    value = obj.get(name)
    if value is None:
        return default
    if not isinstance(value, kind) or isinstance(value, bool) and bool not in _as_tuple(kind):
        raise RunDirError(f"{where}: field {name!r} should be {_kind_name(kind)}, got {value!r:.80}")
    return value


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    return " or ".join(k.__name__ for k in _as_tuple(kind))


def _load_benchmarks(manifest: dict[str, Any], where: str) -> dict[str, BenchmarkInfo]:
    block = manifest.get("benchmarks") or {}
    if not isinstance(block, dict):
        raise RunDirError(f"{where}: 'benchmarks' should be an object keyed by benchmark name")
    infos = {}
    for name, entry in block.items():
        entry = entry if isinstance(entry, dict) else {}
        n_items = entry.get("n_items")
        infos[name] = BenchmarkInfo(
            name=name,
            title=str(entry.get("title") or name),
            group=str(entry.get("group") or OTHER_GROUP),
            definition_sha256=entry.get("definition_sha256"),
            data_fingerprint=entry.get("data_fingerprint"),
            n_items=n_items if isinstance(n_items, int) else None,
        )
    for name in (manifest.get("config") or {}).get("benchmarks") or []:
        if isinstance(name, str) and name not in infos:
            infos[name] = BenchmarkInfo(name, name, OTHER_GROUP)
    return infos


def load_items(path: Path) -> dict[tuple[str, str], Item]:
    """items.jsonl of a run directory (an empty mapping when the file is absent)."""
    items: dict[tuple[str, str], Item] = {}
    if not path.exists():
        return items
    for lineno, obj in iter_jsonl(path):
        where = f"{path}:{lineno}"
        benchmark = _require(obj, "benchmark", str, where)
        item_id = str(_require(obj, "id", (str, int), where))
        choices = obj.get("choices") or {}
        if isinstance(choices, list):  # a plain list of options gets letters in order
            choices = {chr(ord("A") + i): str(text) for i, text in enumerate(choices)}
        if not isinstance(choices, dict):
            raise RunDirError(f"{where}: field 'choices' should be an object or a list")
        thumbnails = obj.get("thumbnails") or obj.get("images") or []
        if not isinstance(thumbnails, list) or not all(isinstance(t, str) for t in thumbnails):
            raise RunDirError(f"{where}: field 'thumbnails' should be a list of base64 strings")
        meta = obj.get("meta") if isinstance(obj.get("meta"), dict) else {}
        items[(benchmark, item_id)] = Item(
            benchmark=benchmark,
            id=item_id,
            question=str(_optional(obj, "question", str, where, "")),
            choices={str(k): str(v) for k, v in choices.items()},
            answer=str(obj.get("answer") if obj.get("answer") is not None else ""),
            answer_type=str(_optional(obj, "answer_type", str, where, "")),
            subject=str(obj.get("subject") or meta.get("subject") or ""),
            thumbnails=thumbnails,
        )
    return items


def _counts(obj: dict[str, Any], where: str) -> tuple[int, int, int]:
    values = []
    for name in ("think_tokens", "answer_tokens", "prompt_tokens"):
        value = obj.get(name) or 0
        if type(value) is not int:
            raise RunDirError(f"{where}: field {name!r} should be int, got {value!r:.80}")
        values.append(value)
    return values[0], values[1], values[2]


def _key(obj: dict[str, Any], where: str) -> Key:
    benchmark, item_id, sample_index = obj.get("benchmark"), obj.get("id"), obj.get("sample_index")
    # The common case in two type checks; the helpers only run to word an error.
    if type(benchmark) is not str or type(sample_index) is not int or type(item_id) not in (str, int):
        _require(obj, "benchmark", str, where)
        _require(obj, "id", (str, int), where)
        _require(obj, "sample_index", int, where)
    return benchmark, str(item_id), sample_index


def _load_generations(path: Path) -> dict[Key, Generation]:
    generations: dict[Key, Generation] = {}
    if not path.exists():
        return generations
    for lineno, obj in iter_jsonl(path):
        where = f"{path}:{lineno}"
        key = _key(obj, where)
        text = obj.get("text") or ""
        if type(text) is not str:
            raise RunDirError(f"{where}: field 'text' should be str, got {text!r:.80}")
        think, answer, prompt = _counts(obj, where)
        latency = obj.get("latency_s") or 0.0
        if not isinstance(latency, (int, float)):
            raise RunDirError(f"{where}: field 'latency_s' should be a number, got {latency!r:.80}")
        # token_ids are left out: no report needs them, and 50,000 lists of ids cost real memory.
        # A resumed run appends again; the latest line for a key is the one that counts.
        generations[key] = Generation(
            id=key[1], sample_index=key[2], text=text, finish_reason=str(obj.get("finish_reason") or "stop"),
            forced=bool(obj.get("forced")), think_tokens=think, answer_tokens=answer, prompt_tokens=prompt,
            seed=obj.get("seed"), latency_s=float(latency), error=obj.get("error"),
        )
    return generations


def _load_scores(path: Path) -> dict[Key, Score]:
    scores: dict[Key, Score] = {}
    for lineno, obj in iter_jsonl(path):
        where = f"{path}:{lineno}"
        key = _key(obj, where)
        correct = obj.get("correct")
        if correct is not None and type(correct) is not bool:
            raise RunDirError(f"{where}: field 'correct' should be true, false or null, got {correct!r:.80}")
        method = obj.get("method")
        if type(method) is not str:
            _require(obj, "method", str, where)
        extracted = obj.get("extracted")
        scores[key] = Score(
            benchmark=key[0],
            id=key[1],
            sample_index=key[2],
            subject=str(obj.get("subject") or ""),
            verdict=Verdict(
                extracted=None if extracted is None else str(extracted),
                correct=correct,
                method=method,
                format_ok=bool(obj.get("format_ok")),
                rule_correct=obj.get("rule_correct"),
                judge_correct=obj.get("judge_correct"),
                judge_rationale=None if obj.get("judge_rationale") is None else str(obj["judge_rationale"]),
            ),
        )
    return scores


def load_run(path: str | Path, items: dict[tuple[str, str], Item] | None = None) -> Run:
    """Read one run directory; raises RunDirError with file and line on anything malformed.

    `items` may be passed when the caller has already read items.jsonl (see report.build_report).
    """
    root = Path(path)
    if not root.is_dir():
        raise RunDirError(f"{root}: not a directory (expected a run directory written by `harness run`)")
    manifest_path = root / "manifest.json"
    if not manifest_path.exists():
        raise RunDirError(f"{manifest_path}: missing; is {root} a run directory?")
    manifest = _read_json(manifest_path)
    if not isinstance(manifest, dict):
        raise RunDirError(f"{manifest_path}: expected a JSON object")
    scores_path = root / "scores.jsonl"
    if not scores_path.exists():
        raise RunDirError(f"{scores_path}: missing; the run has not been scored yet (run `harness score`)")
    summary_path = root / "summary.json"
    summary = _read_json(summary_path) if summary_path.exists() else None
    if summary is not None and not isinstance(summary, dict):
        raise RunDirError(f"{summary_path}: expected a JSON object")
    items = load_items(root / "items.jsonl") if items is None else items
    scores = _load_scores(scores_path)
    for key, score in scores.items():
        if not score.subject and (key[0], key[1]) in items:
            score.subject = items[(key[0], key[1])].subject
    return Run(
        path=root,
        manifest=manifest,
        benchmarks=_load_benchmarks(manifest, str(manifest_path)),
        items=items,
        generations=_load_generations(root / "generations.jsonl"),
        scores=scores,
        summary=summary,
    )
