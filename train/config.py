"""Run configuration: one YAML file of plain settings plus `section.key=value` overrides, type-checked.

No config framework: nested dataclasses with defaults say what every setting is, the YAML file only
states what differs, and a typo (an unknown key, a string where a number belongs) stops the run at
load time with the file and the key named, rather than being silently ignored.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from train.errors import SetupError
from train.freeze import FreezeConfig
from train.loss import LossConfig

STAGES = ("sft", "grpo", "connector_sft")
# transformers.get_scheduler names that step once per update with no further settings (the others need
# a metric or extra arguments this trainer does not pass)
SCHEDULES = ("constant", "constant_with_warmup", "linear", "cosine", "cosine_with_restarts", "polynomial",
             "inverse_sqrt")


@dataclass
class DataConfig:
    """Where examples come from. `train`/`validation` are JSONL paths or `synthetic:<task>?n=..&seed=..`.

    GRPO rows: {"id", "question", "answer", optional "answer_type", "choices", "images"} (the harness's
    prediction fields). SFT rows: the same plus "response" (the target text, thinking included).
    """

    train: str = ""
    validation: str = ""
    system_prompt: str | None = None  # None = the harness's default system prompt
    thinking: bool = True  # the assistant turn opens with <think> (the harness's slow mode)
    max_prompt_tokens: int = 1024


@dataclass
class RolloutConfig:
    """How responses are sampled. The paper: 32 samples per prompt, 1,024 rollouts per episode."""

    engine: str = "hf"  # "hf" (transformers generate) or "vllm" (colocated, GPU)
    samples_per_prompt: int = 8
    prompts_per_step: int = 4
    max_new_tokens: int = 256
    temperature: float = 1.0
    top_p: float = 1.0
    dynamic_sampling: bool = False  # drop zero-variance groups and sample more prompts (DAPO)
    dynamic_sampling_max_rounds: int = 4  # extra sampling rounds per step before training on what there is
    mask_truncated: bool = False  # responses cut at max_new_tokens contribute no loss (DAPO overlong filter)
    vllm_gpu_memory_utilization: float = 0.4
    vllm_sleep_mode: bool = True
    vllm_max_model_len: int = 0  # 0 = prompt + response budget


@dataclass
class RewardConfig:
    """R = eps·accuracy + (1 − eps)·format (eqs. 1–3), scored by the harness's own verifier."""

    eps: float = 0.8


@dataclass
class OptimConfig:
    """Optimizer and schedule. `mini_batch_prompts` < `prompts_per_step` or `epochs_per_batch` > 1 makes
    several optimizer steps per rollout batch — the only case where the ratio clip binds."""

    lr: float = 1e-5
    weight_decay: float = 0.0
    adam_beta1: float = 0.9
    adam_beta2: float = 0.999
    schedule: str = "constant"  # one of SCHEDULES (transformers.get_scheduler names)
    warmup_ratio: float = 0.0
    max_grad_norm: float = 1.0
    steps: int = 100  # GRPO: rollout batches; SFT: ignored in favour of epochs
    epochs: int = 1  # SFT only
    batch_size: int = 8  # SFT: sequences per optimizer step
    mini_batch_prompts: int = 0  # GRPO: 0 = all prompts of the step in one optimizer step
    epochs_per_batch: int = 1
    micro_batch_size: int = 8  # sequences per forward pass (gradient accumulation below this)
    precision: str = "auto"  # "auto" (bf16 on GPU, fp32 on CPU), "bf16", "fp32"
    early_stop_patience: int = 0  # SFT: stop after this many validations without improvement (0 = off)
    eval_every_steps: int = 0  # SFT: validation-loss cadence (0 = once per epoch)


@dataclass
class CheckpointConfig:
    every_steps: int = 50
    keep_last: int = 3  # 0 keeps every checkpoint


@dataclass
class LogConfig:
    tensorboard: bool = False
    progress: bool = True
    critical_entropy_keywords: str = "paper"  # a harness.modes KEYWORD_PRESETS name


