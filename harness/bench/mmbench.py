"""MMBench circular evaluation: a question counts only if every rotation of its options is right.

VLMEvalKit's MMBench TSVs ship each question once with index i < 1,000,000 and its option
rotations as extra rows with index i + k * 1,000,000 (the options and the answer letter shifted).
A model that guesses, or that prefers a letter, passes one rotation by chance but rarely all of
them; that is the point of the metric, and it is what MMBench's authors report.
"""

from __future__ import annotations

from harness.bench.common import group_accuracy, group_outcomes, item_accuracy, meta_text
from harness.bench.loaders import DataError
from harness.types import ScoredItem
from harness.types import Sample

ROTATION_STRIDE = 1_000_000


def prepare(sample: Sample, row: dict) -> Sample:
    try:
        index = int(float(sample.id))
    except ValueError as exc:
        raise DataError(f"MMBench item {sample.id!r}: index must be an integer for circular grouping") from exc
    sample.meta["circular_group"] = index % ROTATION_STRIDE
    sample.meta["rotation"] = index // ROTATION_STRIDE
    sample.answer_type = "mcq"
    return sample


def _group(row: ScoredItem) -> int:
    if "circular_group" not in row.meta:
        raise ValueError(f"item {row.id!r}: meta has no 'circular_group' (was harness.bench.mmbench:prepare run?)")
    return int(row.meta["circular_group"])


def circular_accuracy(rows: list[ScoredItem]) -> dict:
    """Circular accuracy overall and per category / l2-category, plus the single-pass accuracy."""
    outcomes = group_outcomes(rows, _group)
    first_row: dict[int, ScoredItem] = {}
    for row in rows:
        first_row.setdefault(_group(row), row)

    def table(column: str) -> dict[str, float]:
        names = sorted({meta_text(r, column) for r in first_row.values()} - {""})
        return {
            name: group_accuracy({g: o for g, o in outcomes.items() if meta_text(first_row[g], column) == name})
            for name in names
        }

    main_rows = [row for row in rows if int(row.meta.get("rotation", 0)) == 0]
    return {
        "circular_accuracy": group_accuracy(outcomes),
        "single_pass_accuracy": item_accuracy(main_rows),
        "undecided_groups": float(sum(1 for o in outcomes.values() if o is None)),
        "by_category": table("category"),
        "by_l2_category": table("l2-category"),
    }

