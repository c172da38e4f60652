"""The `harness` command: one verb per module (`harness.cli_<verb>`), each adding its own subparser."""

from __future__ import annotations

import argparse
import importlib
import sys

VERBS = ("run", "score", "report", "compare", "leaderboard", "nightly", "data", "sweep", "merge")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harness",
        description="Evaluate reasoning vision-language models: slow thinking, NoThink, NoWait, token budgets.",
    )
    subparsers = parser.add_subparsers(dest="verb", metavar="VERB")
    for verb in VERBS:
        try:
            module = importlib.import_module(f"harness.cli_{verb}")
        except ModuleNotFoundError as exc:
            if exc.name == f"harness.cli_{verb}":
                continue  # this verb is not part of this build
            raise
        module.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        if args.verb is None:
            args = parser.parse_args(["run", *(argv if argv is not None else sys.argv[1:])])
        else:
            parser.print_help()
            return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
