"""WeMath: multi-step problems scored by how the composite answer relates to its one-step parts.

Each problem (column `ID`) has one-step sub-problems (`key` = `2steps_1`, `2steps_2` or `3steps_1`..
`3steps_3`) and the composite problem (`2steps_multi` / `3steps_multi`). The WeMath authors classify
every problem by its sub-problems (S) and the composite (M):

    Insufficient Knowledge (IK):    some S wrong, M wrong
    Inadequate Generalization (IG): all S right,  M wrong
    Complete Mastery (CM):          all S right,  M right   (loose: some S right)
    Rote Memorization (RM):         some S wrong, M right   (loose: all S wrong)

    score = (N - 0.5 * IG - RM - IK) / N        strict uses strict RM, loose uses loose RM

with N the number of problems (525 in the full testmini; here: the problems present and decided,
so a partial run is still scored by the same rule). The paper's WeMath number is the strict score.
"""

from __future__ import annotations

import re
from collections import defaultdict

from harness.bench.common import item_accuracy, meta_text, percent
from harness.bench.loaders import DataError
from harness.types import ScoredItem
from harness.types import Sample

_KEY = re.compile(r"^([23])steps_(\d|multi)$")


def prepare(sample: Sample, row: dict) -> Sample:
    key = meta_text(sample, "key")
    if not _KEY.match(key):
        raise DataError(f"WeMath item {sample.id!r}: column 'key' is {key!r}, expected e.g. '2steps_1' or '3steps_multi'")
    if not meta_text(sample, "ID"):
        raise DataError(f"WeMath item {sample.id!r}: column 'ID' (the problem id shared by its steps) is empty")
    sample.answer_type = "mcq"
    return sample


def _problems(rows: list[ScoredItem]) -> dict[tuple[str, str], dict[str, bool | None]]:
    problems: dict[tuple[str, str], dict[str, bool | None]] = defaultdict(dict)
    for row in rows:
        match = _KEY.match(meta_text(row, "key"))
        if match is None:
            raise ValueError(f"item {row.id!r}: meta 'key' {row.meta.get('key')!r} is not a WeMath step key")
        steps, part = match.groups()
        problems[(steps, meta_text(row, "ID"))][part] = row.correct
    return problems


def scores(rows: list[ScoredItem]) -> dict:
    """Strict and loose scores, the four dimensions, and one/two/three-step accuracies."""
    counts = dict.fromkeys(("IK", "IG", "CM_strict", "CM_loose", "RM_strict", "RM_loose"), 0)
    decided = undecided = 0
    for (steps, _problem_id), parts in _problems(rows).items():
        step_results = [parts.get(str(i)) for i in range(1, int(steps) + 1)]
        multi = parts.get("multi")
        if multi is None or any(result is None for result in step_results):
            # A missing or undecided part leaves the problem unclassifiable; it is counted, not guessed.
            undecided += 1
            continue
        decided += 1
        all_right, any_right = all(step_results), any(step_results)
        if multi:
            counts["CM_strict"] += all_right
            counts["CM_loose"] += any_right
            counts["RM_strict"] += not all_right
            counts["RM_loose"] += not any_right
        else:
            counts["IG"] += all_right
            counts["IK"] += not all_right
    n = decided

    def score(rote: int) -> float:
        return percent(n - 0.5 * counts["IG"] - rote - counts["IK"], n)

    one_step = [r for r in rows if not meta_text(r, "key").endswith("multi")]
    return {
        "score_strict": score(counts["RM_strict"]),
        "score_loose": score(counts["RM_loose"]),
        "insufficient_knowledge": percent(counts["IK"], n),
        "inadequate_generalization": percent(counts["IG"], n),
        "complete_mastery_strict": percent(counts["CM_strict"], n),
        "complete_mastery_loose": percent(counts["CM_loose"], n),
        "rote_memorization_strict": percent(counts["RM_strict"], counts["CM_strict"] + counts["RM_strict"]),
        "rote_memorization_loose": percent(counts["RM_loose"], counts["CM_loose"] + counts["RM_loose"]),
        "one_step_accuracy": item_accuracy(one_step),
        "two_step_accuracy": item_accuracy([r for r in rows if meta_text(r, "key") == "2steps_multi"]),
        "three_step_accuracy": item_accuracy([r for r in rows if meta_text(r, "key") == "3steps_multi"]),
        "problems_scored": float(n),
        "problems_unclassifiable": float(undecided),
    }
