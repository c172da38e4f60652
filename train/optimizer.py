"""The optimizer, its learning-rate schedule, and resuming both: one setup every stage runs.

GRPO, cold-start SFT and connector-only SFT all train with AdamW over the trainable parameters and a
`transformers.get_scheduler` schedule, and all resume the same way, so they share `start_optimization`.
A resumed run has to be the run it continues: when the output directory holds a checkpoint whose
settings differ from the config in any way that changes the training, the run is refused, naming
each changed setting with its old and new value. What may change: where output and logs go, the
device, the permission to run a checkpoint's own code, and the run's length (`optim.steps` for GRPO,
`optim.epochs` for the SFT stages), so a finished run can be continued for longer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from train.checkpoint import ResumeState, load_resume_state, load_weights, restore_training_state
from train.config import TrainConfig, config_to_dict
from train.errors import SetupError
from train.freeze import trainable_parameters

_MAY_CHANGE = ("checkpoint", "log", "device", "output_dir", "model_trust_remote_code")
_RUN_LENGTH = {"grpo": "steps", "sft": "epochs", "connector_sft": "epochs"}


def settings_that_must_match(config: TrainConfig) -> dict[str, Any]:
    """The settings a resumed run may not change without mixing incomparable training (as JSON values)."""
    data = config_to_dict(config)
    for name in _MAY_CHANGE:
        data.pop(name, None)
    data["optim"].pop(_RUN_LENGTH[config.stage], None)
    return json.loads(json.dumps(data))


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def changed_settings(saved: dict[str, Any], config: TrainConfig) -> list[str]:
    """"key was OLD, now NEW" for every setting that differs; a setting the saved run predates counts as
    having had its default value."""
    current = _flatten(settings_that_must_match(config))
    defaults = _flatten(settings_that_must_match(TrainConfig(stage=config.stage)))
    before = {**defaults, **_flatten(saved)}
    return [f"{key} was {before.get(key)!r}, now {value!r}" for key, value in current.items()
            if before.get(key) != value]


@dataclass
class Optimization:
    optimizer: torch.optim.Optimizer
    scheduler: Any  # a torch LR scheduler from transformers.get_scheduler
    resume: ResumeState | None  # the checkpoint the run continues from, None for a fresh run


def start_optimization(model: torch.nn.Module, config: TrainConfig, total_updates: int) -> Optimization:
    """AdamW + the configured schedule; when `config.output_dir` holds a checkpoint, check its settings and
    restore its weights (into `model`), optimizer, scheduler and RNG states."""
    optim = config.optim
    optimizer = torch.optim.AdamW(trainable_parameters(model), lr=optim.lr, weight_decay=optim.weight_decay,
                                  betas=(optim.adam_beta1, optim.adam_beta2))
    from transformers import get_scheduler

    scheduler = get_scheduler(optim.schedule, optimizer, num_warmup_steps=int(optim.warmup_ratio * total_updates),
                              num_training_steps=total_updates)
    output_dir = Path(config.output_dir)
    resume = load_resume_state(output_dir)
    if resume is not None:
        changes = changed_settings(resume.state.get("comparable") or {}, config)
        if changes:
            raise SetupError(
                f"{output_dir} holds a run whose settings differ from this config (checkpoint {resume.path.name}): "
                f"{'; '.join(changes)}. Rerun with the original settings to continue that run, or set a new "
                "output_dir to start a fresh one")
        load_weights(model, resume.path)
        restore_training_state(resume.path, optimizer, scheduler)
    return Optimization(optimizer, scheduler, resume)
