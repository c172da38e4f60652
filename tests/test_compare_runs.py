"""`harness compare`: paired per-benchmark comparison, refusals, and the exit status a nightly job reads."""

from __future__ import annotations

import argparse

from harness.cli import compare as cli_compare
from harness.metrics.compare import INCOMPARABLE, ONLY_BASE, compare_runs
from harness.report.compare import to_markdown
from harness.rundir import load_run
from tests.runfixtures import BenchmarkMeta, RunSpec, make_items, random_outcomes, write_run


def run_cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    cli_compare.configure(parser)
    return cli_compare.main(parser.parse_args(argv))


def pair(tmp_path, *, drop_every: int | None = None, samples: int = 1, n: int = 200,
         base_meta=None, new_meta=None, new_items=None):
    items = make_items("sample", n)
    base = random_outcomes(items, samples, 0.7, seed=1)
    new = {key: [v and (drop_every is None or index % drop_every != 0) for v in values]
           for index, (key, values) in enumerate(base.items())}
    new_items = new_items if new_items is not None else items
    new = {(i["benchmark"], i["id"]): new.get((i["benchmark"], i["id"]), [True] * samples) for i in new_items}
    base_dir = write_run(tmp_path / "base", RunSpec(items=items, outcomes=base, samples=samples,
                                                    benchmarks={"sample": base_meta or BenchmarkMeta()}))
    new_dir = write_run(tmp_path / "new", RunSpec(items=new_items, outcomes=new, samples=samples,
                                                  benchmarks={"sample": new_meta or BenchmarkMeta()}))
    return base_dir, new_dir


def test_identical_runs_pass_with_exit_status_zero(tmp_path, capsys):
    base, new = pair(tmp_path)
    assert run_cli([str(base), str(new), "--fail-on-regression"]) == 0
    out = capsys.readouterr().out
    assert "| sample |" in out and "+0.0" in out and "REGRESSION" not in out


def test_a_significant_drop_fails_the_job_and_lists_flipped_items(tmp_path, capsys):
    base, new = pair(tmp_path, drop_every=3)
    assert run_cli([str(base), str(new), "--fail-on-regression"]) == 1
    out = capsys.readouterr().out
    assert "**REGRESSION**" in out and "mcnemar-exact" in out
    assert "`q00000` (algebra): lost, 100% → 0%" in out
    assert (new / "compare.html").exists()


def test_without_fail_on_regression_the_status_stays_zero(tmp_path):
    base, new = pair(tmp_path, drop_every=3)
    assert run_cli([str(base), str(new)]) == 0


def test_a_drop_within_the_threshold_is_not_a_regression(tmp_path):
    base, new = pair(tmp_path, drop_every=3)
    assert run_cli([str(base), str(new), "--fail-on-regression", "--threshold", "50"]) == 0


def test_a_small_drop_is_not_significant(tmp_path):
    base, new = pair(tmp_path, drop_every=100)  # loses at most two items out of 200
    comparison = compare_runs(load_run(base), load_run(new))
    assert comparison.benchmarks[0].overall.paired.p_value > 0.05
    assert comparison.regressions == []


def test_avg_at_k_runs_use_the_paired_t_test(tmp_path):
    base, new = pair(tmp_path, drop_every=2, samples=3)
    result = compare_runs(load_run(base), load_run(new)).benchmarks[0]
    assert result.overall.paired.test == "paired-t" and result.regression


def test_different_dataset_fingerprints_are_refused_not_compared(tmp_path, capsys):
    base, new = pair(tmp_path, new_meta=BenchmarkMeta(data_fingerprint="data-v2"))
    result = compare_runs(load_run(base), load_run(new)).benchmarks[0]
    assert result.status == INCOMPARABLE and result.overall is None
    assert "dataset fingerprint differs" in result.reasons[0]
    assert run_cli([str(base), str(new), "--fail-on-regression"]) == 2
    assert "**incomparable**: dataset fingerprint differs" in capsys.readouterr().out


def test_different_benchmark_definitions_are_refused(tmp_path):
    base, new = pair(tmp_path, new_meta=BenchmarkMeta(definition_sha256="def-v2"))
    assert "benchmark definition differs" in compare_runs(load_run(base), load_run(new)).benchmarks[0].reasons[0]


def test_disjoint_items_are_incomparable(tmp_path):
    other = make_items("sample", 50, id_prefix="z")
    base, new = pair(tmp_path, new_items=other)
    result = compare_runs(load_run(base), load_run(new)).benchmarks[0]
    assert result.status == INCOMPARABLE and "no items in common" in result.reasons[0]


def test_partly_overlapping_items_are_compared_on_the_shared_ones_and_noted(tmp_path):
    base, new = pair(tmp_path, new_items=make_items("sample", 120))
    result = compare_runs(load_run(base), load_run(new)).benchmarks[0]
    assert result.overall.paired.n_items == 120
    assert any("compared on the 120 shared items" in note for note in result.notes)


