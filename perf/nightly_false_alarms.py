"""How often does the nightly gate fail an unchanged checkpoint, and how often does it catch a real drop?

    python perf/nightly_false_alarms.py                          # 200 A/A nights, 200 nights per planted drop
    python perf/nightly_false_alarms.py --concentration 4        # less polarised item difficulties
    python perf/nightly_false_alarms.py --power-nights 0         # the A/A nights only

The suite is the sixteen benchmarks of the Skywork-R1V3 report's Table 1 at their item counts (below),
Avg@5. Each benchmark's items get fixed success probabilities drawn from Beta(m·c, (1−m)·c), with m the
report's Skywork-R1V3-38B accuracy (reports/reference/r1v3_table1.yaml) and c the concentration: c = 1
makes difficulties U-shaped (many items nearly always or nearly never solved; samples of one item
correlate at 1 / (c + 1) = 0.5), as reasoning models sampled at temperature 1 show.

- A/A nights: BASE and NEW are the same model with other seeds: fresh Avg@5 samples on both sides from
  the same probabilities. Every failed night is a false alarm.
- Fixed baselines: a real nightly compares every night with one stored baseline run, so its nights are
  not independent: a baseline that was lucky on a benchmark makes tonight look worse, night after night.
  Each of `--baselines` baseline runs is compared with `--baseline-nights` fresh A/A runs.
- Planted drops: for each benchmark in turn, NEW's probabilities on that benchmark are shifted on the
  logit scale so that its expected accuracy falls by `--drop` points (hard items stay hard, sure items
  stay sure); the other fifteen stay unchanged. Power is the share of nights on which the gate names
  the dropped benchmark. The fifteen unchanged benchmarks of these nights are further A/A replicates for
  the calibration columns.

Every night goes through `compare_matrices` and `apply_gate` (harness/metrics/compare.py), the functions
`harness compare` and `harness nightly` run once they have read the run directories: the same paired
test, the same Holm adjustment, the same verdict. "Raw gate" is the verdict without the adjustment
(drop > threshold with raw p < alpha), the rule the gate had before Holm. Seeded: the same arguments
print the same table.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.metrics.compare import apply_gate, compare_matrices  # noqa: E402
from harness.report.leaderboard import load_reference  # noqa: E402

REFERENCE = Path(__file__).resolve().parents[1] / "reports" / "reference" / "r1v3_table1.yaml"
REFERENCE_MODEL = "Skywork-R1V3-38B"
# Items each benchmark compares item by item (the full evaluation sets the report scores).
ITEMS = {
    "mmmu_val": 900, "emma_mini": 400, "mmmu_pro_standard": 1_730, "mmk12": 2_000, "mmstar": 1_500,
    "mmbench_en_v11": 4_329, "hallusionbench": 951, "mathvista_testmini": 1_000,
    "mathverse_vision_only": 788, "mathvision": 3_040, "wemath": 1_740, "visulogic": 1_000,
    "logicvista": 448, "mme_reasoning": 1_188, "phyx_mc_text_minimal": 1_000, "seephys": 2_000,
}


@dataclass
class Benchmark:
    name: str
    title: str
    accuracy: float  # the report's number, in percent
    p: np.ndarray  # per-item success probability, unchanged model
    p_dropped: np.ndarray  # the same items after the planted drop


def reference_accuracies() -> dict[str, tuple[str, float]]:
    reference = load_reference(REFERENCE)
    column = reference.models.index(REFERENCE_MODEL)
    return {name: (title, cells[column].value) for name, _, title, _, cells in reference.rows}


def logit_shift(p: np.ndarray, drop_points: float) -> np.ndarray:
    """Probabilities moved down on the logit scale by the amount that lowers their mean by `drop_points`."""
    logits = np.log(p) - np.log1p(-p)
    target = p.mean() - drop_points / 100
    low, high = 0.0, 20.0
    for _ in range(60):
        shift = (low + high) / 2
        if (1 / (1 + np.exp(-(logits - shift)))).mean() > target:
            low = shift
        else:
            high = shift
    return 1 / (1 + np.exp(-(logits - (low + high) / 2)))


def make_suite(rng: np.random.Generator, concentration: float, drop_points: float) -> list[Benchmark]:
    accuracies = reference_accuracies()
    suite = []
    for name, n_items in ITEMS.items():
        title, accuracy = accuracies[name]
        mean = accuracy / 100
        # Clipped away from 0 and 1 so that every item can move under the logit shift.
        p = np.clip(rng.beta(mean * concentration, (1 - mean) * concentration, size=n_items), 1e-6, 1 - 1e-6)
        suite.append(Benchmark(name, title, accuracy, p, logit_shift(p, drop_points)))
    return suite


def sample(rng: np.random.Generator, p: np.ndarray, samples: int) -> np.ndarray:
    """An items x samples matrix of 1.0 / 0.0, each cell correct with its item's probability."""
    return (rng.random((len(p), samples)) < p[:, None]).astype(float)


