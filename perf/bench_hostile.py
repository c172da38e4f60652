"""Worst per-item verification time over a corpus of hostile responses (target: <= 2 s per item).

    python perf/bench_hostile.py [--timeout S] [--workers N] [--json OUT.json]

Every item is scored on its own, `Verifier.score([item])`, through the production `Verifier` at its
default symbolic timeout (unless --timeout says otherwise), after one warm-up comparison has started
the math-verify workers; its wall time covers extraction, the rules, math-verify in the worker pool
and any wait for a worker replaced after a kill. The corpus (`hostile_corpus`) holds the shapes
that have stalled or crashed answer checkers: deep nesting, millions of braces, long digit strings,
huge exponents and factorials, regex bait, 1 MB responses, unicode confusables, lone surrogates, NUL
bytes, unfinished thoughts made of doubtful markers. Prints one line per shape, slowest first, and
the worst time against the target; exits 1 when the target is missed.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.verify import Verifier, VerifyItem  # noqa: E402
from harness.verify.symbolic import DEFAULT_TIMEOUT_S  # noqa: E402

TARGET_S = 2.0
MB = 1_000_000
CHOICES = {"A": "dog", "B": "cat", "C": "horse", "D": "10 cm"}


def _item(name: str, response: str, answer: str = "10", answer_type: str | None = "math",
          thinking: bool = True, **extra) -> tuple[str, VerifyItem]:
    return name, VerifyItem(id=name, question="q", answer=answer, response=response, answer_type=answer_type,
                            thinking=thinking, **extra)


def hostile_corpus() -> list[tuple[str, VerifyItem]]:
    """(shape name, item) for every hostile shape; deterministic."""
    rng = random.Random(0)
    random_unicode = "".join(chr(rng.choice([rng.randrange(0x20, 0xD7FF), rng.randrange(0xE000, 0x10FFFF)]))
                             for _ in range(MB // 4))
    cases = [
        # nesting
        _item("5,000 nested \\boxed{", "r</think>" + "\\boxed{" * 5000 + "10" + "}" * 5000),
        _item("100,000 nested \\boxed{", "r</think>" + "\\boxed{" * 100_000 + "10" + "}" * 100_000),
        _item("nested \\boxed{ with spaces", "r</think>" + "\\boxed{ " * 50_000 + "10" + " }" * 50_000),
        _item("5,000 nested braces in a box", "r</think>\\boxed{" + "{" * 5000 + "1" + "}" * 5000 + "}"),
        _item("1M opening braces", "r</think>" + "{" * MB),
        _item("1M closing braces", "r</think>" + "}" * MB),
        _item("500k braces, balanced", "r</think>\\boxed{" + "{" * 500_000 + "}" * 500_000 + "}"),
        _item("100,000 unclosed boxes", "r</think>" + "\\boxed{" * 100_000, answer_type="number"),
        _item("100,000 complete boxes", "r</think>" + "\\boxed{1}" * 100_000),
        _item("100,000 boxes joined by commas", "r</think>" + "\\boxed{1}, " * 100_000),
        _item("boxes joined by 59 commas", "r</think>" + ("\\boxed{1}" + "," * 59 + "Z") * 20_000),
        _item("boxes joined by 'or' runs", "r</think>" + "\\boxed{1} or " * 80_000 + "\\boxed{2}"),
        _item("300 nested parentheses", "r</think>\\boxed{" + "(" * 300 + "1" + ")" * 300 + "}"),
        _item("300 nested fractions", "r</think>\\boxed{" + "\\frac{1}{" * 150 + "2" + "}" * 150 + "}"),
        _item("200 nested square roots", "r</think>\\boxed{" + "\\sqrt{" * 200 + "2" + "}" * 200 + "}"),
        _item("100,000 \\text{ wrappers", "r</think>\\boxed{" + "\\text{" * 100_000 + "10" + "}" * 100_000 + "}"),
        # numbers
        _item("1M digits", "r</think>" + "1" * MB, answer_type="number"),
        _item("100,000 digits in a box", "r</think>\\boxed{" + "9" * 100_000 + "}", answer_type="number"),
        _item("1,999 digits in a box (math)", "r</think>\\boxed{" + "9" * 1999 + "}"),
        _item("299 digits to the 99999th", "r</think>\\boxed{" + "9" * 299 + "^{99999}}"),
        _item("power tower 10^10^10", "r</think>\\boxed{10^{10^{10}}}"),
        _item("power tower 9^9^9^9", "r</think>\\boxed{9^{9^{9^{9}}}}"),
        _item("2^99999999", "r</think>\\boxed{2^{99999999}}"),
        _item("99999^99999", "r</think>\\boxed{99999^{99999}}"),
        _item("10^100000", "r</think>\\boxed{10^{100000}}"),
        _item("1e999999", "r</think>\\boxed{1e999999}", answer_type="number"),
        _item("factorial 99999!", "r</think>\\boxed{99999!}"),
        _item("factorial of a power (2^99999)!", "r</think>\\boxed{(2^{99999})!}"),
        _item("double factorial chain", "r</think>\\boxed{" + "9" + "!" * 50 + "}"),
        _item("Python power 9**9**9", "r</think>\\boxed{9**9**9}"),
        _item("x^x^x^x", "r</think>\\boxed{x^{x^{x^{x}}}}"),
        _item("integral of e^{-x^100}", "r</think>\\boxed{\\int_0^\\infty e^{-x^{100}} dx}"),
        _item("sum to 10^10", "r</think>\\boxed{\\sum_{n=1}^{10^{10}} n}"),
        _item("15x15 matrix", "r</think>\\boxed{\\begin{pmatrix}" + "\\\\".join(
            " & ".join("1" for _ in range(15)) for _ in range(15)) + "\\end{pmatrix}}"),
        _item("600-term polynomial", "r</think>\\boxed{" + "x+" * 600 + "x}"),
        _item("(a+b+c+d+j+k+m)^12", "r</think>\\boxed{(a+b+c+d+j+k+m)^{12}}", answer="(a+b+c+d+j+k+m)^{12}+1"),
        _item("sqrt of 999999999", "r</think>\\boxed{\\sqrt{999999999}}"),
        _item("0.000...1 (100,000 zeros)", "r</think>\\boxed{0." + "0" * 100_000 + "1}", answer_type="number"),
        _item("1,000 separators", "r</think>" + "1," * 500_000, answer_type="number"),
        _item("fraction chain 1/1/1/...", "r</think>" + "1/" * 500_000, answer_type="number"),
        _item("1M minus signs", "r</think>" + "-" * MB + "5", answer_type="number"),
        # regex bait and markers
        _item("'the answer is ' x 70,000", "r</think>" + "the answer is " * 70_000, answer="x", answer_type="text"),
        _item("'答案是' x 300,000", "r</think>" + "答案是" * 300_000, answer="A", answer_type="mcq"),
        _item("doubtful markers in a cut-off thought", "maybe the answer is B, but " * 40_000, answer="B",
              answer_type="mcq", choices=CHOICES),
        _item("committed marker behind 1 MB of doubt", "Answer: B. " + "perhaps the answer is C? " * 40_000,
              answer="B", answer_type="mcq", choices=CHOICES),
        _item("'Answer: (' x 100,000", "r</think>" + "Answer: (" * 100_000, answer="B", answer_type="mcq",
              choices=CHOICES),
        _item("'(B)' x 300,000", "r</think>" + "(B)" * 300_000, answer="B", answer_type="mcq", choices=CHOICES),
        _item("'Option A Option B' x 50,000", "r</think>" + "Option A Option B " * 50_000, answer="B",
              answer_type="mcq", choices=CHOICES),
        _item("'A or B or ' x 100,000", "r</think>The answer is " + "A or B or " * 100_000, answer="B",
              answer_type="mcq", choices=CHOICES),
        _item("' or ' x 250,000", "r</think>\\boxed{3" + " or " * 250_000 + "5}"),
        _item("'$' x 1M", "r</think>" + "$" * MB),
        _item("'\\(' x 500,000", "r</think>" + "\\(" * 500_000),
        _item("'$$' x 500,000", "r</think>" + "$$" * 500_000),
        _item("'\\[' x 300,000 unclosed", "r</think>" + "\\[" * 300_000 + "1"),
        _item("'$a' x 500,000", "r</think>" + "$a" * 500_000),
        _item("2,000-char \\( in an answer phrase", "r</think>The answer is " + "\\(" * 1000 + " 5 is it"),
        _item("long text answer", "r</think>" + "word " * 200_000, answer="Paris", answer_type="text"),
        _item("long yes/no answer", "r</think>yes " + "or no " * 150_000, answer="yes", answer_type="text"),
        # sizes and characters
        _item("1 MB thought, 1 MB answer", "x" * MB + "</think>" + "y" * MB + " \\boxed{10}"),
        _item("1 MB cut-off thought", "z" * 2 * MB),
        _item("1M NUL bytes", "r</think>" + "\x00" * MB + "\\boxed{10}"),
        _item("lone surrogates", "r</think>" + "\ud800" * 10_000 + "\\boxed{10}\udfff"),
        _item("bidi overrides", "r</think>" + "\u202e" * 100_000 + "\\boxed{10}"),
        _item("zero-width spaces between digits", "r</think>\\boxed{1\u200b0}", answer_type="number"),
        _item("fullwidth look-alike box", "r</think>＼ｂｏｘｅｄ｛１０｝" * 50_000),
        _item("Cyrillic look-alike letter", "r</think>The answer is \u0412", answer="B", answer_type="mcq",
              choices=CHOICES),
        _item("1 MB random unicode", "r</think>" + random_unicode),
        _item("1M newlines", "r</think>" + "\n" * MB + "10"),
        _item("1M dots", "r</think>" + "." * MB),
        _item("'</think>' x 100,000", "r" + "</think>" * 100_000 + "10"),
        _item("'<think>' x 100,000", "<think>" * 100_000 + "10"),
        _item("nothink response of 1M spaces", " " * MB, thinking=False),
        # hostile data, not only hostile output
        _item("1 MB gold answer", "r</think>\\boxed{10}", answer="1" * MB),
        _item("gold with a power tower", "r</think>\\boxed{10}", answer="10^{10^{10}}"),
        _item("100 accepted answers", "r</think>\\boxed{\\frac{d}{dx}x^2}",
              accepted=tuple(f"\\sin^{{{k}}} x + \\cos^{{{k}}} x" for k in range(100))),
        _item("option texts of 100 kB", "r</think>The answer is cat", answer="B", answer_type="mcq",
              choices={"A": "dog " * 25_000, "B": "cat " * 25_000}),
    ]
    return cases


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="symbolic timeout per item")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None, help="also write every shape's time and verdict here")
    args = parser.parse_args()
    corpus = hostile_corpus()
    rows = []
    with Verifier(timeout_s=args.timeout, workers=args.workers) as verifier:
        # Start the workers: a comparison only math-verify decides (outside the exact algebra subset).
        warm = VerifyItem(id="warm", question="q", answer="\\sin^2 x + \\cos^2 x", response="\\boxed{1}",
                          answer_type="math", thinking=False)
        assert verifier.score([warm])[0].method == "math_verify"
        for name, item in corpus:
            start = time.perf_counter()
            verdict = verifier.score([item])[0]
            rows.append({"shape": name, "seconds": time.perf_counter() - start, "method": verdict.method,
                         "correct": verdict.correct, "chars": len(item.response)})
        killed = verifier.workers_killed
    rows.sort(key=lambda r: -r["seconds"])
    for row in rows:
        print(f"{row['seconds']:7.3f} s  {row['method']:<14} {str(row['correct']):<5}  {row['shape']}")
    worst = rows[0]
    print(f"shapes: {len(rows)}; symbolic timeout {args.timeout:g} s; workers killed at their deadline: {killed}")
    print(f"worst per-item time: {worst['seconds']:.3f} s ({worst['shape']}); target {TARGET_S:g} s: "
          f"{'met' if worst['seconds'] <= TARGET_S else 'MISSED'}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0 if worst["seconds"] <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
