"""Fetching benchmark data files: download, verify the checksum, and only then put the file in place.

A benchmark file is useful only if it is the file the published numbers were computed on, so a
download is checked against the definition's md5/sha256 before it may sit at its final path. The
bytes go to a temporary name in the same directory (so the final rename is atomic on one
filesystem); a failed, interrupted or mismatching download removes that temporary file and leaves
whatever was at the final path untouched. Without network, or for sources with no download URL,
the error says exactly where to put the file by hand.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from harness.bench.spec import BenchmarkSpec, mapped_columns

CHUNK_BYTES = 1 << 20
USER_AGENT = "harness-data-fetch"


class FetchError(RuntimeError):
    """A benchmark file could not be fetched; the message says why and what to do instead."""


class ChecksumMismatch(FetchError):
    """The bytes are not the published file: expected and actual digests are in the message."""

    def __init__(self, message: str, expected: str, actual: str) -> None:
        super().__init__(message)
        self.expected = expected
        self.actual = actual


@dataclass
class FetchResult:
    name: str
    path: Path | None
    status: str  # "downloaded" | "present" | "builtin"
    algorithm: str | None = None  # "md5" | "sha256"; None when the source publishes no checksum
    digest: str | None = None  # of the file now in place
    verified: bool = False


def expected_checksum(spec: BenchmarkSpec) -> tuple[str, str] | None:
    """(algorithm, lowercase hex digest) from the definition, preferring sha256."""
    if spec.source.sha256:
        return "sha256", spec.source.sha256.strip().lower()
    if spec.source.md5:
        return "md5", spec.source.md5.strip().lower()
    return None


def file_digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


def manual_instructions(spec: BenchmarkSpec, path: Path) -> str:
    """How to put the file in place by hand (no network, or no download URL)."""
    lines = [f"To provide {spec.name!r} by hand, place the file at:", f"  {path}"]
    if spec.source.url:
        lines.append(f"  (download it on a machine with network from {spec.source.url})")
    if spec.source.hf_dataset:
        lines.append(f"  upstream dataset: {spec.source.hf_dataset}; "
                     f"export it as {spec.source.format} with the columns this benchmark maps: "
                     f"{', '.join(dict.fromkeys(name for _, name in mapped_columns(spec)))}")
    checksum = expected_checksum(spec)
    if checksum:
        lines.append(f"  it must have {checksum[0]} {checksum[1]}; check with: harness data fetch {spec.name} "
                     f"--data-dir {path.parent} (verifies a file already in place)")
    return "\n".join(lines)


def verify_existing(spec: BenchmarkSpec, path: Path) -> FetchResult:
    checksum = expected_checksum(spec)
    if checksum is None:
        return FetchResult(spec.name, path, "present", "sha256", file_digest(path, "sha256"), verified=False)
    algorithm, expected = checksum
    actual = file_digest(path, algorithm)
    if actual != expected:
        raise ChecksumMismatch(
            f"benchmark {spec.name!r}: {path} does not match its published checksum\n"
            f"  expected {algorithm} {expected}\n  actual   {algorithm} {actual}\n"
            f"  replace it with: harness data fetch {spec.name} --data-dir {path.parent} --force",
            expected, actual)
    return FetchResult(spec.name, path, "present", algorithm, actual, verified=True)


def fetch_benchmark(spec: BenchmarkSpec, data_dir: str | os.PathLike | None = None, *, force: bool = False,
                    timeout_s: float = 60.0, progress: Callable[[int, int | None], None] | None = None
                    ) -> FetchResult:
    """Make the benchmark's data file present and verified in the data directory.

    A file already in place is verified, not re-downloaded (unless `force`); a mismatching one is
    reported and left alone, because it may be a user's own export.
    """
    if spec.source.format == "builtin":
        return FetchResult(spec.name, None, "builtin")
    path = spec.data_path(data_dir)
    assert path is not None
    if path.exists() and not force:
        return verify_existing(spec, path)
    if not spec.source.url:
        raise FetchError(f"benchmark {spec.name!r} has no download URL.\n{manual_instructions(spec, path)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    checksum = expected_checksum(spec)
    algorithm = checksum[0] if checksum else "sha256"
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    temp_path = Path(temp_name)
    try:
        with os.fdopen(handle, "wb") as out:
            actual = _download(spec, path, out, algorithm, timeout_s, progress)
        if checksum and actual != checksum[1]:
            raise ChecksumMismatch(
                f"benchmark {spec.name!r}: the download from {spec.source.url} does not match the published "
                f"checksum; it was discarded and {path} was left as it was\n"
                f"  expected {algorithm} {checksum[1]}\n  actual   {algorithm} {actual}",
                checksum[1], actual)
        # mkstemp creates the file 0600; a data file gets what the user's umask gives any new file.
        os.chmod(temp_path, 0o666 & ~_current_umask())
        os.replace(temp_path, path)
    finally:
        temp_path.unlink(missing_ok=True)
    return FetchResult(spec.name, path, "downloaded", algorithm, actual, verified=checksum is not None)


def _current_umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it; put it straight back
    os.umask(mask)
    return mask


def _download(spec: BenchmarkSpec, path: Path, out, algorithm: str, timeout_s: float,
              progress: Callable[[int, int | None], None] | None) -> str:
    url = spec.source.url or ""
    digest = hashlib.new(algorithm)
    received = 0
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            length_header = response.headers.get("Content-Length")
            expected_length = int(length_header) if length_header and length_header.isdigit() else None
            while True:
                block = response.read(CHUNK_BYTES)
                if not block:
                    break
                out.write(block)
                digest.update(block)
                received += len(block)
                if progress:
                    progress(received, expected_length)
    except urllib.error.HTTPError as exc:
        raise FetchError(f"benchmark {spec.name!r}: {url} answered HTTP {exc.code} {exc.reason}\n"
                         f"{manual_instructions(spec, path)}") from exc
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        # A dropped connection surfaces as IncompleteRead (an HTTPException) or an OSError.
        reason = getattr(exc, "reason", exc)
        raise FetchError(f"benchmark {spec.name!r}: download from {url} failed after {received} bytes: {reason}\n"
                         f"{manual_instructions(spec, path)}") from exc
    if expected_length is not None and received != expected_length:
        raise FetchError(f"benchmark {spec.name!r}: download from {url} was interrupted: received {received} of "
                         f"{expected_length} bytes; nothing was written to {path}")
    return digest.hexdigest()


def data_status(spec: BenchmarkSpec, data_dir: str | os.PathLike | None = None) -> str:
    """'builtin', 'missing', or 'present' (without hashing: listing must stay fast on GB files)."""
    if spec.source.format == "builtin":
        return "builtin"
    path = spec.data_path(data_dir)
    return "present" if path is not None and path.exists() else "missing"

