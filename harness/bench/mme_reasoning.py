"""MME-Reasoning: question kinds, and accuracy per reasoning type and capability.

Choice and open questions are scored by the rule verifier. Puzzle items whose upstream scorer is a
dedicated function (`function_id`: sudoku, hashi, 24-points, ...) need that function's checker;
they are marked `rule_scorable: false` in meta and reported as their own table, so their share of
the score is visible rather than mixed in.
"""

from __future__ import annotations

from harness.bench.common import accuracy_table, meta_text
from harness.types import ScoredItem
from harness.types import Sample

_RULE_FUNCTIONS = ("", "choice_function", "open_function", "none", "nan")


def prepare(sample: Sample, row: dict) -> Sample:
    kind = str(sample.meta.get("question_type") or "").strip().lower()
    function_id = str(sample.meta.get("function_id") or "").strip()
    sample.meta["rule_scorable"] = function_id.lower() in _RULE_FUNCTIONS
    answer = sample.answer.strip().upper()
    if kind == "choice" and len(answer) == 1 and answer.isalpha():
        sample.answer = answer
        sample.answer_type = "mcq"
    return sample


def tables(rows: list[ScoredItem]) -> dict:
    return {
        "by_reasoning_type": accuracy_table(rows, lambda r: meta_text(r, "reasoning_type") or None),
        "by_capability": accuracy_table(rows, lambda r: meta_text(r, "capability") or None),
        "by_scoring": accuracy_table(
            rows, lambda r: "rule" if r.meta.get("rule_scorable", True) else "function_checker"),
    }
