"""`harness leaderboard`: Table 1's layout, best per row in bold, reported numbers kept apart from measured."""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

import pytest

from harness.cli import leaderboard as cli_leaderboard
from harness.report.leaderboard import ReferenceFileError, build_leaderboard, load_reference, tex_escape
from harness.rundir import load_run
from tests.runfixtures import BenchmarkMeta, RunSpec, make_items, write_run

REFERENCE = Path(__file__).resolve().parents[1] / "reports" / "reference" / "r1v3_table1.yaml"
META = {"mmmu_val": BenchmarkMeta(title="MMMU (val)", group="General"),
        "mathvista_mini": BenchmarkMeta(title="MathVista (mini)", group="Mathematics"),
        "seephys": BenchmarkMeta(title="SeePhys", group="Physics")}


def run_with(tmp_path, name: str, model: str, accuracy: dict[str, int], samples: int = 1, mode: str = "slow"):
    """A run whose benchmark accuracies are exact: `accuracy[b]` of 10 items right in every sample."""
    items, outcomes = [], {}
    for benchmark, right in accuracy.items():
        for n, item in enumerate(make_items(benchmark, 10)):
            items.append(item)
            outcomes[(benchmark, item["id"])] = [n < right] * samples
    return write_run(tmp_path / name, RunSpec(items=items, outcomes=outcomes, samples=samples, model=model,
                                              mode=mode, benchmarks=META))


def leaderboard(argv: list[str], capsys) -> tuple[int, str]:
    parser = argparse.ArgumentParser()
    cli_leaderboard.configure(parser)
    status = cli_leaderboard.main(parser.parse_args(argv))
    return status, capsys.readouterr().out


def test_markdown_groups_benchmarks_and_bolds_the_best_per_row(tmp_path, capsys):
    a = run_with(tmp_path, "a", "m/alpha", {"mmmu_val": 7, "mathvista_mini": 4, "seephys": 2}, samples=5)
    b = run_with(tmp_path, "b", "m/beta", {"mmmu_val": 5, "mathvista_mini": 6, "seephys": 2})
    status, out = leaderboard([str(a), str(b)], capsys)
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == "| Benchmark | Metric | alpha (Avg@5) | beta (Avg@1) |"
    assert lines.index("| *General* |  |  |  |") < lines.index("| MMMU (val) | Acc. | **70.0** | 50.0 |")
    assert "| MathVista (mini) | Acc. | 40.0 | **60.0** |" in lines
    assert "| SeePhys | Acc. | **20.0** | **20.0** |" in lines  # ties are all bold
    assert lines.index("| *Mathematics* |  |  |  |") < lines.index("| *Physics* |  |  |  |")


def test_reference_numbers_are_marked_reported_with_their_footnote(tmp_path, capsys):
    a = run_with(tmp_path, "a", "m/alpha", {"mmmu_val": 8})
    status, out = leaderboard([str(a), "--reference", str(REFERENCE)], capsys)
    assert status == 0
    assert "Skywork-R1V3-38B (reported)" in out
    assert "| MMMU (val) | Acc. | **80.0** | 76.0 | 70.3 | 72.2 | 70.3 | 75.0 | 70.7 |" in out
    assert "| MMMU-Pro | Acc. | – | **55.4** | 46.9* |" in out
    assert "not measured here" in out and "* evaluated by the report's authors" in out


def test_the_papers_table_one_has_sixteen_benchmarks_in_four_groups():
    reference = load_reference(REFERENCE)
    assert len(reference.rows) == 16 and len(reference.models) == 6
    assert [r[3] for r in reference.rows].count("General") == 7
    assert {r[3] for r in reference.rows} == {"General", "Mathematics", "Logic", "Physics"}


def test_runs_of_one_model_in_different_modes_get_separate_columns(tmp_path):
    slow = run_with(tmp_path, "s", "m/alpha", {"mmmu_val": 7}, mode="slow")
    fast = run_with(tmp_path, "f", "m/alpha", {"mmmu_val": 6}, mode="nothink")
    board = build_leaderboard([load_run(slow), load_run(fast)])
    assert [c.label for c in board.columns] == ["alpha (slow b256)", "alpha (nothink b256)"]


def test_one_benchmark_twice_for_one_column_is_an_error(tmp_path):
    a = run_with(tmp_path, "a", "m/alpha", {"mmmu_val": 7})
    b = run_with(tmp_path, "b", "m/alpha", {"mmmu_val": 6})
    with pytest.raises(ValueError, match="mmmu_val for alpha appears in more than one run"):
        build_leaderboard([load_run(a), load_run(b)])


def test_latex_escapes_names_and_bolds_with_textbf(tmp_path, capsys):
    a = run_with(tmp_path, "a", "m/al_pha&co", {"mmmu_val": 7})
    status, out = leaderboard([str(a), "--format", "tex"], capsys)
    assert status == 0
    assert r"al\_pha\&co (Avg@1)" in out
    assert r"MMMU (val) & Acc. & \textbf{70.0} \\" in out
    assert out.count(r"\begin{tabular}") == 1 and r"\bottomrule" in out


def test_csv_has_one_row_per_cell_with_kind(tmp_path, capsys):
    a = run_with(tmp_path, "a", "m/alpha", {"mmmu_val": 7})
    status, out = leaderboard([str(a), "--format", "csv", "--reference", str(REFERENCE)], capsys)
    rows = list(csv.DictReader(io.StringIO(out)))
    measured = [r for r in rows if r["kind"] == "measured"]
    assert measured == [{"group": "General", "benchmark": "mmmu_val", "title": "MMMU (val)", "column": "alpha",
                         "kind": "measured", "note": "Avg@1", "accuracy": "70.00", "mark": "", "best": "0"}]
    assert len([r for r in rows if r["kind"] == "reported"]) == 16 * 6


def test_html_is_escaped_and_marks_reported_columns(tmp_path, capsys):
    a = run_with(tmp_path, "a", "m/<i onclick=x>alpha", {"mmmu_val": 7})
    status, out = leaderboard([str(a), "--format", "html", "--reference", str(REFERENCE)], capsys)
    assert "&lt;i onclick=x&gt;alpha" in out and "<i onclick" not in out
    assert '<th class="reported">GPT-4o (reported)' in out


def test_a_reference_with_the_wrong_number_of_scores_names_the_entry(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("models: [a, b]\nbenchmarks:\n  - name: x\n    scores: [1.0]\n")
    with pytest.raises(ReferenceFileError, match=r"benchmarks\[1\] \(x\): 1 scores for 2 models"):
        load_reference(bad)


def test_tex_escape_covers_special_characters():
    assert tex_escape("a_b%c$d#e&f{g}") == r"a\_b\%c\$d\#e\&f\{g\}"
