"""The sweep's shared-budget engine: answers a request from a longer generation of the same request.

Every (item, sample) has its own seed, so the tokens a request draws do not depend on its max token
count: a request with budget N is exactly the first N tokens of the same request with a larger budget
(same prompt, seed, stop strings and sampling settings -- every field of `SamplingSettings` is part of the
key, so a new sampling setting can never reuse tokens drawn under another value). Misses go to the
wrapped engine's stream and are appended to a JSONL cache as each finishes, so the sharing survives a
restart; hits are answered at once, without the engine.

Requests can also be generated *ahead*, for later runs: with `derive` set, each request that finishes (or
is answered from the cache) may name further requests (a `force` sweep's answers for its smaller budgets,
the moment the largest budget's thought ends); they go to the engine ahead of the feed, with their prompt
still in its prefix cache, and their outputs go to the cache only -- they are not yielded, and are counted
apart (`take_ahead_usage`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Hashable, Iterator

from harness.config import SamplingSettings
from harness.engines import Engine, EngineOutput, EngineRequest, Feed, PullFeed
from harness.rundir import JsonlAppender, read_jsonl

REPLACEMENT_CHAR = "\ufffd"
Derive = Callable[[EngineRequest, EngineOutput], list[EngineRequest]]  # a finished request -> requests to run ahead


class _Ahead:
    """The tag of a request generated ahead: unique, and unlike any tag a consumer pushes."""


@dataclass
class CachedOutput:
    """One engine output and the max token count it was generated with."""

    max_tokens: int
    output: EngineOutput

    def covers(self, max_tokens: int) -> bool:
        """A shorter budget is a prefix; a longer one only if the generation ended by itself."""
        return max_tokens <= self.max_tokens or self.output.finish_reason == "stop"


def stream_text(tokenizer: Any, token_ids: list[int]) -> str:
    """The text an incremental detokenizer (vLLM's) has emitted after `token_ids`.

    It holds back bytes that do not yet form a complete character, so a generation cut in the middle
    of a multi-byte character ends before that character, not with U+FFFD.
    """
    end = len(token_ids)
    while end > 0:
        text = tokenizer.decode(token_ids[:end], skip_special_tokens=False, clean_up_tokenization_spaces=False)
        if not text.endswith(REPLACEMENT_CHAR):
            return text
        end -= 1
    return ""


def truncate_output(output: EngineOutput, max_tokens: int, tokenizer: Any, engine_name: str) -> EngineOutput:
    """`output` as a request with `max_tokens` would have produced it (same prompt, seed and stops)."""
    if len(output.token_ids) <= max_tokens:
        return output
    ids = list(output.token_ids[:max_tokens])
    if engine_name == "hf":  # the transformers engine decodes the whole sequence at once
        text = tokenizer.decode(ids, skip_special_tokens=False, clean_up_tokenization_spaces=False)
    else:
        text = stream_text(tokenizer, ids)
    return EngineOutput(token_ids=ids, text=text, finish_reason="length", stopped_on=None,
                        prompt_tokens=output.prompt_tokens, prompt_ids=output.prompt_ids,
                        cached_tokens=output.cached_tokens)


def request_key(request: EngineRequest, sampling: SamplingSettings) -> str:
    """What decides a generation's tokens, apart from its max token count: every sampling field included, and
    the prompt's token ids where the request brings them (an answer phase continuing from its thought's tokens
    is another request than one continuing from their text)."""
    settings = dataclasses.asdict(sampling)
    settings["banned_token_ids"] = hashlib.sha256(json.dumps(sorted(sampling.banned_token_ids)).encode()).hexdigest()
    images = [hashlib.sha256(image.tobytes()).hexdigest() if hasattr(image, "tobytes") else None
              for image in request.images]
    fields: list[Any] = [request.prompt, request.seed, list(request.stop), images, settings]
    if request.prompt_ids is not None:
        fields.append(hashlib.sha256(json.dumps(request.prompt_ids).encode()).hexdigest())
    payload = json.dumps(fields, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


class SharedBudgetEngine(Engine):
    """An engine that serves each request from a longer generation of the same request when it has one.

    `take_usage()` reports what the wrapped engine really generated since the last call."""

    def __init__(self, engine: Engine, cache_path: Path):
        self.engine = engine
        self.name = engine.name
        self.tokenizer = engine.tokenizer
        self.max_model_len = engine.max_model_len
        self.cache_path = cache_path
        self.entries: dict[str, CachedOutput] = {}
        for row in read_jsonl(cache_path):
            self._remember(row["key"], row["max_tokens"], EngineOutput(**row["output"]))
        self.generated_tokens = self.prompt_tokens = self.shared_tokens = 0
        self.lifetime_generated_tokens = 0
        self.derive: Derive | None = None
        self.ahead_requests = self.ahead_generated_tokens = self.ahead_prompt_tokens = 0

    def _remember(self, key: str, max_tokens: int, output: EngineOutput) -> None:
        known = self.entries.get(key)
        if known is None or max_tokens > known.max_tokens:
            self.entries[key] = CachedOutput(max_tokens, output)

    def stream(self, feed: Feed, sampling: SamplingSettings) -> Iterator[tuple[Hashable, EngineOutput]]:
        hits: deque[tuple[Hashable, EngineOutput]] = deque()
        ahead: deque[tuple[_Ahead, str, EngineRequest]] = deque()
        queued: set[str] = set()  # keys of the requests queued ahead: each is generated once
        misses: dict[Hashable, tuple[str, EngineRequest]] = {}

        def queue_ahead(request: EngineRequest, output: EngineOutput) -> None:
            for extra in self.derive(request, output) if self.derive is not None else ():
                key = request_key(extra, sampling)
                if key not in queued and self._lookup(extra, key) is None:
                    queued.add(key)
                    ahead.append((_Ahead(), key, extra))

        def next_miss() -> tuple[Hashable, EngineRequest] | None:
            while True:
                if ahead:  # ahead of the feed: their prompt (a thought just ended) is in the prefix cache now
                    tag, key, request = ahead.popleft()
                    misses[tag] = (key, request)
                    return tag, request
                item = feed.pull()
                if item is None:
                    return None
                tag, request = item
                key = request_key(request, sampling)
                cached = self._lookup(request, key)
                if cached is None:
                    misses[tag] = (key, request)
                    return item
                self.shared_tokens += len(cached.token_ids)
                hits.append((tag, cached))
                queue_ahead(request, cached)

        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        with JsonlAppender(self.cache_path) as cache:
            while True:
                while hits:
                    yield hits.popleft()
                for tag, output in self.engine.stream(PullFeed(next_miss), sampling):
                    key, request = misses.pop(tag)
                    self._remember(key, request.max_tokens, output)
                    self.lifetime_generated_tokens += len(output.token_ids)
                    cache.append({"key": key, "max_tokens": request.max_tokens, "output": dataclasses.asdict(output)})
                    if isinstance(tag, _Ahead):
                        self.ahead_requests += 1
                        self.ahead_generated_tokens += len(output.token_ids)
                        self.ahead_prompt_tokens += output.prompt_tokens
                        continue
                    self.generated_tokens += len(output.token_ids)
                    self.prompt_tokens += output.prompt_tokens
                    queue_ahead(request, output)
                    yield tag, output
                    while hits:
                        yield hits.popleft()
                if not hits and not ahead and not len(feed):
                    return

    def lookup(self, request: EngineRequest, sampling: SamplingSettings) -> EngineOutput | None:
        """The output for `request` if a generation on hand covers it; nothing is generated or counted."""
        return self._lookup(request, request_key(request, sampling))

    def _lookup(self, request: EngineRequest, key: str) -> EngineOutput | None:
        entry = self.entries.get(key)
        if entry is None or not entry.covers(request.max_tokens):
            return None
        return truncate_output(entry.output, request.max_tokens, self.tokenizer, self.name)

    def take_usage(self) -> dict[str, int]:
        """Tokens the wrapped engine generated, and tokens served from longer generations, since the last call."""
        usage = {"engine_generated_tokens": self.generated_tokens, "engine_prompt_tokens": self.prompt_tokens,
                 "shared_tokens": self.shared_tokens}
        self.generated_tokens = self.prompt_tokens = self.shared_tokens = 0
        return usage

    def take_ahead_usage(self) -> dict[str, int]:
        """Requests generated ahead (`derive`), and their tokens, since the last call."""
        usage = {"requests": self.ahead_requests, "engine_generated_tokens": self.ahead_generated_tokens,
                 "engine_prompt_tokens": self.ahead_prompt_tokens}
        self.ahead_requests = self.ahead_generated_tokens = self.ahead_prompt_tokens = 0
        return usage

    def close(self) -> None:
        self.engine.close()
