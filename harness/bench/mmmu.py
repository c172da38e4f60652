"""MMMU and MMMU-Pro rows: images in tag order, and open questions with several accepted answers.

An MMMU open question may accept more than one answer; VLMEvalKit's MMMU TSV writes them as a
Python-literal list in `answer` ("['24/7', '3.429']"). The list is parsed as a literal, never run;
`Sample.answer` keeps the first (for display) and `meta["accepted_answers"]` holds them all, for the
verifier to accept any. Multiple-choice answers are a letter and pass through unchanged.
"""

from __future__ import annotations

import ast

from harness.bench.placeholders import MMMU_TAG, order_images_by_tags
from harness.types import Sample, infer_answer_type


def accepted_answers(answer: str) -> list[str] | None:
    """The answers a list-literal cell accepts, or None when the cell is a single answer."""
    text = answer.strip()
    if not (text.startswith("[") and text.endswith("]")):
        return None
    try:
        parsed = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None
    if not isinstance(parsed, (list, tuple)) or not parsed:
        return None
    if not all(isinstance(item, (str, int, float)) and not isinstance(item, bool) for item in parsed):
        return None
    return [str(item).strip() for item in parsed]


def prepare(sample: Sample, row: dict) -> Sample:
    accepted = accepted_answers(sample.answer)
    if accepted:
        sample.answer = accepted[0]
        sample.meta["accepted_answers"] = accepted
        sample.answer_type = infer_answer_type(sample.answer, sample.choices)
    return order_images_by_tags(sample, [sample.question, *sample.choices.values()], MMMU_TAG)