@dataclass
class TrainConfig:
    stage: str = "grpo"
    model: str = ""  # a HF model directory, or "smollm2" for the harness's default small model
    # A checkpoint that ships its own Python code (auto_map in config.json) runs that code when loaded:
    # only with this explicit opt-in, passed to every transformers and vLLM load of the run.
    model_trust_remote_code: bool = False
    output_dir: str = "runs/train"
    seed: int = 0
    device: str = "auto"
    data: DataConfig = field(default_factory=DataConfig)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)
    reward: RewardConfig = field(default_factory=RewardConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    freeze: FreezeConfig = field(default_factory=FreezeConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)
    log: LogConfig = field(default_factory=LogConfig)

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"stage {self.stage!r} is not one of {STAGES}")
        if self.rollout.engine not in ("hf", "vllm"):
            raise ValueError(f"rollout.engine {self.rollout.engine!r} is not 'hf' or 'vllm'")
        if self.optim.schedule not in SCHEDULES:
            raise ValueError(f"optim.schedule {self.optim.schedule!r} is not one of {SCHEDULES}")
        if self.optim.precision not in ("auto", "bf16", "fp32"):
            raise ValueError(f"optim.precision {self.optim.precision!r} is not 'auto', 'bf16' or 'fp32'")
        if not 0.0 <= self.reward.eps <= 1.0:
            raise ValueError(f"reward.eps must lie in [0, 1], got {self.reward.eps}")
        if self.rollout.samples_per_prompt < 2 and self.stage == "grpo":
            raise ValueError("rollout.samples_per_prompt must be >= 2: GRPO normalises within a group")
        # counts the loops divide by or step through: a zero would fail deep inside a run, not here
        at_least_one = {
            "rollout.prompts_per_step": self.rollout.prompts_per_step,
            "rollout.max_new_tokens": self.rollout.max_new_tokens,
            "optim.epochs": self.optim.epochs, "optim.batch_size": self.optim.batch_size,
            "optim.micro_batch_size": self.optim.micro_batch_size, "optim.epochs_per_batch": self.optim.epochs_per_batch,
            "checkpoint.every_steps": self.checkpoint.every_steps, "data.max_prompt_tokens": self.data.max_prompt_tokens,
        }
        for name, value in at_least_one.items():
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        not_negative = {"optim.steps": self.optim.steps, "optim.mini_batch_prompts": self.optim.mini_batch_prompts,
                        "checkpoint.keep_last": self.checkpoint.keep_last}
        for name, value in not_negative.items():
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")


def _coerce(value: Any, annotation: Any, where: str) -> Any:
    """Check (and, for overrides given as text, convert) one value against its field's type."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            return None
        return _coerce(value, options[0], where)
    if annotation is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
            return value.lower() in ("true", "1", "yes")
        raise ValueError(f"{where}: expected true/false, got {value!r}")
    if annotation is int:
        if isinstance(value, bool):
            raise ValueError(f"{where}: expected an integer, got {value!r}")
        try:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: expected an integer, got {value!r}") from None
    if annotation is float:
        if isinstance(value, bool):
            raise ValueError(f"{where}: expected a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{where}: expected a number, got {value!r}") from None
    if annotation is str:
        if isinstance(value, (dict, list)):
            raise ValueError(f"{where}: expected text, got {value!r}")
        return str(value)
    return value


def _build(cls: type, values: dict[str, Any], where: str) -> Any:
    if not isinstance(values, dict):
        raise ValueError(f"{where}: expected a mapping of settings, got {values!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"{where}: unknown setting(s) {unknown}; known: {sorted(known)}")
    kwargs = {}
    for name, value in values.items():
        hint = hints[name]
        key = f"{where}.{name}" if where else name
        if dataclasses.is_dataclass(hint):
            kwargs[name] = _build(hint, value, key)
        else:
            kwargs[name] = _coerce(value, hint, key)
    return cls(**kwargs)


def _apply_override(tree: dict[str, Any], override: str) -> None:
    if "=" not in override:
        raise ValueError(f"override {override!r} is not of the form section.key=value")
    dotted, text = override.split("=", 1)
    parts = dotted.strip().split(".")
    node = tree
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ValueError(f"override {override!r}: {part!r} is a setting, not a section")
    # YAML parsing gives numbers and booleans their types; field coercion then checks them.
    try:
        node[parts[-1]] = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        raise ValueError(f"override {override!r}: the value is not valid YAML") from None


def load_config(path: str | Path | None, overrides: list[str] = (), stage: str | None = None) -> TrainConfig:
    """Read a YAML config, apply `key=value` overrides, and return the checked configuration."""
    tree: dict[str, Any] = {}
    source = "overrides"
    if path is not None:
        source = str(path)
        try:
            tree = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise SetupError(f"config file {path} does not exist") from None
        except UnicodeDecodeError:
            raise SetupError(f"config file {path} is not UTF-8 text") from None
        except yaml.YAMLError as error:
            raise SetupError(f"config file {path} is not valid YAML: {_yaml_problem(error)}") from None
        if not isinstance(tree, dict):
            raise SetupError(f"config file {path}: expected a mapping at the top level")
    try:
        for override in overrides:
            _apply_override(tree, override)
    except ValueError as error:
        raise SetupError(str(error)) from None
    if stage is not None:
        tree["stage"] = stage
    try:
        return _build(TrainConfig, tree, "")
    except ValueError as error:
        raise SetupError(f"{source}: {error}") from None


def _yaml_problem(error: yaml.YAMLError) -> str:
    """Where and what, in one line ("line 3, column 5: expected ..."), from the parser's marks."""
    mark, problem = getattr(error, "problem_mark", None), getattr(error, "problem", None)
    if mark is None or problem is None:
        return " ".join(str(error).split())
    return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"


def config_to_dict(config: TrainConfig) -> dict[str, Any]:
    return dataclasses.asdict(config)
