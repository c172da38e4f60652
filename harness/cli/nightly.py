"""`harness nightly --baseline BASE --out NEW [-- RUN_ARGS...]`: run, report, compare, fail on regression.

The recipe of docs/nightly.md as one command: when RUN_ARGS are given it first runs
`harness run RUN_ARGS --out NEW` (resuming if NEW is partly there); it then writes NEW/report.html
(BASE and NEW side by side, with flipped items), NEW/compare.md and NEW/compare.html, and exits like
`harness compare --fail-on-regression`: 0 clean, 1 regression, 2 unreadable or unchecked benchmarks,
3 when the run itself failed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from harness.metrics.compare import compare_runs
from harness.report.compare import to_html, to_markdown
from harness.report.report import write_report
from harness.rundir import RunDirError, load_run

RUN_FAILED = 3


HELP = "run the suite, compare with a baseline, fail on regression"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--baseline", required=True, metavar="BASE", help="the baseline run directory")
    parser.add_argument("--out", required=True, metavar="NEW", help="tonight's run directory")
    parser.add_argument("--threshold", type=float, default=1.0, metavar="PTS", help="drop that counts (default 1.0)")
    parser.add_argument("--alpha", type=float, default=0.05, metavar="A",
                        help="family-wise significance level across the benchmarks, Holm-adjusted (default 0.05)")
    parser.add_argument("run_args", nargs=argparse.REMAINDER, metavar="-- RUN_ARGS",
                        help="arguments for `harness run` (omit to check an existing NEW)")


def run_suite(run_args: list[str], out: str) -> int:
    command = [sys.executable, "-m", "harness", "run", *run_args, "--out", out]
    print("+ " + " ".join(command), file=sys.stderr, flush=True)
    return subprocess.call(command)


def main(args: argparse.Namespace) -> int:
    run_args = [a for a in args.run_args if a != "--"] if args.run_args else []
    if run_args:
        status = run_suite(run_args, args.out)
        if status != 0:
            print(f"harness nightly: `harness run` failed with exit status {status}", file=sys.stderr)
            return RUN_FAILED
    new_dir = Path(args.out)
    try:
        base, new = load_run(args.baseline), load_run(new_dir)
        comparison = compare_runs(base, new, threshold=args.threshold, alpha=args.alpha)
        write_report([args.baseline, new_dir], new_dir / "report.html")
    except (RunDirError, ValueError) as error:
        print(f"harness nightly: {error}", file=sys.stderr)
        return 2
    markdown = to_markdown(comparison)
    (new_dir / "compare.md").write_text(markdown, encoding="utf-8")
    (new_dir / "compare.html").write_text(to_html(comparison), encoding="utf-8")
    print(markdown, end="")
    print(f"wrote {new_dir / 'report.html'}, {new_dir / 'compare.md'}, {new_dir / 'compare.html'}", file=sys.stderr)
    return comparison.exit_status()
