"""The sixteen benchmarks of the report's Table 1, as registered definitions.

MMMU-Pro is one row of Table 1 but two definitions (standard and vision settings), so seventeen
files cover the sixteen benchmarks. The paper's Skywork-R1V3 numbers are checked against Table 1.
"""

from __future__ import annotations

import pytest

from harness.cli import build_parser
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
    parser = build_parser()
    args = parser.parse_args(["data", "list", "--data-dir", str(tmp_path)])
    (tmp_path / "MMStar.tsv").write_text("index\n")

    assert args.func(args) == 0
    lines = capsys.readouterr().out.splitlines()
    listed = {line.split()[0]: line for line in lines[1:] if line.strip() and not line.startswith("data directory")}
    assert set(ALL) <= set(listed)
    assert " present " in listed["mmstar"] and " missing " in listed["wemath"]
    assert "md5:585e8ad75e73" in listed["mmmu_val"]


PUBLISHED_MD5 = {  # VLMEvalKit's DATASET_MD5 (and MME-Reasoning's DATASET_MD), as docs/benchmarks.md records
    "mmmu_val": "585e8ad75e73f75dcad265dfd0417d64", "mmmu_pro_standard": "22cee868fe6b680d14b99bfff6db8172",
    "mmmu_pro_vision": "d01441a87b3dbe721b5a04652ae38009", "mmstar": "e1ecd2140806c1b1bbf54b43372efb9e",
    "mmbench_en_v11": "30c05be8f2f347a50be25aa067248184", "hallusionbench": "0c23ac0dc9ef46832d7a24504f2a0c7c",
    "mathvista_testmini": "f199b98e178e5a2a20e7048f5dcb0464",
    "mathverse_vision_only": "68a11d4680014ac881fa37adeadea3a4", "mathvision": "93f6de14f7916e598aa1b7165589831e",
    "wemath": "b5e969a075f01290a542411fb7766388", "visulogic": "b0820b5ec1e01dfe3951927f0def73b6",
    "logicvista": "41c5d33adf33765c399e0e6ae588c061", "mme_reasoning": "b243f44778782d3821523689f6b40a1e",
    "seephys": "c19612ca99cc8c1351b6c3aa556d25b8",
}
NO_PUBLISHED_CHECKSUM = ("emma_mini", "mmk12", "phyx_mc_text_minimal")


@pytest.mark.parametrize("name", sorted(PUBLISHED_MD5))
def test_pinned_checksum_is_the_published_one(name):
    assert registry()[name].source.md5 == PUBLISHED_MD5[name]


@pytest.mark.parametrize("name", NO_PUBLISHED_CHECKSUM)
def test_a_source_without_a_published_checksum_pins_none(name):
    source = registry()[name].source
    assert source.md5 is None and source.sha256 is None
