"""Symbolic equivalence through math-verify, behind a hard time and memory limit.

math-verify parses LaTeX with an ANTLR grammar into sympy and compares with sympy, which can run
for hours or exhaust memory on hostile input (`10^{10^{10}}`). Its own SIGALRM timeouts only work
on the main thread and cannot interrupt long C-level arithmetic, so every comparison here runs in
a worker process (`python -m harness.verify.symbolic_worker`) that is killed when its deadline
passes and runs under an address-space limit. Workers are plain subprocesses speaking JSON lines
over pipes: nothing of the parent (threads, CUDA, a `__main__` without a guard) is inherited.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from harness.verify.symbolic_worker import MAX_EXPRESSION_CHARS, compare_latex

__all__ = ["SymbolicPool", "SymbolicResult", "compare_latex", "MAX_EXPRESSION_CHARS"]

_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


@dataclass(frozen=True)
class SymbolicResult:
    status: str  # "ok" | "timeout" | "error" | "too_long"
    equal: bool | None = None
    detail: str | None = None


class _Worker:
    def __init__(self, memory_mb: int) -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH")) if p)
        env.setdefault("OMP_NUM_THREADS", "1")
        self.stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "harness.verify.symbolic_worker", str(memory_mb)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr,
            env=env,
            close_fds=True,
        )
        os.set_blocking(self.process.stdout.fileno(), False)
        self.buffer = b""
        self.ready = False
        self.task: int | None = None
        self.deadline = 0.0

    def send(self, index: int, gold: str, pred: str, float_rounding: int) -> None:
        self.process.stdin.write(json.dumps([index, gold, pred, float_rounding]).encode() + b"\n")
        self.process.stdin.flush()

    def read_lines(self) -> list[str] | None:
        """Complete lines available now; None when the worker has exited."""
        try:
            chunk = os.read(self.process.stdout.fileno(), 1 << 16)
        except BlockingIOError:
            return []
        if not chunk:
            return None
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        return [line.decode() for line in lines]

    def stderr_tail(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read()[-2000:].decode(errors="replace")

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        self.stderr.close()


class SymbolicPool:
    """A few worker processes; each comparison is bounded by `timeout_s` of wall time and
    `memory_mb` of address space beyond what the worker's imports took.

    A worker that overruns its deadline is killed and replaced, and the item is reported as
    `timeout`. Workers start lazily; a deadline starts only once a worker has finished importing.
    """

    def __init__(self, workers: int = 2, timeout_s: float = 5.0, memory_mb: int = 2048,
                 startup_timeout_s: float = 120.0) -> None:
        if workers < 1:
            raise ValueError(f"symbolic pool needs at least one worker, got {workers}")
        if timeout_s <= 0:
            raise ValueError(f"symbolic timeout must be positive, got {timeout_s}")
        self.n_workers = workers
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.startup_timeout_s = startup_timeout_s
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        self.killed = 0  # workers killed for overrunning a deadline (for reports and tests)

    def compare(self, pairs: list[tuple]) -> list[SymbolicResult]:
        """Compare each (gold, pred[, float_rounding]) pair; results in input order."""
        pairs = [(p[0], p[1], p[2] if len(p) > 2 else 6) for p in pairs]
        results: list[SymbolicResult | None] = [None] * len(pairs)
        pending = []
        for i, (gold, pred, _) in enumerate(pairs):
            if len(gold) > MAX_EXPRESSION_CHARS or len(pred) > MAX_EXPRESSION_CHARS:
                results[i] = SymbolicResult("too_long", None, f"over {MAX_EXPRESSION_CHARS} characters")
            else:
                pending.append(i)
        if pending:
            with self._lock:
                self._run(pairs, pending, results)
        return results  # type: ignore[return-value]

    def _run(self, pairs: list[tuple[str, str, int]], pending: list[int], results: list) -> None:
        while len(self._workers) < self.n_workers:
            self._workers.append(_Worker(self.memory_mb))
        queue = list(reversed(pending))
        started = time.monotonic()
        with selectors.DefaultSelector() as selector:
            registered: dict[int, _Worker] = {}
            while queue or any(w.task is not None for w in self._workers):
                for worker in self._workers:
                    fd = worker.process.stdout.fileno()
                    if fd not in registered or registered[fd] is not worker:
                        if fd in registered:
                            selector.unregister(fd)
                        selector.register(fd, selectors.EVENT_READ)
                        registered[fd] = worker
                    if worker.ready and worker.task is None and queue:
                        index = queue.pop()
                        worker.task = index
                        worker.deadline = time.monotonic() + self.timeout_s
                        try:
                            worker.send(index, *pairs[index])
                        except (BrokenPipeError, OSError):
                            self._replace(worker, results, "error", "worker pipe closed", selector, registered)
                now = time.monotonic()
                if not any(w.ready for w in self._workers) and now - started > self.startup_timeout_s:
                    raise RuntimeError(
                        f"math-verify workers did not start within {self.startup_timeout_s:.0f} s"
                    )
                waits = [w.deadline - now for w in self._workers if w.task is not None]
                selector.select(max(0.0, min(waits)) if waits else 0.5)
                for worker in list(self._workers):
                    lines = worker.read_lines()
                    if lines is None:
                        if not worker.ready:
                            raise RuntimeError(
                                "a math-verify worker exited while starting; its stderr:\n"
                                + worker.stderr_tail()
                            )
                        self._replace(worker, results, "error", "worker exited", selector, registered)
                        continue
                    for line in lines:
                        message = json.loads(line)
                        if message[0] == "ready":
                            worker.ready = True
                        elif message[0] == worker.task:
                            _, status, equal, detail = message
                            results[worker.task] = SymbolicResult(status, equal, detail)
                            worker.task = None
                now = time.monotonic()
                for worker in list(self._workers):
                    if worker.task is not None and now >= worker.deadline:
                        self.killed += 1
                        self._replace(worker, results, "timeout", f"over {self.timeout_s:g} s",
                                      selector, registered)

    def _replace(self, worker: _Worker, results: list, status: str, detail: str,
                 selector: selectors.BaseSelector, registered: dict) -> None:
        if worker.task is not None:
            results[worker.task] = SymbolicResult(status, None, detail)
            worker.task = None
        fd = worker.process.stdout.fileno()
        if registered.get(fd) is worker:
            selector.unregister(fd)
            del registered[fd]
        worker.kill()
        self._workers[self._workers.index(worker)] = _Worker(self.memory_mb)

    def close(self) -> None:
        with self._lock:
            for worker in self._workers:
                try:
                    worker.process.stdin.close()  # EOF: an idle worker exits on its own
                except OSError:
                    pass
            for worker in self._workers:
                if worker.ready:
                    try:
                        worker.process.wait(timeout=2)
                    except subprocess.TimeoutExpired:
                        pass
                worker.kill()  # still importing (a replacement), or did not exit: no need to wait
            self._workers = []

    def __enter__(self) -> "SymbolicPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            for worker in self._workers:
                if worker.process.poll() is None:
                    worker.process.kill()
        except Exception:
            pass
