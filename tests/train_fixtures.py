"""Settings for short trainer runs on the tiny model, shared by the trainer's command-line and resume tests."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def grpo_settings(model_dir: Path, output_dir: Path, *overrides: str) -> list[str]:
    """Two GRPO steps of 2 prompts x 4 samples x 8 tokens, a checkpoint after each."""
    return ["stage=grpo", f"model={model_dir}", f"output_dir={output_dir}",
            "data.train=synthetic:arithmetic?n=16&seed=1", "rollout.samples_per_prompt=4",
            "rollout.prompts_per_step=2", "rollout.max_new_tokens=8", "optim.lr=1e-2", "optim.steps=2",
            "checkpoint.every_steps=1", "log.progress=false", *overrides]


def sft_settings(model_dir: Path, output_dir: Path, *overrides: str) -> list[str]:
    """One SFT epoch of 8 batches (cosine schedule with warmup), validation every 2, a checkpoint after each."""
    return ["stage=sft", f"model={model_dir}", f"output_dir={output_dir}",
            "data.train=synthetic:arithmetic?n=32&seed=1", "data.validation=synthetic:arithmetic?n=8&seed=2",
            "optim.lr=3e-3", "optim.schedule=cosine", "optim.warmup_ratio=0.1", "optim.batch_size=4",
            "optim.micro_batch_size=4", "optim.epochs=1", "optim.eval_every_steps=2", "checkpoint.every_steps=1",
            "checkpoint.keep_last=2", "log.progress=false", *overrides]


SETTINGS = {"grpo": grpo_settings, "sft": sft_settings}


def error_lines(captured: str) -> list[str]:
    """The `error:` lines of a command's stderr (libraries may print progress bars around them)."""
    return [line for line in captured.splitlines() if line.startswith("error:")]
