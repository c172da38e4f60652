"""Small helpers every benchmark metric shares: percentages, per-category tables, all-correct groups.

Undecided items (`correct is None`: no extractable answer and no judge) are neither right nor wrong:
per-item accuracies leave them out of the denominator, and a group (a HallusionBench question pair,
an MMBench circular group, a WeMath problem) that contains one and no wrong item is left out too.
Each metric reports how many it left out, so nothing disappears silently.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Callable, Hashable, Iterable

from harness.types import ScoredItem
from harness.types import Sample


def percent(numerator: float, denominator: float) -> float:
    return 100.0 * numerator / denominator if denominator else 0.0


def item_accuracy(rows: Iterable[ScoredItem]) -> float:
    decided = [row for row in rows if row.correct is not None]
    return percent(sum(1 for row in decided if row.correct), len(decided))


def accuracy_table(rows: Iterable[ScoredItem],
                   key: Callable[[ScoredItem], str | list[str] | None]) -> dict[str, float]:
    """Accuracy per category; `key` may give several categories (an item counts in each) or None."""
    buckets: dict[str, list[ScoredItem]] = defaultdict(list)
    for row in rows:
        keys = key(row)
        if keys is None:
            continue
        for name in ([keys] if isinstance(keys, str) else keys):
            if str(name).strip():
                buckets[str(name).strip()].append(row)
    return {name: item_accuracy(bucket) for name, bucket in sorted(buckets.items())}


def group_outcomes(rows: Iterable[ScoredItem],
                   group: Callable[[ScoredItem], Hashable]) -> dict[Hashable, bool | None]:
    """Per group: False if any member is wrong, True if all are right, None if undecided members remain."""
    members: dict[Hashable, list[bool | None]] = defaultdict(list)
    for row in rows:
        members[group(row)].append(row.correct)
    outcomes: dict[Hashable, bool | None] = {}
    for name, verdicts in members.items():
        if any(v is False for v in verdicts):
            outcomes[name] = False
        elif any(v is None for v in verdicts):
            outcomes[name] = None
        else:
            outcomes[name] = True
    return outcomes


def group_accuracy(outcomes: dict[Hashable, bool | None]) -> float:
    decided = [v for v in outcomes.values() if v is not None]
    return percent(sum(decided), len(decided))


def meta_text(row: ScoredItem | Sample, name: str) -> str:
    """A meta field as stripped text ("" when absent); works on samples and scored items alike."""
    value = row.meta.get(name)
    return "" if value is None else str(value).strip()


def accuracy_by_l2_category(rows: list[ScoredItem]) -> dict:
    """Accuracy per second-level category (`l2-category` in MMBench files, `l2_category` in MMStar)."""
    return {"by_l2_category": accuracy_table(
        rows, lambda row: meta_text(row, "l2-category") or meta_text(row, "l2_category") or None)}


def accuracy_by_level(rows: list[ScoredItem]) -> dict:
    """Accuracy per difficulty level (SeePhys `level`)."""
    return {"by_level": accuracy_table(rows, lambda row: meta_text(row, "level") or None)}
