"""Scoring throughput on 10,000 synthetic predictions (MCQ / numeric / symbolic), on this machine.

    python perf/bench_score.py [--n 10000] [--workers 2] [--timeout 5]

Targets: >= 2,000 items/s for MCQ and numeric, >= 200 items/s for symbolic, no item slower than
its timeout. Each kind is timed separately through two warm `Verifier`s side by side in one run:
the old path (`fast_path=False`: every symbolic pair goes to math-verify) and the new one (the
exact algebra subset first), and every item's verdict is compared between the two. Symbolic
scoring is also set beside a plain in-process loop over math-verify's parse + verify (no
isolation). Every symbolic pair is distinct, so the verifier's result cache does not flatter it.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.verify import Verifier, VerifyItem  # noqa: E402
from harness.verify.symbolic_worker import compare_latex, quiet_math_verify  # noqa: E402

TARGETS = {"mcq": 2000.0, "numeric": 2000.0, "symbolic": 200.0}


def mcq_items(n: int, rng: random.Random) -> list[VerifyItem]:
    shapes = ["The answer is ({})", "\\boxed{{{}}}", "**{}**", "Option {}", "{}. because it fits", "Answer: {}"]
    items = []
    for i in range(n):
        gold, said = rng.choice("ABCD"), rng.choice("ABCD")
        thought = " ".join(rng.choice(["look", "the", "figure", "shows", "Hmm", "so"]) for _ in range(60))
        response = f"{thought}</think>\n" + rng.choice(shapes).format(said)
        items.append(VerifyItem(id=f"m{i}", question="Which option?", answer=gold, response=response,
                                choices=["3", "4", "5", "6"]))
    return items


def numeric_items(n: int, rng: random.Random) -> list[VerifyItem]:
    items = []
    for i in range(n):
        gold = rng.randint(1, 10**6)
        said = gold if rng.random() < 0.6 else gold + rng.randint(1, 9)
        shape = rng.choice(["\\boxed{{{:,}}}", "The answer is {} cm.", "So the total is {}", "Answer: {}.0"])
        response = f"we add the parts step by step</think>\n{shape.format(said)}"
        items.append(VerifyItem(id=f"n{i}", question="How many?", answer=str(gold), response=response,
                                answer_type="number"))
    return items


def symbolic_items(n: int, rng: random.Random) -> list[VerifyItem]:
    items = []
    for i in range(n):
        a, b, c = rng.randint(2, 60), rng.randint(2, 60), rng.randint(1, 9)
        kind = i % 4
        if kind == 0:
            gold, said = f"(x+{a})^2", f"x^2+{2 * a}x+{a * a}" if rng.random() < 0.7 else f"x^2+{a}x+{a * a}"
        elif kind == 1:
            gold, said = f"\\frac{{\\sqrt{{{c}}}}}{{{a}}}", f"\\frac{{{b}\\sqrt{{{c}}}}}{{{a * b}}}"
        elif kind == 2:
            gold, said = f"\\left[{a}, {a + b}\\right)", f"[{a},{a + b})"
        else:
            gold, said = f"\\{{{a}, {b}, {a + b + c}\\}}", f"\\{{{a + b + c}, {b}, {a}\\}}"
        items.append(VerifyItem(id=f"s{i}", question="Simplify", answer=gold,
                                response=f"derivation</think>\nThus \\boxed{{{said}}}", answer_type="math"))
    return items


def warm_items(n: int) -> list[VerifyItem]:
    """Pairs outside the algebra subset, so that both paths really start their math-verify workers."""
    return [VerifyItem(id=f"w{i}", question="Simplify", answer="\\sin^2 x + \\cos^2 x",
                       response=f"derivation</think>\\boxed{{{i + 1}}}", answer_type="math") for i in range(n)]


def timed(verifier: Verifier, items: list[VerifyItem]) -> tuple[float, list]:
    start = time.perf_counter()
    verdicts = verifier.score(items)
    return time.perf_counter() - start, verdicts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--baseline", type=int, default=500, help="pairs for the in-process baseline")
    args = parser.parse_args()
    rng = random.Random(0)
    n_mcq, n_num = int(args.n * 0.4), int(args.n * 0.4)
    kinds = {
        "mcq": mcq_items(n_mcq, rng),
        "numeric": numeric_items(n_num, rng),
        "symbolic": symbolic_items(args.n - n_mcq - n_num, rng),
    }
    print(f"{args.n} synthetic predictions: " + ", ".join(f"{k} {len(v)}" for k, v in kinds.items()))
    # Side by side in one run: the same items through the old path (every symbolic pair to
    # math-verify) and the new one (exact algebra fast path first), both with warm workers.
    with Verifier(timeout_s=args.timeout, workers=args.workers, fast_path=False) as old, \
            Verifier(timeout_s=args.timeout, workers=args.workers) as new:
        for name, verifier in (("old", old), ("new", new)):
            start = time.perf_counter()
            verifier.score(warm_items(args.workers))  # starts the workers
            print(f"{name} path: worker start-up (first symbolic batch): {time.perf_counter() - start:.2f} s")
        rates, mismatches, killed_total = {}, 0, 0
        for kind, items in kinds.items():
            results = {}
            for name, verifier in (("old", old), ("new", new)):
                seconds, verdicts = timed(verifier, items)
                results[name] = (len(items) / seconds, verdicts)
                methods = dict(sorted(Counter(v.method for v in verdicts).items()))
                print(f"{kind:9s} {name}  {len(items):6d} items {seconds:7.2f} s {len(items) / seconds:9.0f} items/s  "
                      f"correct {sum(v.correct is True for v in verdicts)}  "
                      f"timeouts {sum(v.method == 'timeout' for v in verdicts)}  methods {methods}")
            rates[kind] = results["new"][0]
            both = [(a, b) for a, b in zip(results["old"][1], results["new"][1])
                    if a.correct is not None and b.correct is not None]
            differ = sum(a.correct != b.correct for a, b in both)
            one_sided = len(items) - len(both)  # undecided (a timeout) on one path
            mismatches += differ
            print(f"{kind:9s} new/old speed {results['new'][0] / results['old'][0]:6.2f}x   "
                  f"target {TARGETS[kind]:6.0f}  new/target {rates[kind] / TARGETS[kind]:5.2f}x   "
                  f"verdicts differing old vs new: {differ} of {len(both)} decided by both "
                  f"({one_sided} undecided on a path)")
        killed_total += old._pool.killed + new._pool.killed
    print(f"verdicts differing between old and new path over all {args.n} items (decided by both): {mismatches}")
    all_items = [it for items in kinds.values() for it in items]
    rng.shuffle(all_items)
    with Verifier(timeout_s=args.timeout, workers=args.workers) as fresh:
        seconds, verdicts = timed(fresh, all_items)
        killed_total += fresh._pool.killed
    print(f"mixed    {len(all_items):6d} items {seconds:7.2f} s {len(all_items) / seconds:9.0f} items/s "
          f"(cold verifier, new path, start-up included)  timeouts {sum(v.method == 'timeout' for v in verdicts)}")
    print(f"workers killed at their {args.timeout:g} s deadline: {killed_total} "
          f"(a killed item stops at its deadline, so none runs longer than it)")

    quiet_math_verify()
    pairs = [(it.answer, it.response.split("\\boxed{", 1)[1][:-1]) for it in kinds["symbolic"][: args.baseline]]
    compare_latex("1", "1")
    start = time.perf_counter()
    for gold, pred in pairs:
        compare_latex(gold, pred)
    baseline = len(pairs) / (time.perf_counter() - start)
    print(f"side by side, symbolic: verifier {rates['symbolic']:.0f} items/s vs in-process math-verify loop "
          f"{baseline:.0f} items/s (one core, no isolation): ratio {rates['symbolic'] / baseline:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
