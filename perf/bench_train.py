"""GRPO step time and its split (rollout / reward / reference / policy / backward), side by side with TRL.

Usage:
    python perf/bench_train.py --model tiny              # a tiny Qwen2 built locally (seconds)
    python perf/bench_train.py --model smollm2 --steps 2 # SmolLM2-135M-Instruct (the harness default model)
    python perf/bench_train.py --model DIR --trl          # also time TRL's GRPOTrainer on the same batch shape

Both trainers sample the same number of prompts x samples x new tokens from the same model with the same
loss (token-mean, beta 0) and one optimizer step per batch; the ratio printed is ours / TRL per step.
The first step is a warm-up and is not counted. Prints a markdown table for perf/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def model_dir(name: str, workdir: Path) -> str:
    if name == "tiny":
        from tiny_models import build_tiny_text_model

        return str(build_tiny_text_model(workdir / "tiny"))
    return name


def time_ours(model: str, workdir: Path, prompts: int, samples: int, new_tokens: int, steps: int) -> list[dict]:
    from train.config import load_config
    from train.grpo import GRPOTrainer

    config = load_config(None, [
        f"model={model}", f"output_dir={workdir / 'ours'}", "data.train=synthetic:arithmetic?n=64&seed=1",
        f"rollout.samples_per_prompt={samples}", f"rollout.prompts_per_step={prompts}",
        f"rollout.max_new_tokens={new_tokens}", f"optim.steps={steps + 1}", "optim.lr=1e-6",
        f"optim.micro_batch_size={prompts * samples}", "checkpoint.every_steps=100000", "log.progress=false",
        "log.critical_entropy_keywords=paper",
    ])
    trainer = GRPOTrainer(config)
    rows = [trainer.train_step() for _ in range(steps + 1)]
    return rows[1:]


def time_trl(model: str, workdir: Path, prompts: int, samples: int, new_tokens: int, steps: int) -> list[float]:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from train.data import synthetic_arithmetic

    class StepClock(TrainerCallback):
        def __init__(self) -> None:
            self.times: list[float] = []
            self.start = 0.0

        def on_step_begin(self, *args, **kwargs):
            self.start = time.perf_counter()

        def on_step_end(self, *args, **kwargs):
            self.times.append(time.perf_counter() - self.start)

    tokenizer = AutoTokenizer.from_pretrained(model)
    rows = [{"prompt": [{"role": "user", "content": item.question}]} for item in synthetic_arithmetic(64, seed=1)]
    args = GRPOConfig(
        output_dir=str(workdir / "trl"), per_device_train_batch_size=prompts * samples, num_generations=samples,
        max_completion_length=new_tokens, loss_type="bnpo", beta=0.0, learning_rate=1e-6, max_steps=steps + 1,
        report_to="none", use_cpu=not torch.cuda.is_available(), bf16=torch.cuda.is_available(), logging_steps=1000,
        save_strategy="no", temperature=1.0,
    )
    clock = StepClock()
    trainer = GRPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(model, dtype=torch.float32), processing_class=tokenizer,
        reward_funcs=[lambda completions, **_: [float(len(str(c)) % 2) for c in completions]],
        args=args, train_dataset=Dataset.from_list(rows), callbacks=[clock],
    )
    trainer.train()
    return clock.times[1:]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny", help="'tiny', 'smollm2', or a model directory")
    parser.add_argument("--prompts", type=int, default=4)
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--trl", action="store_true", help="also time TRL on the same batch shape")
    args = parser.parse_args()
    import torch

    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        model = model_dir(args.model, workdir)
        if args.model == "smollm2":
            from train.policy import resolve_model_path

            model = str(resolve_model_path("smollm2"))
        rows = time_ours(model, workdir, args.prompts, args.samples, args.new_tokens, args.steps)
        trl_times = time_trl(model, workdir, args.prompts, args.samples, args.new_tokens, args.steps) if args.trl else []
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"CPU ({os.cpu_count()} cores)"
    phases = ["rollout", "reward", "reference", "policy", "backward", "sync"]
    step = statistics.mean(r["time_step"] for r in rows)
    print(f"model={args.model} device={device} batch={args.prompts} prompts x {args.samples} samples x "
          f"{args.new_tokens} new tokens, {args.steps} timed steps (after 1 warm-up)")
    print("| phase | seconds/step | share |")
    print("|---|---:|---:|")
    for phase in phases:
        value = statistics.mean(r.get(f"time_{phase}", 0.0) for r in rows)
        print(f"| {phase} | {value:.3f} | {value / step:.0%} |")
    print(f"| **step** | **{step:.3f}** | 100% |")
    mean_length = statistics.mean(r.get("response_length", 0) for r in rows)
    print(f"mean response length {mean_length:.1f} tokens")
    if trl_times:
        trl_step = statistics.mean(trl_times)
        print(f"TRL GRPOTrainer step: {trl_step:.3f} s; ours / TRL = {step / trl_step:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
