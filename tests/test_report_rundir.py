"""Reading run directories: strict on malformed lines, lenient on optional parts (docs/run-directory.md)."""

from __future__ import annotations

import json

import pytest

from harness.rundir import OTHER_GROUP, RunDirError, load_run
from tests.runfixtures import BenchmarkMeta, RunSpec, make_items, random_outcomes, simple_run, write_run


def test_a_documented_run_directory_loads_every_record(tmp_path):
    run = load_run(simple_run(tmp_path / "run", n_items=10, samples=3))
    assert len(run.items) == 10
    assert len(run.generations) == 30
    assert len(run.scores) == 30
    assert run.samples == 3 and run.mode == "slow" and run.budget == 256
    assert run.model == "tiny-vlm"


def test_group_and_title_come_from_the_manifest_else_other(tmp_path):
    items = make_items("mmmu_val", 4) + make_items("mystery", 4)
    spec = RunSpec(items=items, outcomes=random_outcomes(items, 1, 0.5),
                   samples=1, benchmarks={"mmmu_val": BenchmarkMeta(title="MMMU (val)", group="General")})
    run = load_run(write_run(tmp_path / "run", spec))
    assert (run.info("mmmu_val").group, run.info("mmmu_val").title) == ("General", "MMMU (val)")
    assert (run.info("mystery").group, run.info("mystery").title) == (OTHER_GROUP, "mystery")


def test_optional_files_may_be_missing(tmp_path):
    items = make_items("sample", 5)
    spec = RunSpec(items=items, outcomes=random_outcomes(items, 1, 0.5), samples=1,
                   write_summary=False, write_items=False, write_generations=False)
    run = load_run(write_run(tmp_path / "run", spec))
    assert run.summary is None and run.items == {} and run.generations == {}
    assert len(run.scores) == 5


def test_a_torn_last_line_is_ignored(tmp_path):
    root = simple_run(tmp_path / "run", n_items=3, samples=1)
    with (root / "generations.jsonl").open("a") as handle:
        handle.write('{"benchmark": "sample", "id": "q0')
    assert len(load_run(root).generations) == 3


def test_a_malformed_middle_line_names_file_and_line(tmp_path):
    root = simple_run(tmp_path / "run", n_items=3, samples=1)
    lines = (root / "scores.jsonl").read_text().splitlines()
    lines[1] = "{not json"
    (root / "scores.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(RunDirError, match=r"scores\.jsonl:2: not a valid JSON line"):
        load_run(root)


def test_a_wrongly_typed_field_names_file_line_and_field(tmp_path):
    root = simple_run(tmp_path / "run", n_items=3, samples=1)
    lines = (root / "scores.jsonl").read_text().splitlines()
    row = json.loads(lines[2])
    row["correct"] = "yes"
    lines[2] = json.dumps(row)
    (root / "scores.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(RunDirError, match=r"scores\.jsonl:3: field 'correct' should be true, false or null"):
        load_run(root)


def test_a_missing_required_field_is_named(tmp_path):
    root = simple_run(tmp_path / "run", n_items=2, samples=1)
    (root / "generations.jsonl").write_text('{"benchmark": "sample", "id": "q00000"}\n')
    with pytest.raises(RunDirError, match=r"generations\.jsonl:1: missing required field 'sample_index'"):
        load_run(root)


def test_a_directory_without_scores_is_refused_with_advice(tmp_path):
    root = simple_run(tmp_path / "run", n_items=2, samples=1)
    (root / "scores.jsonl").unlink()
    with pytest.raises(RunDirError, match="has not been scored yet"):
        load_run(root)


def test_a_directory_that_is_not_a_run_is_refused(tmp_path):
    with pytest.raises(RunDirError, match="manifest.json: missing"):
        load_run(tmp_path)
