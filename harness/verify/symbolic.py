"""Symbolic equivalence through math-verify, behind a hard time and memory limit.

math-verify parses LaTeX with an ANTLR grammar into sympy and compares with sympy, which can run
for hours or exhaust memory on hostile input (`10^{10^{10}}`). Its own SIGALRM timeouts only work
on the main thread and cannot interrupt long C-level arithmetic, so every comparison here runs in
a worker process that is killed when its deadline passes and runs under an address-space limit.
Workers are forked from a template process (`python -m harness.verify.symbolic_worker`, a fresh
interpreter that imported math-verify once) and speak JSON lines over a Unix socket in a private
directory: nothing of the parent (threads, CUDA, a `__main__` without a guard) is inherited, and a
killed worker is replaced in milliseconds, so one hostile answer never makes the next items wait
for an import. Expressions known to compute without bound are refused before any parser sees them.
"""

from __future__ import annotations

import json
import math
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from harness.verify.symbolic_worker import MAX_EXPRESSION_CHARS, compare_latex

__all__ = ["DEFAULT_TIMEOUT_S", "MAX_EXPRESSION_CHARS", "SymbolicPool", "SymbolicResult", "SymbolicTask",
           "compare_latex", "refusal"]

DEFAULT_TIMEOUT_S = 1.5  # per item: with the kill and the fork of a replacement, within a 2 s bound

# One item's symbolic question: does the prediction equal any of the golds (numbers rounded to the
# given decimals)? One task per item, so an item's whole symbolic check lives under one deadline.
SymbolicTask = tuple[tuple[str, ...], str, int]

# Shapes that make sympy compute without bound or nearly so: numeric power towers, exponents of six digits
# and more, factorials of five digits and more (or chained), enormous literals, braces LaTeX parsers
# expand. Refused before any parser sees them, on the pool path and in-process alike;
# the pool's deadline still bounds whatever else runs long.
_EXPLOSIVE = re.compile(
    r"\^\s*\{?\s*\d+\s*\^\s*\{?\s*\d|\^\s*\{?\s*[-+]?\d{6,}|\d{300,}|\d{5,}\s*!|!\s*!|\\underbrace|\\overbrace"
)


_INTEGER_POWER = re.compile(r"(\d{1,299})\s*\^\s*\{?\s*(\d{1,5})(?!\d)")
MAX_POWER_DIGITS = 100_000  # an integer power with more digits than this is refused (99999^99999)


def _huge_power(text: str) -> bool:
    return any(int(exponent) * math.log10(max(int(base), 1)) > MAX_POWER_DIGITS
               for base, exponent in _INTEGER_POWER.findall(text))


MAX_NESTING = 50  # brackets nested deeper than this are no answer, and make parsers recurse


def _nesting(text: str) -> int:
    depth = deepest = 0
    for ch in text:
        if ch in "({[":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in ")}]":
            depth = max(0, depth - 1)
    return deepest


def refusal(texts: tuple[str, ...]) -> SymbolicResult | None:
    """Why these expressions are not given to math-verify at all, or None when they may be."""
    if any(len(text) > MAX_EXPRESSION_CHARS for text in texts):
        return SymbolicResult("too_long", None, f"over {MAX_EXPRESSION_CHARS} characters")
    for text in texts:
        if _EXPLOSIVE.search(text) or _huge_power(text):
            return SymbolicResult("refused", None, "an expression that could compute without bound")
        if _nesting(text) > MAX_NESTING:
            return SymbolicResult("refused", None, f"brackets nested deeper than {MAX_NESTING}")
    return None

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


@dataclass(frozen=True)
class SymbolicResult:
    status: str  # "ok" | "timeout" | "error" | "too_long" | "refused"
    equal: bool | None = None
    detail: str | None = None


