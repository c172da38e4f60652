"""Mode and budget semantics on top of any engine: one place, so every engine means the same thing.

- cap:   one phase, at most `budget` generated tokens; the output is scored as it is (paper Fig. 9).
- force: phase 1 thinks for at most `budget` tokens and stops at `</think>`. If the budget ran out,
         the thought is cut, an optional early-stop phrase and `</think>` are inserted (`forced`), and
         phase 2 generates the answer with its own `answer_budget`. A thought that ended by itself is
         continued into its answer the same way, unforced. Phase 2 continues from phase 1's very token
         ids where the engine takes ids (vLLM, transformers, their data-parallel replicas), and from its
         text where it takes text only (a server, Ray).
Think/answer token counts come from the position of `</think>` in the generated tokens.

Generation streams (`stream_generations`): each job's first request goes to the engine's feed, each
finished generation is handed on at once, and under `force` a job's answer phase is queued the moment its
thinking phase ends -- ahead of jobs not yet started, with the thought as a prefix the engine's prefix
cache already holds -- so no phase waits for another job's. A thought that is to be continued is handed
to `on_thought` as it ends (the runner keeps it in thoughts.jsonl), and a job given its saved thought
starts at its answer phase: a kill between a job's two phases loses neither.
"""

from __future__ import annotations

import hashlib
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Iterator, Mapping

from harness.config import SamplingSettings
from harness.engines import ANSWER_PRIORITY, Engine, EngineOutput, EngineRequest, Feed
from harness.modes import DEFAULT_EARLY_STOP, THINK_CLOSE, think_opened
from harness.types import Generation


@dataclass
class Job:
    """One (benchmark item, sample index) to generate."""

    benchmark: str
    id: str
    sample_index: int
    prompt: str
    seed: int
    images: list[Any] = field(default_factory=list)


@dataclass
class GenerationSettings:
    """What a run asks of every job: the mode, the budget and its policy, and the sampling (bans included)."""

    mode: str = "slow"
    budget: int = 16384
    budget_policy: str = "cap"
    answer_budget: int = 1024
    early_stop: str = DEFAULT_EARLY_STOP
    sampling: SamplingSettings = field(default_factory=SamplingSettings)

    @property
    def forcing(self) -> bool:
        """Two phases per job: budget policy force with an open thought."""
        return self.budget_policy == "force" and think_opened(self.mode)


def sample_seed(base_seed: int, benchmark: str, item_id: str, sample_index: int) -> int:
    """A stable per-(item, sample) seed: the same sample is drawn whatever else is in the batch."""
    digest = hashlib.sha256(f"{base_seed}:{benchmark}:{item_id}:{sample_index}".encode()).hexdigest()
    return int(digest[:8], 16) & 0x7FFFFFFF


_THINK_CLOSE_IDS: "weakref.WeakKeyDictionary[Any, list[int]]" = weakref.WeakKeyDictionary()


def _think_close_ids(tokenizer: Any) -> list[int]:
    """`</think>`'s token ids, once per tokenizer (asked for every generation)."""
    if tokenizer not in _THINK_CLOSE_IDS:
        _THINK_CLOSE_IDS[tokenizer] = tokenizer.encode(THINK_CLOSE, add_special_tokens=False)
    return _THINK_CLOSE_IDS[tokenizer]


def count_think_tokens(token_ids: list[int], text: str, tokenizer: Any) -> int:
    """Tokens up to and including the last `</think>`; all of them when the thought never closed."""
    if THINK_CLOSE not in text:
        return len(token_ids)
    end_ids = _think_close_ids(tokenizer)
    if len(end_ids) == 1 and end_ids[0] in token_ids:
        return len(token_ids) - token_ids[::-1].index(end_ids[0])  # just past the last one
    # `</think>` spans several tokens: find the shortest prefix whose text contains the last one.
    target = text.count(THINK_CLOSE)
    low, high = 1, len(token_ids)
    while low < high:
        mid = (low + high) // 2
        if tokenizer.decode(token_ids[:mid], skip_special_tokens=False).count(THINK_CLOSE) >= target:
            high = mid
        else:
            low = mid + 1
    return low


