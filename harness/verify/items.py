"""The verifier's input records: one item to check, and how to reach an LLM judge.

`VerifyItem` is deliberately independent of `Sample`/`Generation`: `harness score` reads predictions
from other tools, and the trainer builds items from its own rollouts, so neither path should need a
full benchmark sample to ask "is this response right?".
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from harness.types import ANSWER_TYPES

JUDGE_POLICIES = ("never", "fallback", "union", "always")

_LETTERS = string.ascii_uppercase


@dataclass
class VerifyItem:
    """One response to check against its gold answer.

    `response` is the raw generated text; in thinking modes it usually starts inside the thought
    (the `<think>` opener is part of the prompt), so it looks like "reasoning</think>answer".
    `thinking=False` is the `nothink` mode: the response should carry no think tags at all.
    """

    id: str
    question: str
    answer: str
    response: str
    answer_type: str | None = None  # mcq | number | math | text; None → inferred
    choices: dict[str, str] | list[str] | None = None
    thinking: bool = True

    def __post_init__(self) -> None:
        for name in ("id", "question", "answer", "response"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise TypeError(
                    f"item {self.id!r}: field {name!r} must be a string, got {type(value).__name__}"
                )
        if self.answer_type is not None and self.answer_type not in ANSWER_TYPES:
            raise ValueError(
                f"item {self.id!r}: answer_type {self.answer_type!r} is not one of {ANSWER_TYPES}"
            )
        if self.choices is not None and not isinstance(self.choices, (dict, list)):
            raise TypeError(f"item {self.id!r}: choices must be a list or a letter→text object")


@dataclass
class JudgeConfig:
    """Where the LLM judge lives and how hard to try.

    `policy`: `never` (rules only), `fallback` (judge only what rules cannot decide), `union`
    (rule OR judge, the paper's scoring), `always` (the judge decides every item; rules are kept
    for comparison). `extra_body` is passed through to the server (e.g. structured-output
    constraints on vLLM).
    """

    base_url: str
    model: str
    api_key: str = "EMPTY"
    policy: str = "fallback"
    concurrency: int = 8
    timeout_s: float = 60
    max_retries: int = 3
    cache_dir: str | None = None
    backoff_s: float = 0.5  # first retry delay; doubles per attempt
    max_tokens: int = 1024
    prompt: str = "judge_v2.j2"  # a file in prompts/ (or an absolute path)
    extra_body: dict | None = None

    def __post_init__(self) -> None:
        if self.policy not in JUDGE_POLICIES:
            raise ValueError(f"judge policy {self.policy!r} is not one of {JUDGE_POLICIES}")
        if self.concurrency < 1:
            raise ValueError(f"judge concurrency must be at least 1, got {self.concurrency}")
        if self.max_retries < 0:
            raise ValueError(f"judge max_retries must be >= 0, got {self.max_retries}")
        if self.timeout_s <= 0:
            raise ValueError(f"judge timeout_s must be positive, got {self.timeout_s}")


def normalize_choices(item_id: str, choices: dict[str, str] | list[str] | None) -> dict[str, str]:
    """Choices as an ordered letter → text mapping (a list is lettered A, B, C, ...)."""
    if not choices:
        return {}
    if isinstance(choices, list):
        if len(choices) > len(_LETTERS):
            raise ValueError(f"item {item_id!r}: {len(choices)} choices; at most 26 are supported")
        return {_LETTERS[i]: str(text) for i, text in enumerate(choices)}
    out: dict[str, str] = {}
    for key, text in choices.items():
        letter = str(key).strip().strip("().").upper()
        if len(letter) != 1 or letter not in _LETTERS:
            raise ValueError(f"item {item_id!r}: choice key {key!r} is not an option letter A-Z")
        out[letter] = str(text)
    return out
