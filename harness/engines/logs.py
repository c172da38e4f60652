"""The engine's own output goes to engine.log in the run directory; the console keeps one progress bar and notes.

An engine prints a great deal (vLLM: ~150 lines of INFO/WARNING before the first token, some from C++
code and from its worker processes), so while an engine loads and generates, the process's stdout and
stderr -- the file descriptors themselves, which every library and child process writes to -- are
redirected into a pipe whose reader appends everything to engine.log (and, with `--verbose`, copies it
to the console). The harness's own bar, notes and tables go to `console()`, the terminal as it was.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any, TextIO

_active: "EngineLog | None" = None


def console() -> TextIO:
    """Where the harness talks to the user: the real stderr, also while an engine's output is captured."""
    return _active.console if _active is not None else sys.stderr


class EngineLog:
    """Captures fd 1 and fd 2 into `path` for the duration of the block (nested blocks share the outer one)."""

    def __init__(self, path: Path, verbose: bool = False) -> None:
        self.path = Path(path)
        self.verbose = verbose
        self.nested = False

    def __enter__(self) -> "EngineLog":
        global _active
        if _active is not None:
            self.nested = True
            return self
        sys.stdout.flush()
        sys.stderr.flush()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.path.open("ab", buffering=0)
        self._saved = {1: os.dup(1), 2: os.dup(2)}
        self.console = os.fdopen(os.dup(2), "w", buffering=1, encoding="utf-8", errors="replace")
        read_end, write_end = os.pipe()
        self._pump = threading.Thread(target=self._copy, args=(read_end,), name="harness-engine-log", daemon=True)
        self._pump.start()
        os.dup2(write_end, 1)
        os.dup2(write_end, 2)
        os.close(write_end)
        _active = self
        return self

    def _copy(self, read_end: int) -> None:
        with os.fdopen(read_end, "rb", buffering=0) as pipe:
            while chunk := pipe.read(1 << 16):
                try:
                    self._log.write(chunk)
                except ValueError:  # the block has ended; a straggling child's output is dropped
                    return
                except OSError:
                    pass  # the log cannot grow (a full disk): keep draining, or every writer blocks once the pipe fills
                if self.verbose:
                    try:
                        os.write(self._saved[2], chunk)
                    except OSError:
                        pass

    def __exit__(self, *exc: Any) -> None:
        global _active
        if self.nested:
            return
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(self._saved[1], 1)
        os.dup2(self._saved[2], 2)
        # Worker processes started meanwhile still hold the pipe: what they print later is not waited for.
        self._pump.join(timeout=2)
        for fd in self._saved.values():
            os.close(fd)
        self.console.close()
        self._log.close()
        _active = None
