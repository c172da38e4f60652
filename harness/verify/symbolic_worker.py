"""The math-verify call itself, and the processes that run it in isolation.

`python -m harness.verify.symbolic_worker MEMORY_MB SOCKET_PATH` starts a *template*: it imports
math-verify and warms its grammar once (seconds), then reads commands from its stdin; each line
"fork" forks a *worker* from it, which costs milliseconds because the imports are shared
copy-on-write. A worker caps its own address space, connects to the pool's Unix socket at
SOCKET_PATH, says `["ready", pid]`, then answers JSON lines `[index, golds, pred, float_rounding]`
(one item's whole symbolic question: does `pred` equal any of `golds`?) with `[index, status,
equal, detail]` until the connection closes. So a worker killed at its deadline is replaced at
once, not after another import. Only math-verify's LaTeX parser is used: its plain-expression path
calls sympy's `parse_expr` (an `eval`), which model output must never reach.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import signal
import socket
import sys

MAX_EXPRESSION_CHARS = 2000  # longer "answers" are not given to the parser at all


def _as_latex(text: str) -> str:
    """Present a bare answer to math-verify's LaTeX extractor as one math span."""
    stripped = text.strip()
    if stripped.startswith("$") or "\\boxed" in stripped or stripped.startswith(("\\[", "\\(")):
        return stripped
    return "$" + stripped + "$"


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> tuple:
    """Parsing (ANTLR, pure Python) is most of the cost; a gold answer recurs across samples."""
    from math_verify import LatexExtractionConfig, parse

    return tuple(parse(_as_latex(text), [LatexExtractionConfig(boxed_match_priority=0)], parsing_timeout=None))


def compare_latex(gold: str, pred: str, float_rounding: int = 6) -> bool:
    """math-verify equivalence of two answers; numbers are compared after rounding to
    `float_rounding` decimals. No timeout here: callers isolate it."""
    from math_verify import verify

    gold_parsed, pred_parsed = list(_parse(gold)), list(_parse(pred))
    if not gold_parsed or not pred_parsed:
        return False
    return bool(verify(gold_parsed, pred_parsed, float_rounding=float_rounding, timeout_seconds=None))


def compare_any(golds: list[str] | tuple[str, ...], pred: str, float_rounding: int = 6) -> bool:
    """Whether `pred` equals any of the gold answers (its parse is cached across them)."""
    return any(compare_latex(gold, pred, float_rounding) for gold in golds)


def quiet_math_verify() -> None:
    for name in ("math_verify", "latex2sympy2_extended"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _cap_memory(memory_mb: int) -> None:
    if memory_mb <= 0:
        return
    try:
        import resource

        with open("/proc/self/statm") as handle:
            current = int(handle.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
        limit = current + memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, OSError, ValueError):
        pass  # no rlimit here: the parent's deadline still bounds the damage


def _answer(line: bytes) -> bytes:
    index, golds, pred, float_rounding = json.loads(line)
    try:
        reply = [index, "ok", compare_any(golds, pred, float_rounding), None]
    except MemoryError:
        reply = [index, "error", None, "memory limit"]
    except RecursionError:
        reply = [index, "error", None, "recursion limit"]
    except Exception as exc:  # math-verify raises many types on odd input; none is fatal here
        reply = [index, "error", None, f"{type(exc).__name__}: {str(exc)[:200]}"]
    return json.dumps(reply).encode() + b"\n"


def _serve(memory_mb: int, socket_path: str) -> None:
    """A forked worker's whole life: cap memory, connect, answer until the pool hangs up."""
    _cap_memory(memory_mb)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.connect(socket_path)
        connection.sendall(json.dumps(["ready", os.getpid()]).encode() + b"\n")
        with connection.makefile("rb") as requests:
            for line in requests:
                connection.sendall(_answer(line))


def main(argv: list[str]) -> int:
    memory_mb, socket_path = int(argv[1]), argv[2]
    quiet_math_verify()
    compare_latex("1", "1")  # import and warm the grammar once, for every worker forked from here
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # workers are reaped by the kernel, never zombies
    for command in sys.stdin:
        if command.strip() != "fork":
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        if os.fork() == 0:
            status = 0
            try:
                os.close(0)  # the template's command pipe is not the worker's
                _serve(memory_mb, socket_path)
            except BaseException:
                status = 1
            finally:
                os._exit(status)  # never run the template's loop or exit handlers in a worker
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