@dataclass
class Night:
    gate_failed: bool
    raw_gate_failed: bool
    flagged: list[str]  # benchmarks the gate named
    raw_p: dict[str, float]
    difference: dict[str, float]
    tests: set[str]  # the paired tests that gave the raw p-values


def night(rng: np.random.Generator, suite: list[Benchmark], args: argparse.Namespace, dropped: str | None,
          baseline: list[np.ndarray] | None = None) -> Night:
    """One nightly comparison: fresh BASE samples unless a fixed `baseline` (one matrix per benchmark) is given."""
    results = []
    for index, benchmark in enumerate(suite):
        new_p = benchmark.p_dropped if benchmark.name == dropped else benchmark.p
        base = baseline[index] if baseline is not None else sample(rng, benchmark.p, args.samples)
        results.append(compare_matrices(benchmark.name, benchmark.title, base, sample(rng, new_p, args.samples)))
    apply_gate(results, threshold=args.threshold, alpha=args.alpha)
    raw_p = {r.benchmark: r.overall.paired.p_value for r in results}
    difference = {r.benchmark: r.overall.paired.difference for r in results}
    raw_gate = any(difference[name] < -args.threshold and raw_p[name] < args.alpha for name in raw_p)
    return Night(any(r.regression for r in results), raw_gate, [r.benchmark for r in results if r.regression],
                 raw_p, difference, {r.overall.paired.test for r in results})


@dataclass
class Tally:
    """What the simulation counts, per benchmark where it says so."""

    aa: list[Night] = field(default_factory=list)
    null_p: dict[str, list[float]] = field(default_factory=dict)  # raw p of every unchanged comparison
    null_false_drop: dict[str, int] = field(default_factory=dict)  # unchanged, yet drop > threshold, raw p < alpha
    caught: dict[str, int] = field(default_factory=dict)  # planted drop named by the gate
    power_failed: dict[str, int] = field(default_factory=dict)  # planted-drop nights the gate failed
    others_named: dict[str, int] = field(default_factory=dict)  # planted-drop nights naming an unchanged one
    failed_per_baseline: list[int] = field(default_factory=list)

    def record_null(self, result: Night, args: argparse.Namespace, skip: str | None = None) -> None:
        for name, p_value in result.raw_p.items():
            if name != skip:
                self.null_p.setdefault(name, []).append(p_value)
                false_drop = result.difference[name] < -args.threshold and p_value < args.alpha
                self.null_false_drop[name] = self.null_false_drop.get(name, 0) + false_drop


def simulate(suite: list[Benchmark], args: argparse.Namespace, seeds: list[np.random.SeedSequence]) -> Tally:
    aa_seed, power_seed, fixed_seed = seeds
    tally = Tally()
    rng = np.random.default_rng(aa_seed)
    for _ in range(args.nights):
        tally.aa.append(night(rng, suite, args, None))
        tally.record_null(tally.aa[-1], args)
    rng = np.random.default_rng(power_seed)
    for benchmark in suite:
        name = benchmark.name
        tally.caught[name] = tally.power_failed[name] = tally.others_named[name] = 0
        for _ in range(args.power_nights):
            result = night(rng, suite, args, name)
            tally.record_null(result, args, skip=name)
            tally.caught[name] += name in result.flagged
            tally.power_failed[name] += result.gate_failed
            tally.others_named[name] += any(other != name for other in result.flagged)
    rng = np.random.default_rng(fixed_seed)
    for _ in range(args.baselines):
        baseline = [sample(rng, benchmark.p, args.samples) for benchmark in suite]
        tally.failed_per_baseline.append(sum(night(rng, suite, args, None, baseline).gate_failed
                                             for _ in range(args.baseline_nights)))
    return tally


def percent(count: int, total: int) -> str:
    return f"{100 * count / total:.1f}%" if total else "–"


