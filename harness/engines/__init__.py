"""Engines behind one small interface: turn prompts into token sequences, nothing more.

Mode semantics (think tags, bans, budgets) live above this layer, in `harness.engines.generate`, so every
engine means the same thing by `nowait --budget 512 --budget-policy force`. An engine only has to
honour: a per-request seed, a max token count, stop strings (kept in the output), a set of banned
token ids, temperature and top-p.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Protocol

Progress = Callable[[int], None]  # called with the number of requests just finished

ENGINES = ("vllm", "hf", "openai", "ray")


@dataclass
class EngineRequest:
    prompt: str
    seed: int
    max_tokens: int
    images: list[Any] = field(default_factory=list)
    stop: list[str] = field(default_factory=list)


@dataclass
class SamplingSettings:
    temperature: float = 1.0
    top_p: float = 1.0
    banned_token_ids: tuple[int, ...] = ()


@dataclass
class EngineOutput:
    token_ids: list[int]
    text: str
    finish_reason: str  # "stop" (EOS or a stop string) | "length"
    stopped_on: str | None  # the stop string that ended it, if any
    prompt_tokens: int


class Engine(Protocol):
    name: str
    tokenizer: Any
    max_model_len: int

    def generate(self, requests: list[EngineRequest], sampling: SamplingSettings,
                 progress: Progress | None = None) -> list[EngineOutput]: ...

    def close(self) -> None: ...


def create_engine(kind: str, model: str, **options: Any) -> Engine:
    data_parallel_size = int(options.pop("data_parallel_size", 1) or 1)
    if kind == "ray":  # Ray places its own replicas across the cluster
        from harness.engines.ray_executor import RayEngine

        return RayEngine(model, replicas=data_parallel_size, **options)
    if data_parallel_size > 1:
        from harness.engines.data_parallel import DataParallelEngine

        return DataParallelEngine(kind, model, data_parallel_size, **options)
    if kind == "openai":
        from harness.engines.openai_engine import OpenAIEngine

        return OpenAIEngine(model, **options)
    if kind == "vllm":
        from harness.engines.vllm_engine import VLLMEngine

        return VLLMEngine(model, **options)
    if kind == "hf":
        from harness.engines.hf_engine import HFEngine

        return HFEngine(model, **options)
    raise ValueError(f"unknown engine {kind!r}; choose one of {', '.join(ENGINES)}")
