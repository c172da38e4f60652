"""`harness merge`: join the run directories of `--shard 0/N … N-1/N` into the one run they split.

Cluster schedulers run each shard as its own job; merging checks that the shards are one run (the same
comparable settings, model, data, template and bans; every index once; each shard complete), then writes
a run directory in which items and generations are back in benchmark order, and scores it
(harness.runner.merge). The result is what an unsharded `harness run` would have written: the same command
without `--shard` resumes it and finds nothing to do.
"""

from __future__ import annotations

import argparse
import sys


HELP = "join the run directories of --shard i/N runs"
DESCRIPTION = "Check that the directories are the complete shards of one run, then write and score the merged run " \
              "directory."


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shards", nargs="+", help="the shard run directories (any order)")
    parser.add_argument("--out", required=True, help="the merged run directory to create")


def main(args: argparse.Namespace) -> int:
    from harness.runner import merge, user_errors

    try:
        path = merge(args.shards, args.out)
    except user_errors() as exc:
        print(f"harness merge: error: {exc}", file=sys.stderr)
        return 2
    print(f"merged {len(args.shards)} shards into {path}", file=sys.stderr)
    return 0
