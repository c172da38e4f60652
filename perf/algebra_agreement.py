"""The exact algebra fast path against math-verify itself, on generated pairs inside its subset.

    python perf/algebra_agreement.py [--n 400] [--seed 0]

The fast path (harness/verify/algebra.py) may only decide what math-verify would decide the same
way. This script generates equal and unequal pairs of the shapes it accepts (expanded and factored
polynomials in one or two variables, radical fractions, sums of radicals, finite sets, integer
arithmetic), asks both (math-verify in this process, no isolation, the same rounding the verifier
uses) and prints every pair where the fast path decided and the two differ. Target: 0.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.verify.algebra import fast_equal  # noqa: E402
from harness.verify.symbolic_worker import compare_latex, quiet_math_verify  # noqa: E402


def pairs(n: int, rng: random.Random) -> list[tuple[str, str]]:
    out = []
    for i in range(n):
        a, b, c = rng.randint(1, 12), rng.randint(1, 12), rng.choice([2, 3, 5, 6, 7, 8, 12, 18])
        v, w = rng.sample("xyntkab", 2)
        off = rng.choice([0, 0, 1, -1])  # a wrong answer one time in two
        kind = i % 8
        if kind == 0:
            out.append((f"({v}+{a})({v}-{b})", f"{v}^2+{a - b + off}{v}-{a * b}"))
        elif kind == 1:
            out.append((f"({v}+{w})^{{3}}", f"{v}^3+{3 + off}{v}^2{w}+3{v}{w}^2+{w}^3"))
        elif kind == 2:
            out.append((f"\\frac{{\\sqrt{{{c}}}}}{{{a}}}", f"\\frac{{{b}\\sqrt{{{c}}}}}{{{a * b + off}}}"))
        elif kind == 3:
            out.append((f"\\sqrt{{{c * a * a}}}", f"{a + off}\\sqrt{{{c}}}"))
        elif kind == 4:
            out.append((f"\\{{{a}, {b}, {a + b}\\}}", f"\\{{{a + b + off}, {b}, {a}\\}}"))
        elif kind == 5:
            out.append((f"{a}\\cdot {b} - {c}", f"{a * b - c + off}"))
        elif kind == 6:
            out.append((f"\\frac{{{v}}}{{{a}}} + \\frac{{{v}}}{{{b}}}", f"\\frac{{{a + b + off}{v}}}{{{a * b}}}"))
        else:
            out.append((f"\\sqrt{{{c}}}\\sqrt{{{c * a}}}", f"{c}\\sqrt{{{a}}}" if off == 0 else f"{c + off}\\sqrt{{{a}}}"))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    quiet_math_verify()
    compare_latex("1", "1")
    decided = disagree = 0
    fast_s = slow_s = 0.0
    for gold, pred in pairs(args.n, random.Random(args.seed)):
        start = time.perf_counter()
        fast = fast_equal(gold, pred)
        fast_s += time.perf_counter() - start
        start = time.perf_counter()
        slow = compare_latex(gold, pred, 6)
        slow_s += time.perf_counter() - start
        if fast is None:
            continue
        decided += 1
        if fast != slow:
            disagree += 1
            print(f"- DISAGREE gold={gold!r} pred={pred!r} fast={fast} math-verify={slow}")
    print(f"{args.n} generated pairs: fast path decided {decided}, disagreed with math-verify on {disagree}; "
          f"time per pair: fast path {1e3 * fast_s / args.n:.2f} ms, math-verify {1e3 * slow_s / args.n:.1f} ms")
    return 1 if disagree else 0


if __name__ == "__main__":
    sys.exit(main())
