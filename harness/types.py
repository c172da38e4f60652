"""The records that travel through the harness: what we ask, what the model said, what we judged.

They are plain dataclasses so that every stage (loaders, engines, verifier, metrics, report, trainer)
shares one vocabulary, and so that each serialises to one JSON line without custom encoders.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ANSWER_TYPES = ("mcq", "number", "math", "text")

_LETTER_GOLD = re.compile(r"^\s*[(\[]?\s*([A-Z])\s*[)\].:]?\s*$")
_PLAIN_NUMBER = re.compile(r"^\s*[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:[eE][-+]?\d+)?\s*%?\s*$")
_MATHY = re.compile(r"[\\^_=<>]|\d\s*[-+*/]\s*\d|[{}()\[\]]|\bsqrt\b|\bpi\b")


def infer_answer_type(answer: str, choices: Mapping[str, str] | list[str] | None = None) -> str:
    """The answer type of a gold answer whose data does not state one; the one rule every reader uses.

    Options given -> mcq (a gold that is neither one of their letters nor one of their texts is then a
    malformed item, which the verifier reports as such rather than scoring it as some other type; a
    benchmark whose gold names several options, such as "AC", types its items itself). A bare option
    letter ("B", "(B)", "B.") -> mcq even without options: benchmarks that print the options inside the
    question or the image give no option columns. Then: a plain number -> number; anything with LaTeX,
    operators, brackets, `sqrt` or `pi` -> math; otherwise text.
    """
    if choices:
        return "mcq"
    if _LETTER_GOLD.match(answer) and len(answer.strip()) <= 3:
        return "mcq"
    if _PLAIN_NUMBER.match(answer) and any(ch.isdigit() for ch in answer):
        return "number"
    if _MATHY.search(answer):
        return "math"
    return "text"


@dataclass
class Sample:
    """One benchmark item.

    `images` holds PIL images (decoded lazily by loaders where possible); `choices` maps option
    letters to option text, in order ("A" → "..."); `meta` carries subject/category and any
    benchmark-specific fields a metric needs (e.g. HallusionBench figure ids).
    """

    id: str
    question: str
    answer: str
    answer_type: str = "text"
    choices: dict[str, str] = field(default_factory=dict)
    images: list[Any] = field(default_factory=list)
    subject: str = ""
    meta: dict[str, Any] = field(default_factory=dict)
    error: str | None = None  # set by a loader when the item cannot be used (e.g. corrupt image)

    def __post_init__(self) -> None:
        if self.answer_type not in ANSWER_TYPES:
            raise ValueError(
                f"item {self.id!r}: answer_type {self.answer_type!r} is not one of {ANSWER_TYPES}"
            )


@dataclass
class Generation:
    """One sampled response for one item, with the accounting every report needs."""

    id: str  # the Sample id
    sample_index: int  # 0..K-1 within --samples K
    text: str
    token_ids: list[int] = field(default_factory=list)
    finish_reason: str = "stop"  # "stop" | "length" | "error"
    forced: bool = False  # budget-policy force cut the thinking and inserted </think>
    think_tokens: int = 0
    answer_tokens: int = 0
    prompt_tokens: int = 0
    seed: int | None = None
    latency_s: float = 0.0
    error: str | None = None  # set when the item could not be generated (never scored as wrong)

    def to_json(self) -> dict[str, Any]:
        # Shallow: asdict deep-copies every token id list, which costs more than writing the line.
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Generation":
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


@dataclass
class Verdict:
    """The verifier's decision on one response.

    `correct` is None when nothing could decide (a judge error, a verification timeout): such items
    are reported separately, never silently counted as wrong or right. A response with no extractable
    answer is wrong (`method` "no_answer"): otherwise a truncated run would look better than it is.
    `method` names the stage that decided: e.g. "mcq", "numeric", "algebra", "math_verify", "string",
    "judge", "no_answer", "hedge", "invalid_item", "judge_error", "timeout", "error" (docs/scoring.md
    lists them all). `finished` says whether the response's thought closed (None in a mode without a
    thought); `detail` says why, where the method alone does not (an invalid item's reason, a hedge's
    alternatives, a symbolic check's failure).
    """

    extracted: str | None
    correct: bool | None
    method: str
    format_ok: bool
    rule_correct: bool | None = None
    judge_correct: bool | None = None
    judge_rationale: str | None = None
    finished: bool | None = None
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        # Shallow, as Generation's.
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Verdict":
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)


@dataclass
class ScoredItem:
    """One item of one sample run, as a metric function sees it."""

    id: str
    sample_index: int
    answer: str
    answer_type: str
    correct: bool | None
    extracted: str | None = None
    method: str = ""
    format_ok: bool = True
    subject: str = ""
    choices: dict[str, str] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
