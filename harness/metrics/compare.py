"""Paired comparison of two runs, benchmark by benchmark and subject by subject, for nightly regressions.

The computation only: `harness compare`, `harness nightly` and the report render it (harness.report.compare).

Two runs are only compared on what they share: the same benchmark definition, the same data (by
fingerprint) and the same items. Anything else is reported as incomparable with the reason, never
silently compared. Significance comes from paired tests over items (stats.paired_difference), and
the regression verdict from their p-values adjusted with Holm's step-down across the benchmarks of
the comparison (apply_gate), so that a suite of many benchmarks does not fail an unchanged checkpoint
on many nights.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from harness.rundir import Run
from harness.metrics.stats import (Accuracy, PairedDifference, avg_at_k, holm_adjust, item_accuracy,
                                   paired_difference)
from harness.metrics.figures import correctness, item_ids, subject_of

COMPARED = "compared"
INCOMPARABLE = "incomparable"
ONLY_BASE = "only in BASE"
ONLY_NEW = "only in NEW"
SUBJECTS_UNCORRECTED = ("Subject rows are descriptive: their p-values are not corrected for multiple comparisons "
                        "and never fail the gate.")


@dataclass
class Flip:
    """An item whose majority verdict changed; rates are the share of samples correct."""

    id: str
    subject: str
    base_rate: float
    new_rate: float


@dataclass
class Side:
    """One slice (a benchmark or a subject) compared on the items both runs decided."""

    name: str
    base: Accuracy
    new: Accuracy
    paired: PairedDifference | None


@dataclass
class BenchmarkComparison:
    benchmark: str
    title: str
    status: str
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    overall: Side | None = None
    subjects: list[Side] = field(default_factory=list)
    flips: list[Flip] = field(default_factory=list)
    adjusted_p_value: float | None = None  # Holm across the comparison's benchmarks (apply_gate)
    regression: bool = False


@dataclass
class Comparison:
    base: Run
    new: Run
    threshold: float
    alpha: float
    benchmarks: list[BenchmarkComparison]

    @property
    def regressions(self) -> list[BenchmarkComparison]:
        return [b for b in self.benchmarks if b.regression]

    @property
    def family_size(self) -> int:
        """How many benchmarks the Holm adjustment ran over (those with a paired test)."""
        return sum(b.adjusted_p_value is not None for b in self.benchmarks)

    @property
    def unchecked(self) -> list[BenchmarkComparison]:
        """Benchmarks of BASE that could not be checked in NEW."""
        return [b for b in self.benchmarks if b.status in (INCOMPARABLE, ONLY_BASE)]

    def exit_status(self) -> int:
        """The gate's verdict: 1 on a significant regression, 2 when a benchmark could not be checked, else 0."""
        if self.regressions:
            return 1
        return 2 if self.unchecked else 0


def _mismatch(base: Run, new: Run, benchmark: str) -> tuple[list[str], list[str]]:
    """Reasons the benchmark cannot be compared, and notes on what could not be verified."""
    reasons, notes = [], []
    base_info, new_info = base.info(benchmark), new.info(benchmark)
    for attribute, label in (("data_fingerprint", "dataset fingerprint"), ("definition_sha256", "benchmark definition")):
        a, b = getattr(base_info, attribute), getattr(new_info, attribute)
        if a and b and a != b:
            reasons.append(f"{label} differs ({a[:12]} vs {b[:12]})")
        elif not (a and b):
            notes.append(f"{label} missing from a manifest; compared on item ids only")
    return reasons, notes


def _side(name: str, base_matrix: np.ndarray, new_matrix: np.ndarray) -> Side:
    try:
        paired = paired_difference(base_matrix, new_matrix)
    except ValueError:  # nothing decided on both sides
        paired = None
    return Side(name, avg_at_k(base_matrix), avg_at_k(new_matrix), paired)


