"""`harness compare BASE NEW`: paired per-benchmark comparison; exits 1 on a significant regression.

Exit status: 0 when nothing regressed; 1 with --fail-on-regression when a benchmark dropped by more
than --threshold points with a p-value below --alpha after Holm's adjustment across the benchmarks
compared (so --alpha bounds the chance that an unchanged checkpoint fails); 2 when the runs cannot
be read, or, with --fail-on-regression, when a benchmark of BASE could not be checked in NEW
(different data or definition, no shared items, or missing): a nightly job must not pass on a check
it did not make.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.metrics.compare import compare_runs
from harness.report.compare import to_html, to_markdown
from harness.rundir import RunDirError, load_run


HELP = "compare two runs item by item (nightly regressions)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("base", metavar="BASE", help="the baseline run directory")
    parser.add_argument("new", metavar="NEW", help="the run directory to check")
    parser.add_argument("--fail-on-regression", action="store_true", help="exit 1 on a significant drop")
    parser.add_argument("--threshold", type=float, default=1.0, metavar="PTS",
                        help="a drop must exceed this many accuracy points to count (default 1.0)")
    parser.add_argument("--alpha", type=float, default=0.05, metavar="A",
                        help="family-wise significance level across the benchmarks, Holm-adjusted (default 0.05)")
    parser.add_argument("--html", default=None, metavar="PATH",
                        help="where to write the HTML page (default: NEW/compare.html)")


def main(args: argparse.Namespace) -> int:
    html_path = Path(args.html) if args.html else Path(args.new) / "compare.html"
    try:
        base, new = load_run(args.base), load_run(args.new)
        comparison = compare_runs(base, new, threshold=args.threshold, alpha=args.alpha)
        html_path.write_text(to_html(comparison), encoding="utf-8")
    except (RunDirError, ValueError, OSError) as error:  # OSError: the page cannot be written where asked
        print(f"harness compare: {error}", file=sys.stderr)
        return 2
    print(to_markdown(comparison), end="")
    print(f"wrote {html_path}", file=sys.stderr)
    if not args.fail_on_regression:
        return 0
    return comparison.exit_status()
