"""The run directory: its file names, its durable writers, and its typed readers -- the one definition of the format.

Every command that touches a run goes through here: `harness run` writes it, `harness score` re-scores it,
the report, `compare`, the leaderboard and `harness merge` read it (docs/run-directory.md). Writers are
append-only JSONL (flushed and fsynced) and atomic rewrites, so a kill never leaves a half-written file
in place of a good one. Readers are strict where it matters and lenient where it may not: a malformed line
is an error naming the file and line; an optional field or file that is missing is simply absent; a torn
last line (a run killed mid-write) is the work a kill interrupted, not finished work, and is ignored.
"""

from __future__ import annotations

import base64
import io
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from harness import jsontext
from harness.types import Generation, Sample, Verdict

OTHER_GROUP = "Other"
Key = tuple[str, str, int]  # (benchmark, item id, sample index)


class RunDirError(ValueError):
    """A run-directory file is malformed or missing; the message names the file and line."""


def _write_atomic(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, fsync, then rename: readers see old or new, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Any) -> None:
    _write_atomic(path, jsontext.dumps(data, indent=2, default=str) + "\n")


def jsonl_text(rows: Iterable[dict[str, Any]]) -> str:
    """Rows as JSON lines; any string in them, lone surrogates included, is written safely."""
    return "".join(jsontext.dumps(row, default=str) + "\n" for row in rows)


