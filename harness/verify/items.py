"""The verifier's input records: one item to check, and how to reach an LLM judge.

`VerifyItem` is deliberately independent of `Sample`/`Generation`: `harness score` reads predictions
from other tools, and the trainer builds items from its own rollouts, so neither path should need a
full benchmark sample to ask "is this response right?".
"""

from __future__ import annotations

import math
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from harness.config import JUDGE_POLICIES
from harness.types import ANSWER_TYPES

MAX_PRECISION = 15  # decimal places a float can carry

_LETTERS = string.ascii_uppercase


@dataclass
class VerifyItem:
    """One response to check against its gold answer.

    `response` is the raw generated text; in thinking modes it usually starts inside the thought
    (the `<think>` opener is part of the prompt), so it looks like "reasoning</think>answer".
    `thinking=False` is the `nothink` mode: the response should carry no think tags at all.
    `accepted`: further gold answers that count as correct too (benchmarks that list several, such as
    MMMU's open questions). `precision`: the decimal places a benchmark states for its numeric answers;
    numbers (and numbers inside symbolic answers) are compared rounded to it.

    Construction checks only the Python types (a caller's mistake). Whether the item can be scored at
    all (an empty gold, an MCQ gold that is no option) is the verifier's to report, per item, as
    `method="invalid_item"`, so one bad item never stops a run.
    """

    id: str
    question: str
    answer: str
    response: str
    answer_type: str | None = None  # mcq | number | math | text; None → inferred
    choices: dict[str, str] | list[str] | None = None
    thinking: bool = True
    accepted: tuple[str, ...] = ()
    precision: int | None = None

    def __post_init__(self) -> None:
        for name in ("id", "question", "answer", "response"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise TypeError(
                    f"item {self.id!r}: field {name!r} must be a string, got {type(value).__name__}"
                )
        if isinstance(self.accepted, list):
            self.accepted = tuple(self.accepted)
        if not isinstance(self.accepted, tuple) or not all(isinstance(a, str) for a in self.accepted):
            raise TypeError(f"item {self.id!r}: accepted must be a tuple of strings, got {self.accepted!r}")
        if self.precision is not None and (
            isinstance(self.precision, bool) or not isinstance(self.precision, int)
            or not 0 <= self.precision <= MAX_PRECISION
        ):
            raise ValueError(f"item {self.id!r}: precision must be a whole number of decimal places "
                             f"from 0 to {MAX_PRECISION}, got {self.precision!r}")
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
    api_key: str = field(default="EMPTY", repr=False)  # from the environment; never written anywhere
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


def answer_extras(fields: Mapping[str, Any]) -> dict[str, Any]:
    """`accepted` and `precision` for a VerifyItem from a benchmark item's `meta` (or a predictions
    line): `accepted_answers` (a list of strings or numbers, or one string) and `precision` (decimal
    places: a whole number, also written as 2.0 or "2"; NaN or "" is an empty table cell, no
    precision). Raises ValueError naming what is wrong."""
    extras: dict[str, Any] = {}
    accepted = fields.get("accepted_answers")
    if accepted is not None:
        if isinstance(accepted, str):
            accepted = [accepted]
        if not isinstance(accepted, (list, tuple)) or not all(
                isinstance(a, (str, int, float)) and not isinstance(a, bool) for a in accepted):
            raise ValueError(f"accepted_answers must be a list of strings, got {accepted!r:.200}")
        extras["accepted"] = tuple(str(a) for a in accepted)
    precision = fields.get("precision")
    if isinstance(precision, float) and math.isnan(precision) or precision == "":
        precision = None  # a table's empty cell: this item states no precision
    if precision is not None:
        value = precision
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_PRECISION:
            raise ValueError(f"precision must be a whole number of decimal places from 0 to {MAX_PRECISION}, "
                             f"got {precision!r:.50}")
        extras["precision"] = value
    return extras
