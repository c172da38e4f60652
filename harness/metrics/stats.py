"""The statistics behind every number the reports print: Avg@k with its spread and interval, and paired tests.

Kept apart from rendering so that the report, `compare` and the leaderboard agree to the last digit,
and so that each formula is tested on its own. Correctness arrives as an items x samples matrix of
1.0 / 0.0 / NaN, where NaN means undecided, errored or missing: never counted as wrong.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scipy.stats import t as student_t

Z95 = 1.959963984540054


@dataclass
class Accuracy:
    """Avg@k in percent: the mean over the k sample runs of each run's accuracy over decided items."""

    mean: float | None  # None when nothing was decided
    std: float  # across the k sample runs (sample standard deviation; 0 for k = 1)
    ci95: tuple[float, float] | None  # item-clustered normal interval around `mean`
    per_sample: list[float | None]
    n_items: int
    n_decided: int  # (item, sample) pairs with a verdict of true or false
    n_undecided: int  # (item, sample) pairs with correct = null or no score at all


def avg_at_k(matrix: np.ndarray) -> Accuracy:
    """Avg@k of an items x samples matrix of 1/0/NaN.

    The interval treats items as clusters: each item's mean over its decided samples is one
    observation, so it reflects both which items were drawn and how noisy the sampling was.
    """
    matrix = np.asarray(matrix, dtype=float)
    if matrix.ndim == 1:  # one sample per item
        matrix = matrix.reshape(-1, 1)
    n_items = matrix.shape[0]
    decided = ~np.isnan(matrix)
    per_sample: list[float | None] = []
    for column, mask in zip(matrix.T, decided.T):
        per_sample.append(float(column[mask].mean() * 100) if mask.any() else None)
    present = [value for value in per_sample if value is not None]
    n_decided = int(decided.sum())
    if not present:
        return Accuracy(None, 0.0, None, per_sample, n_items, 0, int(matrix.size))
    mean = float(np.mean(present))
    std = float(np.std(present, ddof=1)) if len(present) > 1 else 0.0
    item_means = item_accuracy(matrix)
    item_means = item_means[~np.isnan(item_means)]
    if len(item_means) > 1:
        half = Z95 * float(np.std(item_means, ddof=1)) / math.sqrt(len(item_means)) * 100
        ci95 = (max(0.0, mean - half), min(100.0, mean + half))
    else:
        ci95 = None
    return Accuracy(mean, std, ci95, per_sample, n_items, n_decided, int(matrix.size) - n_decided)


