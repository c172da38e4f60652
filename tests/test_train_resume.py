"""Resuming is safe and exact, for GRPO and SFT alike: a run SIGKILLed mid-training and started again
ends with the very weights of an uninterrupted run; a resume with changed settings is refused with each
change named; and a checkpoint's trainer state is tensors and JSON only, so a pickle planted in it is
refused, never run.

The kill tests run `python -m train` as a child process and kill it with a real SIGKILL once it has
written some checkpoints; the kill may land anywhere, mid-step or mid-save."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from train_fixtures import ROOT, error_lines, grpo_settings, sft_settings

from train.__main__ import main
from train.checkpoint import STATE_DIR, list_checkpoints
from train.config import load_config
from train.errors import SetupError
from train.grpo import GRPOTrainer
from train.metrics import read_metrics
from train.sft import run_sft

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def weights(checkpoint: Path) -> dict[str, torch.Tensor]:
    return load_file(str(checkpoint / "model.safetensors"))


# --- a real SIGKILL mid-training ------------------------------------------------------------------


def train_command(stage: str, settings: list[str]) -> list[str]:
    return [sys.executable, "-m", "train", stage, "--config", os.devnull, *settings]


def run_to_the_end(command: list[str], log: Path) -> Path:
    with log.open("w") as handle:
        result = subprocess.run(command, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, timeout=600)
    assert result.returncode == 0, log.read_text()[-3000:]
    done = [line for line in log.read_text().splitlines() if line.startswith("done: ")]
    return Path(done[-1].removeprefix("done: "))


def saved_step(output_dir: Path) -> int:
    """The step of the newest checkpoint, from latest.json (written atomically). Only look: never call
    list_checkpoints() here, which tidies up leftovers the running trainer may be writing."""
    try:
        return json.loads((output_dir / "checkpoints" / "latest.json").read_text())["step"]
    except FileNotFoundError:
        return 0


def kill_after_checkpoints(command: list[str], output_dir: Path, step: int, log: Path) -> None:
    """Start the run and SIGKILL it once it has checkpointed `step` (it must still be running then)."""
    with log.open("w") as handle:
        process = subprocess.Popen(command, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 600
            while saved_step(output_dir) < step:
                assert process.poll() is None, f"the run ended before it could be killed:\n{log.read_text()[-3000:]}"
                assert time.monotonic() < deadline, "no checkpoints appeared"
                time.sleep(0.01)
            assert process.poll() is None, "the run finished before the kill; give it more steps"
            process.send_signal(signal.SIGKILL)
        finally:
            process.wait()
    assert process.returncode == -signal.SIGKILL


@pytest.mark.parametrize("stage, settings, steps", [
    ("grpo", grpo_settings, ["optim.steps=10"]),
    ("sft", sft_settings, ["optim.epochs=2"]),  # 8 batches per epoch: 16 optimizer steps
])
def test_a_run_killed_mid_training_resumes_to_the_weights_of_an_uninterrupted_run(tiny_text_dir, tmp_path, stage,
                                                                                 settings, steps):
    straight = run_to_the_end(train_command(stage, settings(tiny_text_dir, tmp_path / "straight", *steps)),
                              tmp_path / "straight.log")
    interrupted = tmp_path / "interrupted"
    command = train_command(stage, settings(tiny_text_dir, interrupted, *steps))
    kill_after_checkpoints(command, interrupted, 3, tmp_path / "killed.log")
    resumed = run_to_the_end(command, tmp_path / "resumed.log")

    assert resumed.relative_to(interrupted) == straight.relative_to(tmp_path / "straight")
    last_straight, last_resumed = list_checkpoints(tmp_path / "straight")[-1], list_checkpoints(interrupted)[-1]
    assert last_resumed.name == last_straight.name
    for a, b in ((weights(straight), weights(resumed)), (weights(last_straight), weights(last_resumed))):
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    start = weights(tiny_text_dir)
    assert any(not torch.equal(value, start[k]) for k, value in weights(last_resumed).items()), \
        "training should have moved the weights"
    logged = [row["step"] for row in read_metrics(interrupted / "metrics.jsonl") if "loss" in row]
    assert logged == list(range(1, len(logged) + 1)) and logged[-1] in (10, 16)
    assert not list((interrupted / "checkpoints").glob(".tmp-*"))


# --- changed settings are refused, each one named -----------------------------------------------


def test_sft_resume_with_a_changed_setting_is_refused_naming_it(tiny_text_dir, tmp_path):
    run_sft(load_config(None, sft_settings(tiny_text_dir, tmp_path / "run")))
    with pytest.raises(SetupError) as refused:
        run_sft(load_config(None, sft_settings(tiny_text_dir, tmp_path / "run", "optim.lr=0.01",
                                               "optim.schedule=linear")))
    message = str(refused.value)
    assert "optim.lr was 0.003, now 0.01" in message and "optim.schedule was 'cosine', now 'linear'" in message
    assert "new output_dir" in message


def test_sft_resume_with_the_same_settings_and_more_epochs_continues(tiny_text_dir, tmp_path):
    run_sft(load_config(None, sft_settings(tiny_text_dir, tmp_path / "run")))
    final = run_sft(load_config(None, sft_settings(tiny_text_dir, tmp_path / "run", "optim.epochs=2")))
    assert final.name == "best"
    assert [p.name for p in list_checkpoints(tmp_path / "run")][-1] == "step-000016"


@pytest.mark.parametrize("stage, settings", [("sft", sft_settings), ("grpo", grpo_settings)])
def test_the_command_line_refuses_a_changed_resume_in_one_line(tiny_text_dir, tmp_path, capsys, stage, settings):
    assert main([stage, "--config", os.devnull, *settings(tiny_text_dir, tmp_path / "run")]) == 0
    capsys.readouterr()
    assert main([stage, "--config", os.devnull, *settings(tiny_text_dir, tmp_path / "run", "seed=5")]) == 2
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "seed was 0, now 5" in lines[0] and "original settings" in lines[0]


# --- trainer state: tensors and JSON, nothing else unpickled ------------------------------------


@pytest.fixture
def grpo_run(tiny_text_dir, tmp_path) -> Path:
    GRPOTrainer(load_config(None, grpo_settings(tiny_text_dir, tmp_path / "run", "optim.steps=1"))).train()
    return tmp_path / "run"


def test_trainer_state_is_tensors_loaded_weights_only_and_json(grpo_run):
    state = list_checkpoints(grpo_run)[-1] / STATE_DIR
    assert sorted(p.name for p in state.iterdir()) == ["optimizer.pt", "rng.json", "scheduler.json", "state.json",
                                                        "torch_rng.pt"]
    for tensors in ("optimizer.pt", "torch_rng.pt"):
        torch.load(state / tensors, weights_only=True)
    rng = json.loads((state / "rng.json").read_text())
    assert set(rng) == {"python", "numpy"} and len(rng["python"][1]) == 625 and len(rng["numpy"][1]) == 624
    assert json.loads((state / "state.json").read_text())["prompt_cursor"] == 2


class Payload:
    """Unpickling this creates a file: proof that the pickle ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


