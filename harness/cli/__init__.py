"""The `harness` command: an explicit table of verbs, one small module each (parsing and printing only).

A verb's module says what the table needs of it: `HELP` (its line in `harness --help`), `configure(parser)` (its
arguments), `main(args)` (the exit status), and the description of `harness VERB --help`: `DESCRIPTION` where it
has one, else the module's docstring."""

from __future__ import annotations

import argparse
import sys

from harness.cli import compare, data, leaderboard, merge, nightly, report, run, score, sweep

VERBS = {
    "run": run,
    "score": score,
    "report": report,
    "compare": compare,
    "leaderboard": leaderboard,
    "nightly": nightly,
    "data": data,
    "sweep": sweep,
    "merge": merge,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="harness",
        description="Evaluate reasoning vision-language models: slow thinking, NoThink, NoWait, token budgets.",
    )
    subparsers = parser.add_subparsers(dest="verb", metavar="VERB")
    for name, module in VERBS.items():
        verb = subparsers.add_parser(name, help=module.HELP, description=getattr(module, "DESCRIPTION", module.__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
        module.configure(verb)
        verb.set_defaults(func=module.main)
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
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"harness {args.verb}: interrupted; what finished is saved (re-run the same command to resume)",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
