"""Mode and budget semantics on top of any engine: one place, so every engine means the same thing.

- cap:   one phase, at most `budget` generated tokens; the output is scored as it is (paper Fig. 9).
- force: phase 1 thinks for at most `budget` tokens and stops at `</think>`. If the budget ran out,
         the thought is cut, an optional early-stop phrase and `</think>` are inserted (`forced`), and
         phase 2 generates the answer with its own `answer_budget`. A thought that ended by itself is
         continued into its answer the same way, unforced.
Think/answer token counts come from the position of `</think>` in the generated tokens.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

from harness.engines import Engine, EngineOutput, EngineRequest, Progress, SamplingSettings
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
    mode: str = "slow"
    budget: int = 16384
    budget_policy: str = "cap"
    answer_budget: int = 1024
    early_stop: str = DEFAULT_EARLY_STOP
    temperature: float = 1.0
    top_p: float = 1.0
    banned_token_ids: tuple[int, ...] = ()

    def sampling(self) -> SamplingSettings:
        return SamplingSettings(self.temperature, self.top_p, self.banned_token_ids)


def sample_seed(base_seed: int, benchmark: str, item_id: str, sample_index: int) -> int:
    """A stable per-(item, sample) seed: the same sample is drawn whatever else is in the batch."""
    digest = hashlib.sha256(f"{base_seed}:{benchmark}:{item_id}:{sample_index}".encode()).hexdigest()
    return int(digest[:8], 16) & 0x7FFFFFFF


def count_think_tokens(token_ids: list[int], text: str, tokenizer: Any) -> int:
    """Tokens up to and including the last `</think>`; all of them when the thought never closed."""
    if THINK_CLOSE not in text:
        return len(token_ids)
    end_ids = tokenizer.encode(THINK_CLOSE, add_special_tokens=False)
    if len(end_ids) == 1:
        positions = [i for i, t in enumerate(token_ids) if t == end_ids[0]]
        if positions:
            return positions[-1] + 1
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


def phases(settings: GenerationSettings) -> int:
    """Engine calls per job: two under budget-policy force with an open thought (think, then answer)."""
    return 2 if settings.budget_policy == "force" and think_opened(settings.mode) else 1


def generate(engine: Engine, jobs: list[Job], settings: GenerationSettings,
             progress: Progress | None = None) -> list[Generation]:
    """Generations for `jobs`, in order, following the mode and budget policy.

    `progress` is called with the number of engine requests finished (`phases()` per job).
    """
    if not jobs:
        return []
    started = time.perf_counter()
    thinking = think_opened(settings.mode)
    sampling = settings.sampling()
    if settings.budget_policy == "force" and thinking:
        results = _generate_forced(engine, jobs, settings, sampling, progress)
    else:
        requests = [EngineRequest(job.prompt, job.seed, settings.budget, job.images) for job in jobs]
        outputs = engine.generate(requests, sampling, progress)
        results = []
        for job, out in zip(jobs, outputs):
            think = count_think_tokens(out.token_ids, out.text, engine.tokenizer) if thinking else 0
            results.append(_generation(job, out.text, out.token_ids, out.finish_reason, False, think,
                                       len(out.token_ids) - think, out.prompt_tokens))
    elapsed = (time.perf_counter() - started) / len(jobs)
    for generation in results:
        generation.latency_s = elapsed
    return results


def phase_one_requests(jobs: list[Job], settings: GenerationSettings) -> list[EngineRequest]:
    """The thinking phase of `force`: at most `budget` tokens, stopping at `</think>`."""
    return [EngineRequest(job.prompt, job.seed, settings.budget, job.images, stop=[THINK_CLOSE]) for job in jobs]


def continuation(job: Job, first: EngineOutput, settings: GenerationSettings) -> tuple[str, bool] | None:
    """(the thought to continue from, forced?) after phase 1; None when the turn ended inside the thought."""
    if first.stopped_on == THINK_CLOSE or first.text.endswith(THINK_CLOSE):
        return first.text, False
    if first.finish_reason == "length":
        return first.text + settings.early_stop + THINK_CLOSE + "\n\n", True
    return None  # the model ended its turn without closing the thought: all of it was thinking


def continuation_request(job: Job, thought: str, settings: GenerationSettings) -> EngineRequest:
    """The answer phase: the prompt and the (closed) thought, with its own seed and `answer_budget`."""
    return EngineRequest(job.prompt + thought, job.seed + 1, settings.answer_budget, job.images)


def _generate_forced(engine: Engine, jobs: list[Job], settings: GenerationSettings,
                     sampling: SamplingSettings, progress: Progress | None) -> list[Generation]:
    phase1 = engine.generate(phase_one_requests(jobs, settings), sampling, progress)
    continued: list[tuple[int, str, bool]] = []  # (job index, thought including the closing tag, forced)
    results: list[Generation | None] = [None] * len(jobs)
    for index, (job, out) in enumerate(zip(jobs, phase1)):
        following = continuation(job, out, settings)
        if following is None:
            results[index] = _generation(job, out.text, out.token_ids, out.finish_reason, False,
                                         len(out.token_ids), 0, out.prompt_tokens)
        else:
            continued.append((index, *following))
    if continued:
        phase2 = engine.generate([continuation_request(jobs[i], thought, settings) for i, thought, _ in continued],
                                 sampling, progress)
        for (index, thought, forced), answer in zip(continued, phase2):
            first = phase1[index]
            results[index] = _generation(
                jobs[index], thought + answer.text, first.token_ids + answer.token_ids, answer.finish_reason,
                forced, len(first.token_ids), len(answer.token_ids), first.prompt_tokens,
            )
    return [r for r in results if r is not None]


def _generation(job: Job, text: str, token_ids: list[int], finish_reason: str, forced: bool,
                think_tokens: int, answer_tokens: int, prompt_tokens: int) -> Generation:
    return Generation(
        id=job.id, sample_index=job.sample_index, text=text, token_ids=list(token_ids),
        finish_reason=finish_reason, forced=forced, think_tokens=think_tokens, answer_tokens=answer_tokens,
        prompt_tokens=prompt_tokens, seed=job.seed,
    )


def error_generation(job: Job, message: str) -> Generation:
    return Generation(id=job.id, sample_index=job.sample_index, text="", finish_reason="error",
                      seed=job.seed, error=message)


__all__ = ["Job", "GenerationSettings", "generate", "sample_seed", "count_think_tokens", "error_generation",
           "EngineOutput"]
