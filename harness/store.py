"""The run directory on disk: append-only JSONL that survives kills, and atomic JSON rewrites.

A SIGKILL can land mid-line; readers therefore ignore a torn last line (and only the last line: a
malformed line elsewhere is corruption and is reported with its line number).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator


class StoreError(ValueError):
    """A run-directory file is malformed; the message names the file and line."""


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
    _write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def write_jsonl_atomic(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    _write_atomic(path, "".join(json.dumps(row, ensure_ascii=False, default=str) + "\n" for row in rows))


def append_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """Append rows and make them durable before returning (one flush + fsync per call = per batch)."""
    lines = "".join(json.dumps(row, ensure_ascii=False, default=str) + "\n" for row in rows)
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


def read_jsonl_numbered(path: Path, error: type[Exception] = StoreError) -> list[tuple[int, dict[str, Any]]]:
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


def iter_json_objects(path: Path, error: type[Exception] = StoreError) -> Iterator[tuple[int, dict[str, Any]]]:
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
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except json.JSONDecodeError as exc:
        raise StoreError(f"{path}: malformed JSON at line {exc.lineno}: {exc.msg}") from exc


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
