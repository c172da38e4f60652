"""A run directory written by harness 0.1.0 keeps loading, re-scoring, reporting and comparing.

tests/data/run_v0_1_0 was written by `harness run` at version 0.1.0 (a tiny Qwen2.5-VL on the built-in
sample benchmark, nowait, budget 40, 2 samples), with half of its responses replaced by boxed gold
answers and re-scored by that version's `harness score`, so that its verdicts are not all wrong. Only
the model and output paths were rewritten to neutral names.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from harness.cli import main
from harness.rundir import load_run

FIXTURE = Path(__file__).parent / "data" / "run_v0_1_0"


@pytest.fixture()
def run_dir(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURE, tmp_path / "run"))


def verdicts(path: Path) -> dict[tuple[str, str, int], tuple]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {(r["benchmark"], r["id"], r["sample_index"]): (r["correct"], r["extracted"], r["method"]) for r in rows}


def test_it_loads_with_every_record(run_dir):
    run = load_run(run_dir)
    assert (len(run.items), len(run.generations), len(run.scores)) == (8, 16, 16)
    assert run.mode == "nowait" and run.samples == 2 and all(item.thumbnails for item in run.items.values()
                                                             if item.id.startswith(("shapes", "chart")))


def test_rescoring_reproduces_its_verdicts_and_its_accuracy(run_dir):
    before = verdicts(run_dir / "scores.jsonl")
    accuracy = json.loads((run_dir / "summary.json").read_text())["benchmarks"]["sample"]["accuracy"]
    assert main(["score", str(run_dir)]) == 0
    assert verdicts(run_dir / "scores.jsonl") == before
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["benchmarks"]["sample"]["accuracy"] == pytest.approx(accuracy) == pytest.approx(50.0)
    assert summary["throughput"]["engine"] == "vllm"  # the run's own throughput block survives re-scoring


def test_it_reports_compares_and_joins_a_leaderboard(run_dir, tmp_path, capsys):
    assert main(["report", str(run_dir), "-o", str(tmp_path / "report.html")]) == 0
    html = (tmp_path / "report.html").read_text()
    assert "Built-in sample" in html and "arith-000" in html
    assert main(["compare", str(run_dir), str(run_dir), "--fail-on-regression",
                 "--html", str(tmp_path / "compare.html")]) == 0
    capsys.readouterr()
    assert main(["leaderboard", str(run_dir), "--format", "csv"]) == 0
    table = capsys.readouterr().out
    assert ",sample," in table and ",50.00," in table
