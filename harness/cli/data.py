"""`harness data list` and `harness data fetch NAME... [--data-dir DIR]`: see and obtain benchmark files.

`list` shows every registered benchmark with its file, checksum and whether the file is in the data
directory; `fetch` downloads and verifies (see harness.bench.fetch), or says how to place a file by hand.
The exit status is non-zero if any requested benchmark could not be made present and verified.
"""

from __future__ import annotations

import argparse
import sys

from harness.bench.spec import BenchmarkError, get_spec, registry, resolve_data_dir
from harness.bench.fetch import FetchError, data_status, expected_checksum, fetch_benchmark


HELP = "list and fetch benchmark data files"


def configure(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="data_command", required=True)
    listing = actions.add_parser("list", help="show all benchmarks and whether their data is present")
    listing.add_argument("--data-dir", default=None, help="data directory (default: $HARNESS_DATA_DIR or "
                                                          "~/.cache/harness/data)")
    fetch = actions.add_parser("fetch", help="download and verify benchmark data files")
    fetch.add_argument("names", nargs="*", metavar="NAME", help="benchmark names (see `harness data list`)")
    fetch.add_argument("--all", action="store_true", help="fetch every benchmark that has a download URL")
    fetch.add_argument("--data-dir", default=None, help="where to put the files")
    fetch.add_argument("--force", action="store_true", help="download again even if a file is in place")
    fetch.add_argument("--timeout", type=float, default=60.0, help="seconds without data before giving up")


def main(args: argparse.Namespace) -> int:
    if args.data_command == "list":
        return _list(args)
    return _fetch(args)


def _list(args: argparse.Namespace) -> int:
    data_dir = resolve_data_dir(args.data_dir)
    rows = [("NAME", "GROUP", "FILE", "CHECKSUM", "DATA", "R1V3")]
    for name, spec in sorted(registry().items(), key=lambda item: (item[1].group, item[0])):
        checksum = expected_checksum(spec)
        reported = spec.reported.get("skywork_r1v3")
        shared = [v for k, v in spec.reported.items() if k.startswith("skywork_r1v3_")]
        rows.append((
            name, spec.group, spec.source.file or f"(built in: {spec.source.generator})",
            f"{checksum[0]}:{checksum[1][:12]}" if checksum else "-",
            data_status(spec, data_dir),
            f"{reported:.1f}" if reported is not None else (f"{shared[0]:.1f}*" if shared else "-"),
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    print(f"\ndata directory: {data_dir}")
    print("R1V3: the Skywork-R1V3 report's Table 1; * one number shared by several definitions "
          "(MMMU-Pro: the mean of its standard and vision settings)")
    return 0


def _fetch(args: argparse.Namespace) -> int:
    if args.all and args.names:
        print("harness data: error: give benchmark names or --all, not both", file=sys.stderr)
        return 2
    try:
        specs = ([spec for spec in registry().values() if spec.source.url] if args.all
                 else [get_spec(name) for name in args.names])
    except BenchmarkError as exc:
        print(f"harness data: error: {exc}", file=sys.stderr)
        return 2
    if not specs:
        print("harness data: error: name at least one benchmark (see `harness data list`) or pass --all",
              file=sys.stderr)
        return 2
    failures = 0
    for spec in specs:
        try:
            result = fetch_benchmark(spec, args.data_dir, force=args.force, timeout_s=args.timeout)
        except FetchError as exc:
            failures += 1
            print(f"FAILED {spec.name}: {exc}", file=sys.stderr)
            continue
        if result.status == "builtin":
            print(f"{spec.name}: built in, nothing to fetch")
        elif result.verified:
            print(f"{spec.name}: {result.status} and verified ({result.algorithm} {result.digest}) at {result.path}")
        else:
            print(f"{spec.name}: {result.status} at {result.path}; the source publishes no checksum, "
                  f"so it is unverified (sha256 {result.digest})")
    return 1 if failures else 0
