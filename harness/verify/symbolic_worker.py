"""The math-verify call itself, and the worker process that runs it in isolation.

Run as `python -m harness.verify.symbolic_worker MEMORY_MB`: it imports math-verify once, caps
its own address space, prints a "ready" line, then answers one JSON line `[index, gold, pred]`
with `[index, status, equal, detail]` until its stdin closes. Only math-verify's LaTeX parser is
used: its plain-expression path calls sympy's `parse_expr` (an `eval`), which model output must
never reach.
"""

from __future__ import annotations

import functools
import json
import logging
import os
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


def main(argv: list[str]) -> int:
    memory_mb = int(argv[1]) if len(argv) > 1 else 2048
    quiet_math_verify()
    compare_latex("1", "1")  # import and warm the grammar before the memory cap
    _cap_memory(memory_mb)
    out = sys.stdout
    out.write(json.dumps(["ready", os.getpid()]) + "\n")
    out.flush()
    for line in sys.stdin:
        index, gold, pred, float_rounding = json.loads(line)
        try:
            reply = [index, "ok", compare_latex(gold, pred, float_rounding), None]
        except MemoryError:
            reply = [index, "error", None, "memory limit"]
        except RecursionError:
            reply = [index, "error", None, "recursion limit"]
        except Exception as exc:  # math-verify raises many types on odd input; none is fatal here
            reply = [index, "error", None, f"{type(exc).__name__}: {str(exc)[:200]}"]
        out.write(json.dumps(reply) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