def phase_one_requests(jobs: list[Job], settings: GenerationSettings) -> list[EngineRequest]:
    """The thinking phase of `force`: at most `budget` tokens, stopping at `</think>`."""
    return [EngineRequest(job.prompt, job.seed, settings.budget, job.images, stop=[THINK_CLOSE]) for job in jobs]


def forcing_text(settings: GenerationSettings) -> str:
    """What closes a thought cut at the budget: the early-stop phrase and `</think>`."""
    return settings.early_stop + THINK_CLOSE + "\n\n"


def continuation(job: Job, first: EngineOutput, settings: GenerationSettings) -> tuple[str, bool] | None:
    """(the thought to continue from, forced?) after phase 1; None when the turn ended inside the thought."""
    if first.stopped_on == THINK_CLOSE or first.text.endswith(THINK_CLOSE):
        return first.text, False
    if first.finish_reason == "length":
        return first.text + forcing_text(settings), True
    return None  # the model ended its turn without closing the thought: all of it was thinking


def continuation_request(job: Job, first: EngineOutput, following: tuple[str, bool], settings: GenerationSettings,
                         tokenizer: Any) -> EngineRequest:
    """The answer phase: the prompt and the (closed) thought, with its own seed and `answer_budget`.

    Where the engine said which tokens it made of the prompt, the request also carries the prompt's and the
    thought's very token ids (and the forcing text's), so the answer continues from the tokens the model
    drew -- not from a re-tokenization of their text, which can split differently -- and the engine's prefix
    cache holds all of it. It goes ahead of the first phases waiting in the engine (`ANSWER_PRIORITY`): behind
    them, a cache smaller than the run (a GPU's at user scale) would have evicted the thought by its turn."""
    thought, forced = following
    ids = None
    if first.prompt_ids is not None:
        ids = list(first.prompt_ids) + list(first.token_ids)
        if forced:
            ids += tokenizer.encode(forcing_text(settings), add_special_tokens=False)
    return EngineRequest(job.prompt + thought, job.seed + 1, settings.answer_budget, job.images, prompt_ids=ids,
                         priority=ANSWER_PRIORITY)


def first_request(job: Job, settings: GenerationSettings) -> EngineRequest:
    """A job's first (or only) engine request."""
    if settings.forcing:
        return phase_one_requests([job], settings)[0]
    return EngineRequest(job.prompt, job.seed, settings.budget, job.images)


class _TimedFeed(Feed):
    """A feed that notes when the engine took each job's first request (its generation's latency runs from there)."""

    def __init__(self) -> None:
        super().__init__()
        self.taken: dict[Hashable, float] = {}

    def pull(self) -> tuple[Hashable, EngineRequest] | None:
        item = super().pull()
        if item is not None:
            self.taken.setdefault(item[0][0], time.perf_counter())
        return item


def job_key(job: Job) -> tuple[str, str, int]:
    """How a job is keyed in a run directory: (benchmark, item id, sample index)."""
    return job.benchmark, job.id, job.sample_index


def thought_row(job: Job, first: EngineOutput) -> dict[str, Any]:
    """A finished thinking phase as one JSON line: all that its answer phase needs to start again."""
    return {"benchmark": job.benchmark, "id": job.id, "sample_index": job.sample_index, "seed": job.seed,
            "text": first.text, "token_ids": first.token_ids, "finish_reason": first.finish_reason,
            "stopped_on": first.stopped_on, "prompt_tokens": first.prompt_tokens, "prompt_ids": first.prompt_ids}


def saved_thought(row: Mapping[str, Any]) -> EngineOutput:
    """The thinking phase that `thought_row` wrote."""
    return EngineOutput(token_ids=list(row["token_ids"]), text=row["text"], finish_reason=row["finish_reason"],
                        stopped_on=row["stopped_on"], prompt_tokens=int(row["prompt_tokens"]),
                        prompt_ids=row["prompt_ids"])