def print_tables(suite: list[Benchmark], tally: Tally, args: argparse.Namespace) -> None:
    m = len(suite)
    per_benchmark_alpha = args.alpha / m
    print(f"{m} benchmarks, {sum(len(b.p) for b in suite):,} items, Avg@{args.samples}, item difficulty "
          f"Beta(m·{args.concentration:g}, (1−m)·{args.concentration:g}), gate: drop > {args.threshold:g} pts, "
          f"alpha {args.alpha:g}, seed {args.seed}")
    print()
    print(f"A/A nights: {args.nights}")
    print()
    print("| gate | nights failed | share |")
    print("|---|---|---|")
    for label, failed in ((f"Holm across the {m} benchmarks (the gate)", sum(r.gate_failed for r in tally.aa)),
                          ("raw p per benchmark (no correction)", sum(r.raw_gate_failed for r in tally.aa))):
        print(f"| {label} | {failed} | {percent(failed, args.nights)} |")
    print()
    test_names = sorted(set().union(*(r.tests for r in tally.aa)))
    print(f"Per benchmark (paired test: {', '.join(test_names)}). Null columns: every unchanged comparison "
          f"({args.nights} A/A nights + {args.power_nights * (m - 1)} from the planted-drop nights). "
          f"Power: {args.power_nights} nights with a planted {args.drop:g}-point drop on that benchmark.")
    print()
    print(f"| benchmark | items | accuracy | null: raw p < {args.alpha:g} | null: raw p < {per_benchmark_alpha:.4g} "
          f"(= alpha/{m}) | null: raw false drop | power: named by the gate | gate failed | others named |")
    print("|---|---|---|---|---|---|---|---|---|")

    def row(label: str, items: str, accuracy: str, null_p: np.ndarray, false_drops: int, names: list[str]) -> None:
        nights = args.power_nights * len(names)
        print(f"| {label} | {items} | {accuracy} | {percent(int((null_p < args.alpha).sum()), len(null_p))} | "
              f"{percent(int((null_p < per_benchmark_alpha).sum()), len(null_p))} | "
              f"{percent(false_drops, len(null_p))} | {percent(sum(tally.caught[n] for n in names), nights)} | "
              f"{percent(sum(tally.power_failed[n] for n in names), nights)} | "
              f"{percent(sum(tally.others_named[n] for n in names), nights)} |")

    for benchmark in sorted(suite, key=lambda b: len(b.p)):
        row(benchmark.title, f"{len(benchmark.p):,}", f"{benchmark.accuracy:.1f}",
            np.array(tally.null_p[benchmark.name]), tally.null_false_drop[benchmark.name], [benchmark.name])
    pooled = np.concatenate([np.array(values) for values in tally.null_p.values()])
    row("all, pooled", "", "", pooled, sum(tally.null_false_drop.values()), [b.name for b in suite])
    print()
    print(f"A calibrated test rejects {100 * args.alpha:g}% and {100 * per_benchmark_alpha:.3g}% of unchanged "
          f"comparisons in the two null columns; {len(pooled):,} null comparisons pooled.")
    if tally.failed_per_baseline:
        shares = sorted(100 * count / args.baseline_nights for count in tally.failed_per_baseline)
        total_nights = args.baselines * args.baseline_nights
        print()
        print(f"Fixed baselines: {args.baselines} baseline runs, each compared with {args.baseline_nights} A/A "
              f"nights: the gate failed {percent(sum(tally.failed_per_baseline), total_nights)} of all nights; "
              f"per baseline, median {np.median(shares):.0f}% and worst {shares[-1]:.0f}% of its nights; "
              f"{sum(count == 0 for count in tally.failed_per_baseline)} of {args.baselines} baselines never failed.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nights", type=int, default=200, help="A/A nights (default 200)")
    parser.add_argument("--power-nights", type=int, default=200, help="nights per planted drop (default 200)")
    parser.add_argument("--baselines", type=int, default=20,
                        help="fixed baselines, each compared with --baseline-nights A/A nights (default 20)")
    parser.add_argument("--baseline-nights", type=int, default=50, help="nights per fixed baseline (default 50)")
    parser.add_argument("--samples", type=int, default=5, help="samples per item, Avg@k (default 5)")
    parser.add_argument("--drop", type=float, default=3.0, help="planted drop in accuracy points (default 3)")
    parser.add_argument("--concentration", type=float, default=1.0, help="Beta concentration c (default 1)")
    parser.add_argument("--threshold", type=float, default=1.0, help="the gate's --threshold (default 1.0)")
    parser.add_argument("--alpha", type=float, default=0.05, help="the gate's --alpha (default 0.05)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    suite_seed, *seeds = np.random.SeedSequence(args.seed).spawn(4)
    suite = make_suite(np.random.default_rng(suite_seed), args.concentration, args.drop)
    print_tables(suite, simulate(suite, args, seeds), args)


if __name__ == "__main__":
    main()