@pytest.mark.parametrize("planted", ["optimizer.pt", "torch_rng.pt"])
def test_a_pickle_payload_planted_in_trainer_state_is_not_executed(tiny_text_dir, grpo_run, tmp_path, planted, capsys):
    state = list_checkpoints(grpo_run)[-1] / STATE_DIR
    marker = tmp_path / "payload-ran"
    torch.save({"state": Payload(marker), "param_groups": []}, state / planted)
    settings = grpo_settings(tiny_text_dir, grpo_run, "optim.steps=2")
    with pytest.raises(SetupError, match=f"{planted} holds more than tensors.*it was not unpickled"):
        GRPOTrainer(load_config(None, settings))
    assert main(["grpo", "--config", os.devnull, *settings]) == 2
    assert len(error_lines(capsys.readouterr().err)) == 1
    assert not marker.exists()


def test_a_checkpoint_of_the_pickled_format_is_refused_in_one_line(tiny_text_dir, grpo_run, capsys):
    """Checkpoints of the earlier format kept python/numpy RNG states in a pickle (rng.pt) and no format number."""
    state_dir = list_checkpoints(grpo_run)[-1] / STATE_DIR
    state = json.loads((state_dir / "state.json").read_text())
    del state["format"]
    (state_dir / "state.json").write_text(json.dumps(state))
    assert main(["grpo", "--config", os.devnull, *grpo_settings(tiny_text_dir, grpo_run, "optim.steps=2")]) == 2
    lines = error_lines(capsys.readouterr().err)
    assert len(lines) == 1 and "older trainer" in lines[0] and "model=" in lines[0]
