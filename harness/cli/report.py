"""`harness report RUN_DIR... [-o report.html]`: write the self-contained HTML report for finished runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.report.drilldown import TEXT_BUDGET_CHARS
from harness.report.report import write_report
from harness.rundir import RunDirError
from harness.metrics.figures import DEFAULT_HALLUCINATION_PHRASES


HELP = "write an HTML report for one or more run directories"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR",
                        help="run directories written by `harness run`, or sweep directories written by `harness sweep`")
    parser.add_argument("-o", "--output", default=None,
                        help="where to write the HTML (default: RUN_DIR/report.html for one run, report.html otherwise)")
    parser.add_argument("--phrase", action="append", dest="phrases", metavar="TEXT",
                        help=f"hallucination phrase to look for in the thinking (repeatable; "
                             f"default: {', '.join(repr(p) for p in DEFAULT_HALLUCINATION_PHRASES)})")
    parser.add_argument("--text-budget", type=int, default=TEXT_BUDGET_CHARS, metavar="CHARS",
                        help="characters of response text to embed in total; long responses are excerpted to fit")


def main(args: argparse.Namespace) -> int:
    output = args.output or (Path(args.run_dirs[0]) / "report.html" if len(args.run_dirs) == 1 else "report.html")
    try:
        path = write_report(args.run_dirs, output, phrases=args.phrases, text_budget_chars=args.text_budget)
    except (RunDirError, OSError) as error:  # OSError: the report cannot be written where asked
        print(f"harness report: {error}", file=sys.stderr)
        return 2
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0
