"""Command line: `python -m train [stage] --config FILE [section.key=value ...]` and `python -m train rank`.

  python -m train --config train/configs/cpu_demo_grpo.yaml            # the stage named in the file
  python -m train sft --config train/configs/cpu_demo_sft.yaml optim.epochs=2
  python -m train rank runs/train/demo/checkpoints/step-* --validation synthetic:arithmetic?n=32&seed=9
  python -m train data "synthetic:arithmetic?n=32&seed=2" --out runs/demo/data/arith.jsonl --benchmark arith

Re-running the same command in the same output_dir resumes from its last checkpoint.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from train.config import STAGES, load_config
from train.errors import SetupError, TrainingDiverged


def run_stage(argv: list[str]) -> int:
    # an optional leading stage name; argparse would otherwise take the first override for it
    stage = argv.pop(0) if argv and argv[0] in STAGES else None
    parser = argparse.ArgumentParser(prog="python -m train [sft|grpo|connector_sft]",
                                     description="Run a training stage from a YAML config.")
    parser.add_argument("--config", required=True, help="YAML file (see train/configs/)")
    parser.add_argument("overrides", nargs="*", help="section.key=value settings applied on top of the file")
    args = parser.parse_args(argv)
    config = load_config(args.config, args.overrides, stage=stage)
    if config.stage == "grpo":
        from train.grpo import run_grpo

        final = run_grpo(config)
    else:
        from train.sft import run_sft

        final = run_sft(config)
    print(f"done: {final}")
    print(f"evaluate it with: harness run --model {final} --bench <benchmark>")
    return 0


def run_rank(argv: list[str]) -> int:
    from train.config import DataConfig
    from train.data import load_items
    from train.entropy import evaluate_checkpoint, write_rank_report

    parser = argparse.ArgumentParser(prog="python -m train rank",
                                     description="Rank checkpoints by critical-token entropy beside validation accuracy.")
    parser.add_argument("checkpoints", nargs="+", type=Path)
    parser.add_argument("--validation", required=True, help="JSONL path or synthetic:<task>?n=..&seed=..")
    parser.add_argument("--samples", type=int, default=4, help="responses per validation prompt")
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--keywords", default="paper", help="harness NoWait preset name or comma-separated keywords")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("checkpoint_ranking.json"))
    parser.add_argument("--trust-remote-code", action="store_true",
                        help="let checkpoints that ship their own Python code run it (only for checkpoints you trust)")
    args = parser.parse_args(argv)
    validation = load_items(args.validation)
    evaluations = [evaluate_checkpoint(path, validation, args.samples, args.max_new_tokens, args.keywords,
                                       DataConfig(), args.seed, trust_remote_code=args.trust_remote_code)
                   for path in args.checkpoints]
    print(write_rank_report(evaluations, args.out))
    print(f"written: {args.out}")
    return 0


def run_data(argv: list[str]) -> int:
    from train.data import load_items, write_benchmark_definition, write_jsonl

    parser = argparse.ArgumentParser(prog="python -m train data",
                                     description="Write a data spec (e.g. a synthetic task) as JSONL rows.")
    parser.add_argument("spec", help="synthetic:<task>?n=..&seed=.. or a JSONL path")
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--benchmark", help="also write <out dir>/<name>.yaml, a harness benchmark over the rows")
    args = parser.parse_args(argv)
    path = write_jsonl(load_items(args.spec), args.out)
    print(f"written: {path}")
    if args.benchmark:
        print(f"written: {write_benchmark_definition(path, args.benchmark)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Exit status: 0 done, 2 something given cannot be used (one line on stderr says what, where and
    what to do), 3 training diverged (the last good checkpoint is kept and named)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = {"rank": run_rank, "data": run_data}.get(argv[0] if argv else "")
    try:
        return command(argv[1:]) if command else run_stage(argv)
    except SetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # an unreadable input or an unwritable output directory; the message names the path
        print(f"error: {error}", file=sys.stderr)
        return 2
    except TrainingDiverged as error:
        print(f"error: training diverged: {error}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
