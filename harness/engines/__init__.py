"""Engines behind one small interface: a stream of requests in, each output out the moment it finishes.

Mode semantics (think tags, bans, budgets) live above this layer, in `harness.engines.generate`, so every
engine means the same thing by `nowait --budget 512 --budget-policy force`. An engine only has to honour:
a per-request seed, a max token count, stop strings (kept in the output), and the `SamplingSettings`
(temperature, top-p, top-k, min-p, banned token ids).

The interface is `stream(feed, sampling)`: the engine pulls requests from `feed` as it has room for them
(a bounded number in flight) and yields `(tag, output)` for each as soon as it finishes, in completion
order. The consumer may push more requests onto the feed while it iterates (the force policy queues a
request's answer phase the moment its thinking ends); the stream ends when the feed is empty and nothing
is in flight. `generate(requests)` is the same loop collected in input order.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Iterable, Iterator

from harness.config import ENGINES, SamplingSettings

Progress = Callable[[int], None]  # called with the number of requests just finished
ANSWER_PRIORITY = -1  # `EngineRequest.priority` of an answer phase: ahead of every first phase (0)


@dataclass
class EngineRequest:
    prompt: str
    seed: int
    max_tokens: int
    images: list[Any] = field(default_factory=list)
    stop: list[str] = field(default_factory=list)
    # The prompt as token ids, when they are known (an answer phase continues from the very tokens of its
    # thought). An engine that takes token ids feeds these; the others, and every cache key, read `prompt`.
    prompt_ids: list[int] | None = None
    # Lower goes first, as in vLLM's priority scheduling: an answer phase (`ANSWER_PRIORITY`) is taken before
    # the first phases waiting in the engine's own queue, while its thought is still in the prefix cache. It
    # decides no token; an engine without priorities keeps the feed's order (where `push_front` does the same).
    priority: int = 0


@dataclass
class EngineOutput:
    token_ids: list[int]
    text: str
    finish_reason: str  # "stop" (EOS or a stop string) | "length"
    stopped_on: str | None  # the stop string that ended it, if any
    prompt_tokens: int
    # The token ids the engine made of a text prompt, when it can say (None when the request brought its own
    # ids, or when the engine is a server that does not tell).
    prompt_ids: list[int] | None = None
    # How many of the prompt's tokens the engine's prefix cache held (vLLM; None where the engine cannot say).
    cached_tokens: int | None = None


class EngineError(RuntimeError):
    """The engine could not serve a request; the message names the engine and the request."""


class Feed:
    """Requests waiting for an engine. `push_front` puts a request ahead of the queue (a request whose
    first phase is done: finishing it first bounds what is held in flight and gets it to disk sooner)."""

    def __init__(self, items: Iterable[tuple[Hashable, EngineRequest]] = ()) -> None:
        self._queue: deque[tuple[Hashable, EngineRequest]] = deque(items)

    def push(self, tag: Hashable, request: EngineRequest) -> None:
        self._queue.append((tag, request))

    def push_front(self, tag: Hashable, request: EngineRequest) -> None:
        self._queue.appendleft((tag, request))

    def pull(self) -> tuple[Hashable, EngineRequest] | None:
        return self._queue.popleft() if self._queue else None

    def clear(self) -> None:
        self._queue.clear()

    def __len__(self) -> int:
        return len(self._queue)


class PullFeed(Feed):
    """A feed whose requests come from a function (None when it has none): lets a wrapper filter a feed."""

    def __init__(self, pull: Callable[[], tuple[Hashable, EngineRequest] | None]) -> None:
        super().__init__()
        self._source = pull

    def pull(self) -> tuple[Hashable, EngineRequest] | None:
        return super().pull() or self._source()


class Engine:
    """The interface every engine implements: `stream`; `generate` and `close` come with it."""

    name: str = "engine"
    tokenizer: Any = None
    max_model_len: int = 0

    def stream(self, feed: Feed, sampling: SamplingSettings) -> Iterator[tuple[Hashable, EngineOutput]]:
        raise NotImplementedError

    def generate(self, requests: list[EngineRequest], sampling: SamplingSettings,
                 progress: Progress | None = None) -> list[EngineOutput]:
        """Outputs for `requests`, in their order (one stream over all of them)."""
        results: list[EngineOutput | None] = [None] * len(requests)
        for index, output in self.stream(Feed(enumerate(requests)), sampling):
            results[index] = output
            if progress:
                progress(1)
        return [r for r in results if r is not None]

    def close(self) -> None:
        pass


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


__all__ = ["ENGINES", "Engine", "EngineError", "EngineOutput", "EngineRequest", "Feed", "Progress", "PullFeed",
           "SamplingSettings", "create_engine"]