class _Template:
    """The process workers are forked from: `python -m harness.verify.symbolic_worker`."""

    def __init__(self, memory_mb: int, socket_path: str) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
        env.setdefault("OMP_NUM_THREADS", "1")
        self.stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "harness.verify.symbolic_worker", str(memory_mb), socket_path],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self.stderr, env=env, close_fds=True,
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def fork(self) -> bool:
        """Ask for one more worker; False when the template is gone."""
        try:
            self.process.stdin.write(b"fork\n")
            self.process.stdin.flush()
            return True
        except (BrokenPipeError, OSError):
            return False

    def stderr_tail(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read()[-2000:].decode(errors="replace")

    def close(self) -> None:
        try:
            self.process.stdin.close()  # EOF: the template exits on its own
            self.process.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            pass
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.stderr.close()


class _Worker:
    """One forked worker: its connection, its process id, and the task it holds."""

    def __init__(self, connection: socket.socket) -> None:
        connection.setblocking(False)
        self.connection = connection
        self.buffer = b""
        self.ready = False
        self.pidfd: int | None = None
        self.pid: int | None = None
        self.task: int | None = None
        self.deadline = 0.0

    def became_ready(self, pid: int) -> None:
        self.ready, self.pid = True, pid
        try:  # a descriptor for the process itself: a kill can never reach a reused pid
            self.pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            self.pidfd = None

    def send(self, index: int, task: SymbolicTask) -> None:
        golds, pred, float_rounding = task
        message = json.dumps([index, list(golds), pred, float_rounding], ensure_ascii=True).encode() + b"\n"
        self.connection.setblocking(True)  # the worker is idle and reading: this cannot stall
        try:
            self.connection.sendall(message)
        finally:
            self.connection.setblocking(False)

    def read_lines(self) -> list[str] | None:
        """Complete lines available now; None when the worker has hung up."""
        try:
            chunk = self.connection.recv(1 << 16)
        except (BlockingIOError, InterruptedError):
            return []
        except OSError:
            return None
        if not chunk:
            return None
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        return [line.decode() for line in lines]

    def kill(self) -> None:
        try:
            if self.pidfd is not None:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            elif self.pid is not None:
                os.kill(self.pid, signal.SIGKILL)
        except (ProcessLookupError, OSError):
            pass  # already gone
        finally:
            if self.pidfd is not None:
                os.close(self.pidfd)
                self.pidfd = None
            self.connection.close()


class SymbolicPool:
    """A few worker processes; each task is bounded by `timeout_s` of wall time and `memory_mb` of
    address space beyond what the worker's imports took.

    A worker that overruns its deadline is killed and the task reported as `timeout`; its
    replacement is forked from the template at once. The template starts lazily (it imports
    math-verify once); a deadline starts only once a worker is ready.
    """

    def __init__(self, workers: int = 2, timeout_s: float = DEFAULT_TIMEOUT_S, memory_mb: int = 2048,
                 startup_timeout_s: float = 120.0) -> None:
        if workers < 1:
            raise ValueError(f"symbolic pool needs at least one worker, got {workers}")
        if timeout_s <= 0:
            raise ValueError(f"symbolic timeout must be positive, got {timeout_s}")
        self.n_workers = workers
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.startup_timeout_s = startup_timeout_s
        self._directory: str | None = None
        self._listener: socket.socket | None = None
        self._template: _Template | None = None
        self._forks_pending = 0
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        self.killed = 0  # workers killed for overrunning a deadline (for reports and tests)
        self.template_starts = 0  # math-verify imports paid: 1 unless the template itself died

    def compare(self, tasks: list[SymbolicTask]) -> list[SymbolicResult]:
        """Answer each (golds, pred, float_rounding) task; results in input order."""
        results: list[SymbolicResult | None] = [None] * len(tasks)
        pending = []
        for i, (golds, pred, _) in enumerate(tasks):
            results[i] = refusal((*golds, pred))
            if results[i] is None:
                pending.append(i)
        if pending:
            with self._lock:
                self._run(tasks, pending, results)
        return results  # type: ignore[return-value]

    def _top_up(self) -> None:
        """Start the template if needed and ask it for the workers still missing."""
        if self._listener is None:
            self._directory = tempfile.mkdtemp(prefix="harness-verify-")  # mode 0700: ours alone
            self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._listener.bind(os.path.join(self._directory, "workers.sock"))
            self._listener.listen(16)
            self._listener.setblocking(False)
        if self._template is None or not self._template.alive():
            if self._template is not None:
                self._template.close()
            self._template = _Template(self.memory_mb, self._listener.getsockname())
            self.template_starts += 1
            self._forks_pending = 0
        for _ in range(self.n_workers - len(self._workers) - self._forks_pending):
            if self._template.fork():
                self._forks_pending += 1

    def _accept(self, selector: selectors.BaseSelector) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            worker = _Worker(connection)
            self._workers.append(worker)
            self._forks_pending = max(0, self._forks_pending - 1)
            selector.register(worker.connection, selectors.EVENT_READ, worker)

    def _drop(self, worker: _Worker, results: list, status: str, detail: str,
              selector: selectors.BaseSelector) -> None:
        if worker.task is not None:
            results[worker.task] = SymbolicResult(status, None, detail)
            worker.task = None
        selector.unregister(worker.connection)
        worker.kill()
        self._workers.remove(worker)
        self._top_up()

    def _run(self, tasks: list[SymbolicTask], pending: list[int], results: list) -> None:
        self._top_up()
        queue = list(reversed(pending))
        started = time.monotonic()
        with selectors.DefaultSelector() as selector:
            selector.register(self._listener, selectors.EVENT_READ, None)
            for worker in self._workers:
                selector.register(worker.connection, selectors.EVENT_READ, worker)
            while queue or any(w.task is not None for w in self._workers):
                for worker in list(self._workers):
                    if worker.ready and worker.task is None and queue:
                        index = queue.pop()
                        worker.task, worker.deadline = index, time.monotonic() + self.timeout_s
                        try:
                            worker.send(index, tasks[index])
                        except OSError:
                            self._drop(worker, results, "error", "worker connection closed", selector)
                now = time.monotonic()
                if not any(w.ready for w in self._workers):
                    if not self._template.alive():
                        raise RuntimeError("the math-verify worker template exited; its stderr:\n"
                                           + self._template.stderr_tail())
                    if now - started > self.startup_timeout_s:
                        raise RuntimeError(
                            f"math-verify workers did not start within {self.startup_timeout_s:.0f} s")
                waits = [w.deadline - now for w in self._workers if w.task is not None]
                for key, _ in selector.select(max(0.0, min(waits)) if waits else 0.5):
                    if key.data is None:
                        self._accept(selector)
                        continue
                    worker = key.data
                    if worker not in self._workers:
                        continue
                    lines = worker.read_lines()
                    if lines is None:
                        self._drop(worker, results, "error", "worker exited", selector)
                        continue
                    for line in lines:
                        message = json.loads(line)
                        if message[0] == "ready":
                            worker.became_ready(int(message[1]))
                        elif message[0] == worker.task:
                            _, status, equal, detail = message
                            results[worker.task] = SymbolicResult(status, equal, detail)
                            worker.task = None
                now = time.monotonic()
                for worker in list(self._workers):
                    if worker.task is not None and now >= worker.deadline:
                        self.killed += 1
                        self._drop(worker, results, "timeout", f"over {self.timeout_s:g} s", selector)

    def close(self) -> None:
        with self._lock:
            for worker in self._workers:
                worker.kill()  # idle workers: nothing is lost
            self._workers = []
            if self._template is not None:
                self._template.close()
                self._template = None
            if self._listener is not None:
                self._listener.close()
                self._listener = None
                shutil.rmtree(self._directory, ignore_errors=True)

    def __enter__(self) -> "SymbolicPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            for worker in self._workers:
                worker.kill()
            if self._template is not None and self._template.alive():
                self._template.process.kill()
        except Exception:
            pass