def test_a_benchmark_missing_from_new_is_unchecked(tmp_path):
    items = make_items("sample", 20) + make_items("other", 20)
    base = write_run(tmp_path / "base", RunSpec(items=items, outcomes=random_outcomes(items, 1, 0.6), samples=1))
    only = items[:20]
    new = write_run(tmp_path / "new", RunSpec(items=only, outcomes=random_outcomes(only, 1, 0.6), samples=1))
    comparison = compare_runs(load_run(base), load_run(new))
    assert [b.status for b in comparison.unchecked] == [ONLY_BASE]
    assert run_cli([str(base), str(new), "--fail-on-regression"]) == 2


def test_per_subject_rows_are_reported(tmp_path):
    base, new = pair(tmp_path, drop_every=3)
    markdown = to_markdown(compare_runs(load_run(base), load_run(new)))
    assert "| algebra |" in markdown and "| geometry |" in markdown


def test_bad_alpha_is_a_clear_error(tmp_path, capsys):
    base, new = pair(tmp_path)
    assert run_cli([str(base), str(new), "--alpha", "5"]) == 2
    assert "--alpha must be between 0 and 1" in capsys.readouterr().err


def suite(tmp_path, lost_in_first: int, *, names=("alpha", "beta", "gamma", "delta"), n: int = 200):
    """Runs of several benchmarks, single samples, all right in BASE; NEW loses `lost_in_first` items of the first."""
    items = [item for name in names for item in make_items(name, n)]
    base = {(i["benchmark"], i["id"]): [True] for i in items}
    lost = {("alpha", i["id"]) for i in make_items("alpha", n)[:lost_in_first]}
    new = {key: [key not in lost] for key in base}
    return (write_run(tmp_path / "base", RunSpec(items=items, outcomes=base, samples=1)),
            write_run(tmp_path / "new", RunSpec(items=items, outcomes=new, samples=1)))


def test_a_drop_significant_only_before_holm_does_not_fail_the_gate(tmp_path, capsys):
    base, new = suite(tmp_path, 7)  # McNemar p = 2 / 2^7 = 0.0156 raw; Holm over 4 benchmarks: 0.0625
    result = compare_runs(load_run(base), load_run(new)).benchmarks[0]
    assert result.overall.paired.difference == -3.5
    assert result.overall.paired.p_value == 2 / 2**7 and result.adjusted_p_value == 4 * 2 / 2**7
    assert not result.regression
    assert run_cli([str(base), str(new), "--fail-on-regression"]) == 0
    out = capsys.readouterr().out
    assert "REGRESSION" not in out and "Holm over the 4 benchmarks tested" in out


def test_a_drop_that_survives_holm_still_fails_the_gate(tmp_path, capsys):
    base, new = suite(tmp_path, 12)  # raw p = 2 / 2^12; Holm: 4 times that, well below 0.05
    assert run_cli([str(base), str(new), "--fail-on-regression"]) == 1
    out = capsys.readouterr().out
    assert "| alpha | 100.0 | 94.0 | -6.0 |" in out and "REGRESSION in: alpha" in out


def test_markdown_and_html_show_raw_and_adjusted_p_values(tmp_path, capsys):
    base, new = suite(tmp_path, 7)
    assert run_cli([str(base), str(new)]) == 0
    header = "| benchmark | BASE % | NEW % | Δ pts | 95% CI | p (raw) | p (Holm) | test (items, lost/gained) | verdict |"
    row = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| alpha |")][0]
    assert header in to_markdown(compare_runs(load_run(base), load_run(new)))
    assert row.split(" | ")[5:7] == ["0.0156", "0.0625"]
    page = (new / "compare.html").read_text()
    assert "<th>p (raw)</th><th>p (Holm)</th>" in page
    assert "<td>0.0156</td><td>0.0625</td>" in page


def test_a_collapsing_subject_never_fails_the_gate_and_is_marked_uncorrected(tmp_path, capsys):
    items = make_items("sample", 200)  # subjects alternate: algebra, geometry
    base = {(i["benchmark"], i["id"]): [i["subject"] == "algebra"] for i in items}
    new = {(i["benchmark"], i["id"]): [i["subject"] == "geometry"] for i in items}
    base_dir = write_run(tmp_path / "base", RunSpec(items=items, outcomes=base, samples=1))
    new_dir = write_run(tmp_path / "new", RunSpec(items=items, outcomes=new, samples=1))
    result = compare_runs(load_run(base_dir), load_run(new_dir)).benchmarks[0]
    algebra = [side for side in result.subjects if side.name == "algebra"][0]
    assert algebra.paired.difference == -100.0 and algebra.paired.p_value < 1e-20
    assert run_cli([str(base_dir), str(new_dir), "--fail-on-regression"]) == 0
    out = capsys.readouterr().out
    assert "| subject | BASE % | NEW % | Δ pts | 95% CI | p (uncorrected) | test |" in out
    assert "not corrected for multiple comparisons and never fail the gate" in out
    assert "<th>p (uncorrected)</th>" in (new_dir / "compare.html").read_text()
