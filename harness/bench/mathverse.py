"""MathVerse: problem versions and subfields from the TSV's `metadata` column.

MathVerse asks each problem in several versions that move information from the text into the
figure; "Vision Only" puts the whole problem, question included, in the image. VLMEvalKit's
`metadata` cell is a Python-literal dict (subject, subfield, and in some releases problem_version);
the loader never evaluates it as code, only as a literal.
"""

from __future__ import annotations

import ast

from harness.bench.common import accuracy_table, meta_text
from harness.bench.loaders import DataError
from harness.types import ScoredItem
from harness.types import Sample


def prepare(sample: Sample, row: dict) -> Sample:
    raw = sample.meta.pop("metadata", None)
    if raw not in (None, ""):
        try:
            parsed = ast.literal_eval(str(raw))
        except (ValueError, SyntaxError) as exc:
            raise DataError(f"MathVerse item {sample.id!r}: metadata {str(raw)[:80]!r} is not a literal dict") from exc
        if not isinstance(parsed, dict):
            raise DataError(f"MathVerse item {sample.id!r}: metadata is a {type(parsed).__name__}, expected a dict")
        for key in ("subject", "subfield", "problem_version", "source"):
            if key in parsed and key not in sample.meta:
                sample.meta[key] = parsed[key]
    sample.subject = str(sample.meta.get("subfield") or sample.subject)
    if str(sample.meta.get("question_type", "")).strip() == "multi-choice":
        sample.answer_type = "mcq"
    return sample


def by_version_and_subfield(rows: list[ScoredItem]) -> dict:
    return {
        "by_problem_version": accuracy_table(rows, lambda r: meta_text(r, "problem_version") or None),
        "by_subfield": accuracy_table(rows, lambda r: meta_text(r, "subfield") or None),
    }
