"""`harness sweep`: every (mode, budget) of a grid, sharing one generation per mode (see harness.sweep)."""

from __future__ import annotations

import argparse
import sys

from harness.config import ConfigError


HELP = "budgets × modes at about the cost of the largest budget"
DESCRIPTION = "Run each mode at the largest budget once and derive the smaller budgets from it: cap by truncating " \
              "the tokens, force by continuing from the thinking cut. Writes one ordinary run directory per " \
              "(mode, budget) and a sweep.json index."


def configure(parser: argparse.ArgumentParser) -> None:
    from harness.cli.run import add_run_arguments

    parser.add_argument("--modes", default="slow,nothink,nowait", help="comma list of modes (default all three)")
    parser.add_argument("--budgets", default="1024,2048,4096,8192,16384",
                        help="comma list of token budgets (default 1024,...,16384)")
    parser.add_argument("--out", help="sweep directory (default runs/sweep-<model>-<hash>)")
    parser.add_argument("--budget", dest="single_budget", help=argparse.SUPPRESS)  # refused with advice below
    add_run_arguments(parser, skip=("mode", "budget", "out"))


def main(args: argparse.Namespace) -> int:
    from harness.cli.run import config_from_args
    from harness.runner import user_errors
    from harness.sweep import make_plan, run_sweep

    try:
        if args.single_budget is not None:
            raise ConfigError("--budget sets one budget; a sweep takes --budgets N1,N2,...")
        config = config_from_args(args)
        plan = make_plan(config, args.modes, args.budgets, config.budget_policy, args.out)
        run_sweep(plan, progress=not args.quiet, verbose=args.verbose)
    except user_errors() as exc:
        print(f"harness sweep: error: {exc}", file=sys.stderr)
        return 2
    return 0