def stream_generations(engine: Engine, jobs: list[Job], settings: GenerationSettings,
                       thoughts: Mapping[tuple[str, str, int], EngineOutput] | None = None,
                       on_thought: Callable[[Job, EngineOutput], None] | None = None
                       ) -> Iterator[tuple[Job, Generation]]:
    """(job, generation) for every job, in the order they finish.

    Under `force`, `on_thought(job, output)` is called with every thinking phase that an answer phase will
    continue, before that answer is queued; a job with an entry in `thoughts` (what such a call was given
    before a kill) goes straight to its answer phase."""
    thinking = think_opened(settings.mode)
    feed = _TimedFeed()
    firsts: dict[int, tuple[EngineOutput, str, bool]] = {}  # jobs whose answer phase is under way
    starting = []
    for index, job in enumerate(jobs):  # answers to saved thoughts first: the oldest work, and the fewest tokens
        saved = thoughts.get(job_key(job)) if thoughts and settings.forcing else None
        following = continuation(job, saved, settings) if saved is not None else None
        if following is not None:
            firsts[index] = (saved, *following)
            feed.push((index, 2), continuation_request(job, saved, following, settings, engine.tokenizer))
        else:
            starting.append(index)
    for index in starting:
        feed.push((index, 1), first_request(jobs[index], settings))
    for (index, phase), output in engine.stream(feed, settings.sampling):
        job = jobs[index]
        if not settings.forcing:
            think = count_think_tokens(output.token_ids, output.text, engine.tokenizer) if thinking else 0
            generation = _generation(job, output.text, output.token_ids, output.finish_reason, False, think,
                                     len(output.token_ids) - think, output.prompt_tokens)
        elif phase == 1:
            following = continuation(job, output, settings)
            if following is not None:
                if on_thought is not None:
                    on_thought(job, output)
                firsts[index] = (output, *following)
                feed.push_front((index, 2), continuation_request(job, output, following, settings, engine.tokenizer))
                continue
            generation = _generation(job, output.text, output.token_ids, output.finish_reason, False,
                                     len(output.token_ids), 0, output.prompt_tokens)
        else:
            first, thought, forced = firsts.pop(index)
            generation = _generation(job, thought + output.text, first.token_ids + output.token_ids,
                                     output.finish_reason, forced, len(first.token_ids), len(output.token_ids),
                                     first.prompt_tokens)
        generation.latency_s = time.perf_counter() - feed.taken.pop(index)
        yield job, generation


def generate(engine: Engine, jobs: list[Job], settings: GenerationSettings) -> list[Generation]:
    """Generations for `jobs`, in their order (the streamed generations collected)."""
    position = {id(job): n for n, job in enumerate(jobs)}
    results: list[Generation | None] = [None] * len(jobs)
    for job, generation in stream_generations(engine, jobs, settings):
        results[position[id(job)]] = generation
    return [r for r in results if r is not None]


def _generation(job: Job, text: str, token_ids: list[int], finish_reason: str, forced: bool,
                think_tokens: int, answer_tokens: int, prompt_tokens: int) -> Generation:
    return Generation(
        id=job.id, sample_index=job.sample_index, text=text, token_ids=token_ids,
        finish_reason=finish_reason, forced=forced, think_tokens=think_tokens, answer_tokens=answer_tokens,
        prompt_tokens=prompt_tokens, seed=job.seed,
    )


def error_generation(job: Job, message: str) -> Generation:
    return Generation(id=job.id, sample_index=job.sample_index, text="", finish_reason="error",
                      seed=job.seed, error=message)


__all__ = ["GenerationSettings", "Job", "count_think_tokens", "error_generation", "first_request", "generate",
           "job_key", "sample_seed", "saved_thought", "stream_generations", "thought_row"]