def write_jsonl_atomic(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    _write_atomic(path, jsonl_text(rows))


def append_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Append rows and make them durable before returning (one flush + fsync per call = per batch)."""
    lines = jsonl_text(rows)
    if not lines:
        return
    _repair_torn_tail(path)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(lines)
        handle.flush()
        os.fsync(handle.fileno())


def _repair_torn_tail(path: Path) -> None:
    """Cut a partial last line left by a kill, so appended lines start on a line of their own."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb+") as handle:
        handle.seek(-1, os.SEEK_END)
        if handle.read(1) == b"\n":
            return
        data = path.read_bytes()
        cut = data.rfind(b"\n") + 1
        handle.truncate(cut)


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The objects of a run-directory JSONL file, in order; nothing if the file does not exist."""
    if path.exists():
        for _, row in read_jsonl_numbered(path):
            yield row


def read_jsonl_numbered(path: Path, error: type[Exception] = RunDirError) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) per non-blank line of a run-directory JSONL file.

    A torn last line (no newline after it, not valid JSON) is the batch a kill interrupted, not finished
    work, and is left out. Any other bad line is corruption: `error` names the file and line.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    numbered = [(number, line) for number, line in enumerate(text.split("\n"), start=1) if line.strip()]
    if numbered and not text.endswith("\n"):
        try:
            json.loads(numbered[-1][1])
        except json.JSONDecodeError:
            numbered.pop()
    try:
        # One parse of the whole file as an array: for 100,000 short lines the per-call overhead of
        # json.loads costs more than the parsing. A failure falls back to line by line to say where.
        objects = json.loads("[" + ",".join(line for _, line in numbered) + "]")
        if len(objects) != len(numbered):
            raise ValueError("a line holds more than one value")
    except ValueError:
        objects = []
        for number, line in numbered:
            try:
                objects.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise error(f"{path}:{number}: not a valid JSON line ({exc.msg} at column {exc.colno})") from None
    rows = [(number, row) for (number, _), row in zip(numbered, objects)]
    for number, row in rows:
        if not isinstance(row, dict):
            raise error(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
    return rows


def iter_json_objects(path: Path, error: type[Exception] = RunDirError) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line of a JSONL input file; strict: any bad line is an
    `error` naming the file and line. (Run-directory files use `read_jsonl`, which forgives a torn tail.)"""
    with Path(path).open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise error(f"{path}:{number}: not valid JSON ({exc.msg} at column {exc.colno})") from None
            if not isinstance(row, dict):
                raise error(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
            yield number, row


def read_json(path: Path) -> Any:
    """A JSON file of the run directory; a missing file raises FileNotFoundError, a bad one RunDirError."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise RunDirError(f"{path}:{error.lineno}: not valid JSON ({error.msg})") from None
    except UnicodeDecodeError as error:
        raise RunDirError(f"{path}: not UTF-8 ({error.reason})") from None


THUMBNAIL_SIDE = 128


def thumbnail(image: Any, size: int = THUMBNAIL_SIDE) -> str:
    """A small base64 JPEG of an item's image for items.jsonl (the report shows it; the model saw the original)."""
    copy = image.copy()
    copy.thumbnail((size, size))
    buffer = io.BytesIO()
    copy.convert("RGB").save(buffer, format="JPEG", quality=70)
    return base64.b64encode(buffer.getvalue()).decode()


def item_row(benchmark: str, sample: Sample, prompt: str) -> dict[str, Any]:
    """One line of items.jsonl: the item as the model saw it."""
    return {"benchmark": benchmark, "id": sample.id, "question": sample.question, "choices": sample.choices,
            "answer": sample.answer, "answer_type": sample.answer_type, "subject": sample.subject,
            "meta": sample.meta, "prompt": prompt, "error": sample.error,
            "thumbnails": [thumbnail(image) for image in sample.images]}


class RunDir:
    """Paths and readers for one run directory."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @property
    def manifest_path(self) -> Path:
        return self.path / "manifest.json"

    @property
    def items_path(self) -> Path:
        return self.path / "items.jsonl"

    @property
    def generations_path(self) -> Path:
        return self.path / "generations.jsonl"

    @property
    def scores_path(self) -> Path:
        return self.path / "scores.jsonl"

    @property
    def summary_path(self) -> Path:
        return self.path / "summary.json"

    def parity_path(self, peer: str) -> Path:
        """Where `harness score --parity PEER` leaves the comparison with that peer."""
        return self.path / f"parity-{peer}.json"

    def parity_paths(self) -> list[Path]:
        return sorted(self.path.glob("parity-*.json"))

    def manifest(self) -> dict[str, Any]:
        return read_json(self.manifest_path)

    def items(self) -> dict[tuple[str, str], dict[str, Any]]:
        return {(row["benchmark"], str(row["id"])): row for row in read_jsonl(self.items_path)}

    def generations(self) -> dict[tuple[str, str, int], dict[str, Any]]:
        """Latest line per (benchmark, id, sample_index)."""
        return {(row["benchmark"], str(row["id"]), int(row["sample_index"])): row
                for row in read_jsonl(self.generations_path)}

    def scores(self) -> list[dict[str, Any]]:
        return list(read_jsonl(self.scores_path))


# ---------------------------------------------------------------- typed readers


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
    meta: dict[str, Any] = field(default_factory=dict)
    prompt: str = ""
    error: str | None = None  # the item could not be used (e.g. a corrupt image)
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
    for lineno, obj in read_jsonl_numbered(path):
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
            meta=meta,
            prompt=str(_optional(obj, "prompt", str, where, "")),
            error=None if obj.get("error") is None else str(obj["error"]),
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
    for lineno, obj in read_jsonl_numbered(path):
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
    for lineno, obj in read_jsonl_numbered(path):
        where = f"{path}:{lineno}"
        key = _key(obj, where)
        correct = obj.get("correct")
        if correct is not None and type(correct) is not bool:
            raise RunDirError(f"{where}: field 'correct' should be true, false or null, got {correct!r:.80}")
        method = obj.get("method")
        if type(method) is not str:
            _require(obj, "method", str, where)
        extracted = obj.get("extracted")
        finished = obj.get("finished")
        if finished is not None and type(finished) is not bool:
            raise RunDirError(f"{where}: field 'finished' should be true, false or null, got {finished!r:.80}")
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
                finished=finished,
                detail=None if obj.get("detail") is None else str(obj["detail"]),
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
    manifest = read_json(manifest_path)
    if not isinstance(manifest, dict):
        raise RunDirError(f"{manifest_path}: expected a JSON object")
    scores_path = root / "scores.jsonl"
    if not scores_path.exists():
        raise RunDirError(f"{scores_path}: missing; the run has not been scored yet (run `harness score`)")
    summary_path = root / "summary.json"
    summary = read_json(summary_path) if summary_path.exists() else None
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
