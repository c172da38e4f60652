"""The learning demo, end to end on CPU: a tiny model built here, cold-start SFT on noisy additions, then
GRPO with the harness verifier's reward; accuracy before and after is measured by `harness run` on the
trainer's own checkpoints. Also: the same GRPO config runs on SmolLM2-135M (one small step)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tiny_models import build_tiny_text_model

from train.config import load_config
from train.data import load_items, write_benchmark_definition, write_jsonl
from train.grpo import GRPOTrainer
from train.metrics import read_metrics
from train.sft import run_sft

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ROOT / "train" / "configs"
VALIDATION = "synthetic:arithmetic?n=32&seed=2&max_operand=4"


def harness_accuracy(model: Path, data_dir: Path, bench: Path, out: Path) -> float:
    """Avg@4 accuracy (%) from `harness run` with the HF engine, slow mode, 24-token cap."""
    command = [sys.executable, "-m", "harness", "run", "--model", str(model), "--bench", str(bench),
               "--data-dir", str(data_dir), "--engine", "hf", "--samples", "4", "--budget", "24",
               "--mode", "slow", "--out", str(out), "--quiet"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    return float(summary["benchmarks"]["demo_arithmetic"]["accuracy"])


def test_grpo_raises_reward_and_harness_accuracy_after_a_noisy_cold_start(tmp_path):
    model = build_tiny_text_model(tmp_path / "tiny-model")
    sft = run_sft(load_config(CONFIGS / "cpu_demo_sft.yaml", [f"model={model}", f"output_dir={tmp_path / 'sft'}"]))
    data_dir = tmp_path / "data"
    bench = write_benchmark_definition(write_jsonl(load_items(VALIDATION), data_dir / "demo_arithmetic.jsonl"),
                                       "demo_arithmetic")
    before = harness_accuracy(sft, data_dir, bench, tmp_path / "eval-before")

    config = load_config(CONFIGS / "cpu_demo_grpo.yaml", [f"model={sft}", f"output_dir={tmp_path / 'grpo'}"])
    final = GRPOTrainer(config).train()
    after = harness_accuracy(final, data_dir, bench, tmp_path / "eval-after")

    rows = [r for r in read_metrics(tmp_path / "grpo" / "metrics.jsonl") if "reward_mean" in r]
    first, last = rows[:5], rows[-5:]
    reward_first = sum(r["reward_mean"] for r in first) / len(first)
    reward_last = sum(r["reward_mean"] for r in last) / len(last)
    print(f"harness accuracy before GRPO {before:.1f}%, after {after:.1f}%; "
          f"reward first 5 steps {reward_first:.3f}, last 5 steps {reward_last:.3f}")
    assert reward_last > reward_first + 0.1
    assert after > before + 15.0


def test_the_demo_grpo_config_runs_on_smollm2(tmp_path):
    pytest.importorskip("gguf", reason="converting SmolLM2 from its GGUF needs the gguf package")
    config = load_config(CONFIGS / "cpu_demo_grpo.yaml", [
        "model=smollm2", f"output_dir={tmp_path / 'smollm2'}", "optim.steps=1", "rollout.prompts_per_step=1",
        "rollout.samples_per_prompt=2", "rollout.max_new_tokens=8", "optim.lr=1e-6",
    ])
    trainer = GRPOTrainer(config)
    row = trainer.train_step()
    assert row["step"] == 1 and row["response_length"] > 0
    assert row["critical_tokens"] >= 0 and trainer.critical is not None and trainer.critical.token_ids
