"""The GRPO loop on a tiny local model: checkpoints load as plain HF models, a killed run resumes to the
same weights, NaN stops the run and keeps the last good checkpoint, and each loop option (beta, several
updates per batch, dynamic sampling, truncation masking) changes what it should.

A random tiny model never earns a verifier reward (every group scores 0, so nothing would move), so these
tests score with small fixed rules stated below that give groups reward variance; the verifier-driven
loop is exercised by tests/test_train_learning.py."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from tiny_models import build_tiny_text_model

from train.checkpoint import list_checkpoints
from train.config import load_config
from train.errors import SetupError
from train.grpo import GRPOTrainer, TrainingDiverged
from train.metrics import read_metrics
from harness.verify import RewardRecord

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return build_tiny_text_model(tmp_path_factory.mktemp("grpo") / "model")


def config(model_dir, output_dir, *overrides):
    return load_config(None, [
        f"model={model_dir}", f"output_dir={output_dir}", "data.train=synthetic:arithmetic?n=16&seed=1",
        "rollout.samples_per_prompt=4", "rollout.prompts_per_step=2", "rollout.max_new_tokens=8",
        "optim.lr=1e-2", "optim.steps=2", "checkpoint.every_steps=1", "log.progress=false",
        "log.critical_entropy_keywords=paper", *overrides,
    ])


def weights(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path / "model.safetensors"))


def varied_reward(items, responses):
    """A reward that differs between responses of one group (by text length), so advantages are non-zero."""
    return [RewardRecord(float(len(r) % 3) / 2, 0.0, True) for r in responses]


def test_checkpoint_is_a_plain_hf_model_directory(model_dir, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    last = GRPOTrainer(config(model_dir, tmp_path / "run", "optim.steps=1"), varied_reward).train()
    assert last.name == "step-000001"
    reloaded = AutoModelForCausalLM.from_pretrained(last)
    assert AutoTokenizer.from_pretrained(last).eos_token == "<|im_end|>"
    assert any(not torch.equal(p, weights(model_dir)[n]) for n, p in reloaded.state_dict().items() if n in weights(model_dir))


def test_checkpoint_loads_in_the_harness_engine(model_dir, tmp_path):
    from harness.engines import EngineRequest, SamplingSettings, create_engine

    last = GRPOTrainer(config(model_dir, tmp_path / "run", "optim.steps=1"), varied_reward).train()
    engine = create_engine("hf", str(last))
    output = engine.generate([EngineRequest(prompt="What is 1 + 2?", seed=0, max_tokens=4)], SamplingSettings())
    assert len(output[0].token_ids) >= 1
    engine.close()


def test_a_killed_run_resumes_to_the_same_weights_as_an_uninterrupted_one(model_dir, tmp_path):
    straight = GRPOTrainer(config(model_dir, tmp_path / "straight", "optim.steps=3"), varied_reward).train()
    interrupted = tmp_path / "interrupted"
    GRPOTrainer(config(model_dir, interrupted, "optim.steps=2"), varied_reward).train()
    # a kill in the middle of writing step 3 leaves a temporary folder behind
    (interrupted / "checkpoints" / ".tmp-step-000003").mkdir()
    resumed = GRPOTrainer(config(model_dir, interrupted, "optim.steps=3"), varied_reward)
    assert resumed.step == 2
    final = resumed.train()
    assert not (interrupted / "checkpoints" / ".tmp-step-000003").exists()
    a, b, start = weights(straight), weights(final), weights(model_dir)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], start[k]) for k in a)
    assert [row["step"] for row in read_metrics(interrupted / "metrics.jsonl")] == [1, 2, 3]


def test_resuming_with_different_settings_is_refused_naming_each_with_old_and_new_values(model_dir, tmp_path):
    GRPOTrainer(config(model_dir, tmp_path / "run", "optim.steps=1"), varied_reward).train()
    with pytest.raises(SetupError) as refused:
        GRPOTrainer(config(model_dir, tmp_path / "run", "optim.steps=2", "loss.clip_high=0.3", "optim.lr=0.02"))
    message = str(refused.value)
    assert "loss.clip_high was 0.2, now 0.3" in message and "optim.lr was 0.01, now 0.02" in message
    assert "step-000001" in message and "new output_dir" in message and "\n" not in message
    # the run's length may grow: the same settings with more steps resume
    assert GRPOTrainer(config(model_dir, tmp_path / "run", "optim.steps=2"), varied_reward).step == 1


def test_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(model_dir, tmp_path):
    trainer = GRPOTrainer(config(model_dir, tmp_path / "run", "optim.steps=3"), varied_reward)
    trainer.train_step()
    good = trainer.save()
    before = {k: v.clone() for k, v in trainer.policy.model.state_dict().items()}
    # a broken reward (NaN) makes the advantages, and so the loss, NaN
    trainer.reward_fn = lambda items, responses: [RewardRecord(float("nan"), 0.0, False) for _ in responses]
    with pytest.raises(TrainingDiverged, match=r"step 2: loss is nan; stopped, last good checkpoint: .*step-000001"):
        trainer.train()
    assert list_checkpoints(tmp_path / "run") == [good]
    assert all(torch.equal(before[k], v) for k, v in trainer.policy.model.state_dict().items())
    assert read_metrics(tmp_path / "run" / "metrics.jsonl")[-1]["event"] == "diverged"


def test_one_update_per_rollout_batch_keeps_the_ratio_at_one(model_dir, tmp_path):
    row = GRPOTrainer(config(model_dir, tmp_path / "run")).train_step()
    assert row["ratio_mean"] == 1.0 and row["clip_fraction"] == 0.0 and row["optimizer_steps"] == 1


def test_several_updates_per_rollout_batch_move_the_ratio_and_bind_the_clip(model_dir, tmp_path):
    row = GRPOTrainer(config(model_dir, tmp_path / "run", "optim.epochs_per_batch=3", "optim.lr=5e-2"),
                      varied_reward).train_step()
    assert row["optimizer_steps"] == 3
    assert row["ratio_mean"] != 1.0 and row["clip_fraction"] > 0.0


def test_beta_loads_a_reference_and_puts_kl_into_the_loss(model_dir, tmp_path):
    no_kl = GRPOTrainer(config(model_dir, tmp_path / "a", "optim.mini_batch_prompts=1"), varied_reward)
    with_kl = GRPOTrainer(config(model_dir, tmp_path / "b", "optim.mini_batch_prompts=1", "loss.beta=0.5"), varied_reward)
    assert no_kl.reference is None and with_kl.reference is not None
    assert no_kl.train_step()["kl"] == 0.0
    assert with_kl.train_step()["kl"] > 0.0


def test_critical_token_entropy_is_logged_where_keywords_were_emitted(model_dir, tmp_path):
    row = GRPOTrainer(config(model_dir, tmp_path / "run", "rollout.max_new_tokens=24")).train_step()
    # the tiny model is rigged to say "Wait" / " Hmm" often
    assert row["critical_tokens"] > 0 and 0.0 < row["critical_entropy"] < 10.0


def test_truncation_masking_removes_cut_responses_from_the_loss(model_dir, tmp_path):
    # 2 new tokens: every response is cut, so with masking nothing is left to learn from
    changed = {}
    for name, mask in (("masked", "true"), ("unmasked", "false")):
        trainer = GRPOTrainer(config(model_dir, tmp_path / name, "rollout.max_new_tokens=2",
                                     f"rollout.mask_truncated={mask}"))
        trainer.reward_fn = varied_reward
        before = {k: v.clone() for k, v in trainer.policy.model.state_dict().items()}
        row = trainer.train_step()
        assert row["truncated_fraction"] == 1.0 and row["reward_std"] > 0
        changed[name] = any(not torch.equal(before[k], v) for k, v in trainer.policy.model.state_dict().items())
    assert changed == {"masked": False, "unmasked": True}


def constant_for_even_prompts(items, responses):
    """Prompts with an even answer get the same reward for every response (no signal); odd answers
    reward responses by their length parity, which varies within a group."""
    results = []
    for item, response in zip(items, responses):
        value = 0.5 if int(item.answer) % 2 == 0 else float(len(response) % 2)
        results.append(RewardRecord(value, value, True))
    return results


def test_dynamic_sampling_drops_zero_variance_groups_and_refills(model_dir, tmp_path):
    trainer = GRPOTrainer(config(model_dir, tmp_path / "run", "rollout.dynamic_sampling=true",
                                 "rollout.max_new_tokens=12", "rollout.dynamic_sampling_max_rounds=8"))
    trainer.reward_fn = constant_for_even_prompts
    batch = trainer.collect(__import__("train.metrics", fromlist=["StepTimer"]).StepTimer())
    assert all(int(item.answer) % 2 == 1 for item in batch.items)
    assert batch.zero_variance_groups > 0 and batch.sampled_groups == len(batch.items) + batch.zero_variance_groups
    assert trainer.prompts.cursor == batch.sampled_groups


def test_without_dynamic_sampling_zero_variance_groups_stay_in_the_batch(model_dir, tmp_path):
    trainer = GRPOTrainer(config(model_dir, tmp_path / "run", "rollout.prompts_per_step=6", "rollout.max_new_tokens=12"))
    trainer.reward_fn = constant_for_even_prompts
    from train.metrics import StepTimer

    batch = trainer.collect(StepTimer())
    assert len(batch.items) == 6 and batch.sampled_groups == 6
    assert any(int(item.answer) % 2 == 0 for item in batch.items)
    assert json.dumps(trainer.train_step())  # metrics stay JSON-serialisable


def test_output_dir_records_the_resolved_config(model_dir, tmp_path):
    GRPOTrainer(config(model_dir, tmp_path / "run", "optim.steps=1"))
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["rollout"]["samples_per_prompt"] == 4 and saved["loss"]["aggregation"] == "token_mean"
    shutil.rmtree(tmp_path / "run")
