"""What the failure tests share: the harness as a real process, a run directory's bytes, the one-line error
check, and a disk that fills up.

A full disk is real where the kernel lets the tests mount one (a small tmpfs: writes fail with ENOSPC);
elsewhere each harness process gets a file-size limit (RLIMIT_FSIZE: writes past it fail with EFBIG). Both
are the same failure to the code under test -- a write that the operating system refuses part-way -- and the
tests check the same things on either.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent
PAGE = 4096


def harness_env(**extra: str) -> dict[str, str]:
    """The environment of a harness subprocess: this checkout first on the path, no hub access."""
    return {**os.environ, "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1", **extra}


def harness(args: list[str], timeout: float = 300, preexec_fn: Callable[[], None] | None = None,
            **extra_env: str) -> subprocess.CompletedProcess:
    """`python -m harness ARGS` as its own process, to the end."""
    return subprocess.run([sys.executable, "-m", "harness", *args], env=harness_env(**extra_env), capture_output=True,
                          text=True, timeout=timeout, preexec_fn=preexec_fn)


def start_harness(args: list[str], **extra_env: str) -> subprocess.Popen:
    """`python -m harness ARGS` started in the background (stderr kept, for the test to read)."""
    return subprocess.Popen([sys.executable, "-m", "harness", *args], env=harness_env(**extra_env),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under `directory` (hidden ones included) by relative path, with its bytes."""
    return {str(path.relative_to(directory)): path.read_bytes()
            for path in sorted(Path(directory).rglob("*")) if path.is_file()}


def error_line(stderr: str, verb: str) -> str:
    """The one error line of `harness VERB`, checked: exactly one, no traceback, nothing else but notes."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith("note: ")]
    assert len(lines) == 1, f"expected one line, got:\n{stderr}"
    assert lines[0].startswith(f"harness {verb}"), lines[0]
    return lines[0]


class SmallDisk:
    """A directory on a small disk of its own (tmpfs) where mounting is allowed, else under a file-size limit.

    `fill(leave)` takes all but `leave` bytes of the disk (or, under the limit, lets no file grow more than
    `leave` bytes past the largest file there now); `preexec` applies the limit in a harness process;
    `release()` gives the space back."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(self.path)],
                               capture_output=True, text=True)
        self.mounted = mount.returncode == 0
        self.refusal = "No space left on device" if self.mounted else "File too large"
        self._limit: int | None = None
        self._filler = self.path / f"filler-{uuid.uuid4().hex}"

    def fill(self, leave: int) -> None:
        if self.mounted:
            stats = os.statvfs(self.path)
            free = stats.f_bavail * stats.f_frsize
            with self._filler.open("wb") as handle:
                handle.write(b"\0" * ((free - leave) // PAGE * PAGE))
        else:
            self._limit = max(p.stat().st_size for p in self.path.rglob("*") if p.is_file()) + leave

    def preexec(self) -> None:
        """Run in the child before exec: the file-size limit (writes past it fail, instead of a SIGXFSZ kill)."""
        if self._limit is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (self._limit, self._limit))

    def release(self) -> None:
        self._filler.unlink(missing_ok=True)
        self._limit = None

    def copy_in(self, source: Path, name: str) -> Path:
        target = self.path / name
        shutil.copytree(source, target)
        return target

    def close(self) -> None:
        if self.mounted:
            subprocess.run(["umount", "--lazy", str(self.path)], check=True)