def compare_matrices(benchmark: str, title: str, base_matrix: np.ndarray, new_matrix: np.ndarray, *,
                     item_ids: Sequence[str] | None = None,
                     subjects: Sequence[str] | None = None) -> BenchmarkComparison:
    """Compare one benchmark from its items x samples matrices (rows aligned; 1/0/NaN).

    This is everything `compare` computes per benchmark once the shared items are known; the
    regression verdict needs the other benchmarks too and comes from `apply_gate`. `item_ids` and
    `subjects` (one per row) name the flipped items and give the subject rows.
    """
    result = BenchmarkComparison(benchmark, title, COMPARED)
    result.overall = _side(title, base_matrix, new_matrix)
    n_rows = len(base_matrix)
    if subjects is not None:
        rows_of: dict[str, list[int]] = {}
        for row, subject in enumerate(subjects):
            rows_of.setdefault(subject or "(none)", []).append(row)
        if len(rows_of) > 1:
            result.subjects = [_side(name, base_matrix[rows], new_matrix[rows])
                               for name, rows in sorted(rows_of.items())]
    base_rates, new_rates = item_accuracy(base_matrix), item_accuracy(new_matrix)
    with np.errstate(invalid="ignore"):
        flipped = (base_rates >= 0.5) != (new_rates >= 0.5)
    flipped &= ~(np.isnan(base_rates) | np.isnan(new_rates))
    names = item_ids if item_ids is not None else [str(row) for row in range(n_rows)]
    for row in np.flatnonzero(flipped):
        result.flips.append(Flip(names[row], subjects[row] if subjects is not None else "",
                                 float(base_rates[row]), float(new_rates[row])))
    return result


def compare_benchmark(base: Run, new: Run, benchmark: str) -> BenchmarkComparison:
    """Compare one benchmark of two runs on the items both hold, or say why it cannot be compared."""
    title = base.info(benchmark).title
    reasons, notes = _mismatch(base, new, benchmark)
    base_ids, new_ids = item_ids(base, benchmark), item_ids(new, benchmark)
    new_set = set(new_ids)
    common = [item_id for item_id in base_ids if item_id in new_set]
    if not common:
        reasons.append(f"no items in common ({len(base_ids)} in BASE, {len(new_ids)} in NEW)")
    if reasons:
        return BenchmarkComparison(benchmark, title, INCOMPARABLE, reasons=reasons, notes=notes)
    if len(common) < max(len(base_ids), len(new_ids)):
        notes.append(f"compared on the {len(common)} shared items "
                     f"(BASE has {len(base_ids)}, NEW has {len(new_ids)})")
    result = compare_matrices(benchmark, title, correctness(base, benchmark, common),
                              correctness(new, benchmark, common), item_ids=common,
                              subjects=[subject_of(base, benchmark, item_id) for item_id in common])
    result.notes = notes
    return result


def apply_gate(benchmarks: Sequence[BenchmarkComparison], *, threshold: float, alpha: float) -> None:
    """Set each compared benchmark's Holm-adjusted p-value and its regression verdict.

    The family is every benchmark of the comparison with a paired test: Holm across them keeps the
    chance that an unchanged checkpoint fails the gate at most alpha (stats.holm_adjust says why
    Holm). A regression is a drop of more than `threshold` points whose adjusted p-value is below
    alpha. Subject rows are not in the family and never fail the gate.
    """
    tested = [b for b in benchmarks if b.overall is not None and b.overall.paired is not None]
    adjusted = holm_adjust([b.overall.paired.p_value for b in tested])
    for result, p_value in zip(tested, adjusted):
        result.adjusted_p_value = p_value
        result.regression = result.overall.paired.difference < -threshold and p_value < alpha


def compare_runs(base: Run, new: Run, *, threshold: float = 1.0, alpha: float = 0.05) -> Comparison:
    if threshold < 0:
        raise ValueError(f"--threshold must be non-negative points, got {threshold}")
    if not 0 < alpha < 1:
        raise ValueError(f"--alpha must be between 0 and 1, got {alpha}")
    results = []
    new_names = set(new.benchmark_names())
    for benchmark in base.benchmark_names():
        if benchmark not in new_names:
            results.append(BenchmarkComparison(benchmark, base.info(benchmark).title, ONLY_BASE,
                                               reasons=["not in NEW"]))
        else:
            results.append(compare_benchmark(base, new, benchmark))
    for benchmark in new.benchmark_names():
        if benchmark not in base.benchmark_names():
            results.append(BenchmarkComparison(benchmark, new.info(benchmark).title, ONLY_NEW, reasons=["not in BASE"]))
    apply_gate(results, threshold=threshold, alpha=alpha)
    return Comparison(base, new, threshold, alpha, results)
