"""MathVista (testmini): per-item answer types, and accuracy per task and per skill.

VLMEvalKit's MathVista TSV keeps the option *text* in `answer` and the letter in `answer_option`
for multiple-choice items, the options as a Python-literal list in `choices`, and `answer_type`
(integer / float / text / list) for free-form ones. `question` already holds MathVista's full query
(hint, question, and the choices written out), so the prompt does not repeat the options.
"""

from __future__ import annotations

from harness.bench.common import accuracy_table, meta_text
from harness.bench.loaders import OPTION_LETTERS, DataError, _as_list
from harness.types import ScoredItem
from harness.types import Sample


def prepare(sample: Sample, row: dict) -> Sample:
    question_type = meta_text(sample, "question_type")
    if question_type == "multi_choice":
        options = [str(option) for option in _as_list(sample.meta.get("choices"))]
        sample.choices = dict(zip(OPTION_LETTERS, options))
        letter = meta_text(sample, "answer_option")
        if not letter:
            letter = next((k for k, v in sample.choices.items() if v.strip() == sample.answer.strip()), "")
        if letter not in sample.choices:
            raise DataError(f"MathVista item {sample.id!r}: answer {sample.answer!r} is not one of its choices")
        sample.answer = letter
        sample.answer_type = "mcq"
    elif question_type == "free_form":
        kind = meta_text(sample, "answer_type")
        sample.answer_type = {"integer": "number", "float": "number", "list": "math"}.get(kind, "text")
    else:
        raise DataError(f"MathVista item {sample.id!r}: question_type {question_type!r} is not multi_choice/free_form")
    return sample


def by_task_and_skill(rows: list[ScoredItem]) -> dict:
    return {
        "by_task": accuracy_table(rows, lambda r: meta_text(r, "task") or None),
        "by_skill": accuracy_table(rows, lambda r: [str(s) for s in _as_list(r.meta.get("skills"))] or None),
    }
