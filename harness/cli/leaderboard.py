"""`harness leaderboard RUN_DIR... --format md|csv|tex|html`: the paper's Table 1 from measured runs.

`--reference FILE` merges published numbers (e.g. reports/reference/r1v3_table1.yaml, the paper's own
Table 1) as extra columns, labelled as reported rather than measured.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.report.leaderboard import FORMATS, ReferenceFileError, build_leaderboard, load_reference, render_format
from harness.rundir import RunDirError, load_run


HELP = "Table 1: benchmarks by group, one column per model"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dirs", nargs="*", metavar="RUN_DIR", help="run directories written by `harness run`")
    parser.add_argument("--format", choices=FORMATS, default="md", help="output format (default md)")
    parser.add_argument("--reference", metavar="YAML", help="published numbers to show beside the measured ones")
    parser.add_argument("-o", "--output", metavar="PATH", help="write here instead of stdout")


def main(args: argparse.Namespace) -> int:
    if not args.run_dirs and not args.reference:
        print("harness leaderboard: give at least one RUN_DIR or --reference", file=sys.stderr)
        return 2
    try:
        reference = load_reference(args.reference) if args.reference else None
        board = build_leaderboard([load_run(path) for path in args.run_dirs], reference)
        text = render_format(board, args.format)
        if args.output:
            Path(args.output).write_text(text, encoding="utf-8")
    except (RunDirError, ReferenceFileError, ValueError, OSError) as error:
        print(f"harness leaderboard: {error}", file=sys.stderr)
        return 2
    if args.output:
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
