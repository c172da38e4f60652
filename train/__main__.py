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


def run_stage(argv: list[str]) -> int:
    # an optional leading stage name; argparse would otherwise take the first override for it
    stage = argv.pop(0) if argv and argv[0] in STAGES else None
    parser = argparse.ArgumentParser(prog="python -m train [sft|grpo|connector_sft]",
                                     description="Run a training stage from a YAML config.")
    parser.add_argument("--config", required=True, help="YAML file (see train/configs/)")
    parser.add_argument("overrides", nargs="*", help="section.key=value settings applied on top of the file")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config, args.overrides, stage=stage)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if config.stage == "grpo":
        from train.grpo import TrainingDiverged, run_grpo

        try:
            final = run_grpo(config)
        except TrainingDiverged as error:
            print(f"error: training diverged: {error}", file=sys.stderr)
            return 3
    else:
        from train.sft import TrainingDivergedSFT, run_sft

        try:
            final = run_sft(config)
        except TrainingDivergedSFT as error:
            print(f"error: training diverged: {error}", file=sys.stderr)
            return 3
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
    args = parser.parse_args(argv)
    validation = load_items(args.validation)
    evaluations = [evaluate_checkpoint(path, validation, args.samples, args.max_new_tokens, args.keywords,
                                       DataConfig(), args.seed) for path in args.checkpoints]
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
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "rank":
        return run_rank(argv[1:])
    if argv and argv[0] == "data":
        return run_data(argv[1:])
    return run_stage(argv)


if __name__ == "__main__":
    sys.exit(main())
