"""The sixteen benchmarks of the report's Table 1, as registered definitions.

MMMU-Pro is one row of Table 1 but two definitions (standard and vision settings), so seventeen
files cover the sixteen benchmarks. The paper's Skywork-R1V3 numbers are checked against Table 1.
"""

from __future__ import annotations

import argparse

import pytest

from harness.cli import data as cli_data
from harness.bench.spec import load_object, registry

TABLE_1 = {  # benchmark definition -> Skywork-R1V3-38B, Table 1 of the report
    "mmmu_val": 76.0, "emma_mini": 40.3, "mmk12": 78.5, "mmstar": 70.6, "mmbench_en_v11": 85.7,
    "hallusionbench": 61.3, "mathvista_testmini": 77.1, "mathverse_vision_only": 59.6, "mathvision": 52.6,
    "wemath": 56.5, "visulogic": 28.5, "logicvista": 59.7, "mme_reasoning": 42.8, "phyx_mc_text_minimal": 52.8,
    "seephys": 31.5,
}
MMMU_PRO = ("mmmu_pro_standard", "mmmu_pro_vision")
ALL = sorted([*TABLE_1, *MMMU_PRO])


def test_all_sixteen_benchmarks_are_registered():
    assert set(ALL) <= set(registry())


@pytest.mark.parametrize("name", ALL)
def test_definition_names_its_source_and_metrics(name):
    spec = registry()[name]
    assert spec.source.file and (spec.source.url or spec.source.hf_dataset)
    assert "\\boxed{" in spec.prompt
    for metric in spec.metrics:
        if ":" in metric:
            assert callable(load_object(metric, name))
    if spec.prepare:
        assert callable(spec.prepare_fn())


@pytest.mark.parametrize("name", sorted(TABLE_1))
def test_reported_number_matches_table_1(name):
    assert registry()[name].reported["skywork_r1v3"] == TABLE_1[name]


def test_mmmu_pro_carries_the_single_overall_number():
    assert {registry()[name].reported["skywork_r1v3_mmmu_pro_overall"] for name in MMMU_PRO} == {55.4}


def test_data_list_shows_every_benchmark_and_its_status(tmp_path, capsys):
    parser = argparse.ArgumentParser(prog="harness")
    cli_data.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["data", "list", "--data-dir", str(tmp_path)])
    (tmp_path / "MMStar.tsv").write_text("index\n")

    assert args.func(args) == 0
    lines = capsys.readouterr().out.splitlines()
    listed = {line.split()[0]: line for line in lines[1:] if line.strip() and not line.startswith("data directory")}
    assert set(ALL) <= set(listed)
    assert " present " in listed["mmstar"] and " missing " in listed["wemath"]
    assert "md5:585e8ad75e73" in listed["mmmu_val"]