def item_accuracy(matrix: np.ndarray) -> np.ndarray:
    """Each item's fraction correct over its decided samples (NaN where none was decided)."""
    matrix = np.asarray(matrix, dtype=float)
    decided = (~np.isnan(matrix)).sum(axis=1)
    totals = np.nansum(matrix, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(decided > 0, totals / np.maximum(decided, 1), np.nan)


def mcnemar_exact(base_only: int, new_only: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pairs.

    `base_only` items were right before and wrong now, `new_only` the reverse; under no change each
    discordant pair is a fair coin, so the p-value is a two-sided binomial tail at 1/2.
    """
    if base_only < 0 or new_only < 0:
        raise ValueError(f"discordant counts must be non-negative, got {base_only}, {new_only}")
    n = base_only + new_only
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(base_only, new_only) + 1))
    return min(1.0, 2 * tail / 2**n)


@dataclass
class PairedDifference:
    """NEW minus BASE accuracy over the items both runs decided, in percentage points."""

    difference: float
    ci95: tuple[float, float]
    p_value: float  # two-sided
    test: str  # "mcnemar-exact" or "paired-t"
    n_items: int
    base_only: int  # items right in BASE, wrong in NEW (by majority over samples)
    new_only: int


def paired_difference(base: np.ndarray, new: np.ndarray) -> PairedDifference:
    """Compare two items x samples matrices over the same items (rows aligned).

    Single samples on both sides get the exact McNemar test on the items that flipped. Avg@k gets a
    paired t-test on the per-item differences of mean correctness: an item is the unit that was
    sampled (its k samples are correlated, so they are not k observations), the differences of
    distinct items are independent, and with hundreds of items their mean is close to normal even
    though each difference takes only a few values. perf/nightly_false_alarms.py checks it: under
    no change it rejects 4.4-6.0% at 0.05 (5.0% pooled) at every size from 400 to 4,329 items. It
    replaces a paired bootstrap (10,000 resamples) that estimated the same sampling distribution by
    brute force: as well calibrated at these sizes, but n x 10,000 draws per benchmark, a
    Monte-Carlo floor of 1e-4 on p (Holm over 16 benchmarks decides near 0.003), and too slow to
    simulate hundreds of nights.
    The interval is the matching t interval of the mean item difference, clipped to [-100, 100].
    """
    base = np.asarray(base, dtype=float)
    new = np.asarray(new, dtype=float)
    if base.shape[0] != new.shape[0]:
        raise ValueError(f"paired comparison needs aligned items, got {base.shape[0]} and {new.shape[0]} rows")
    base_items = item_accuracy(base)
    new_items = item_accuracy(new)
    keep = ~np.isnan(base_items) & ~np.isnan(new_items)
    base_items, new_items = base_items[keep], new_items[keep]
    n = int(keep.sum())
    if n == 0:
        raise ValueError("no item was decided in both runs")
    deltas = (new_items - base_items) * 100
    difference = float(deltas.mean())
    spread = float(deltas.std(ddof=1)) if n > 1 else math.inf
    if spread > 0:
        standard_error = spread / math.sqrt(n)
        half_width = float(student_t.ppf(0.975, n - 1)) * standard_error if n > 1 else math.inf
        t_p_value = float(2 * student_t.sf(abs(difference) / standard_error, n - 1)) if n > 1 else 1.0
    else:  # every item moved by exactly the same amount: no noise to test against
        half_width = 0.0
        t_p_value = 1.0 if difference == 0 else 0.0
    ci95 = (max(-100.0, difference - half_width), min(100.0, difference + half_width))
    base_majority = base_items >= 0.5
    new_majority = new_items >= 0.5
    base_only = int((base_majority & ~new_majority).sum())
    new_only = int((~base_majority & new_majority).sum())
    if base.shape[1] == 1 and new.shape[1] == 1:
        p_value, test = mcnemar_exact(base_only, new_only), "mcnemar-exact"
    else:
        p_value, test = t_p_value, "paired-t"
    return PairedDifference(difference, ci95, p_value, test, n, base_only, new_only)


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given.

    The nightly gate asks one question of a whole comparison, "did any benchmark regress?", so the
    error to control is the chance that an unchanged checkpoint fails the night: the family-wise
    error rate. Sixteen benchmarks each tested at 0.05 fail an unchanged checkpoint on about one
    night in four (perf/nightly_false_alarms.py). Holm keeps the family-wise rate at alpha under any dependence between the
    benchmarks (they share one model, so their results are correlated), is never less powerful
    than Bonferroni, and needs nothing but the p-values; rejecting where the adjusted value is
    below alpha is Holm's procedure at level alpha. Benjamini-Hochberg would control the false
    share among flagged benchmarks instead, and lets a real regression drag others onto the list;
    with Holm every benchmark named in a failed night is, jointly, a regression at level alpha.

    Sorted ascending, the i-th smallest of m p-values becomes max over j <= i of (m - j + 1) p_(j),
    capped at 1.
    """
    values = [float(p) for p in p_values]
    for p in values:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p-values must lie in [0, 1], got {p}")
    m = len(values)
    adjusted = [0.0] * m
    running = 0.0
    for rank, index in enumerate(sorted(range(m), key=values.__getitem__)):
        running = max(running, min(1.0, (m - rank) * values[index]))
        adjusted[index] = running
    return adjusted
