"""Benchmark metric functions on hand-built scored items: the special cases the published rules imply.

Undecided items (`correct is None`) must never turn into wrong or right answers; malformed rows must
fail with the item named. These run on `ScoredItem`s directly, without files or a verifier.
"""

from __future__ import annotations

import pytest

from harness.bench import hallusionbench, mathverse, mathvista, mmbench, wemath
from harness.bench.common import accuracy_table
from harness.bench.loaders import DataError
from harness.types import ScoredItem
from harness.types import Sample


def item(item_id: str, correct: bool | None, **meta) -> ScoredItem:
    return ScoredItem(id=item_id, sample_index=0, answer="A", answer_type="mcq", correct=correct, meta=meta)


def test_undecided_items_leave_the_denominator_of_a_table():
    rows = [item("1", True, c="x"), item("2", None, c="x"), item("3", False, c="y")]
    assert accuracy_table(rows, lambda r: r.meta["c"]) == {"x": 100.0, "y": 0.0}


def test_circular_group_with_an_undecided_rotation_is_counted_apart():
    rows = [item("1", True, circular_group=1, rotation=0), item("1000001", None, circular_group=1, rotation=1),
            item("2", True, circular_group=2, rotation=0), item("1000002", True, circular_group=2, rotation=1),
            item("3", True, circular_group=3, rotation=0), item("1000003", False, circular_group=3, rotation=1)]
    scores = mmbench.circular_accuracy(rows)
    assert scores["circular_accuracy"] == pytest.approx(50.0)
    assert scores["undecided_groups"] == 1.0


def test_mmbench_prepare_rejects_a_non_integer_index():
    with pytest.raises(DataError, match="'abc'"):
        mmbench.prepare(Sample(id="abc", question="q", answer="A"), {})


def test_hallusionbench_prepare_rejects_an_index_without_figure_ids():
    with pytest.raises(DataError, match="'VD_figure_1'"):
        hallusionbench.prepare(Sample(id="VD_figure_1", question="q", answer="Yes"), {})


def test_hallusionbench_prepare_reads_numeric_gold_answers_as_yes_no():
    sample = hallusionbench.prepare(Sample(id="VS_map_0_3_1_2", question="q", answer="0"), {})
    assert (sample.answer, sample.meta["set_id"], sample.meta["figure_id"], sample.meta["question_id"]) == \
        ("No", "3", "1", "2")


def test_wemath_problem_without_its_composite_is_unclassifiable():
    rows = [item("1", True, ID="p1", key="2steps_1"), item("2", True, ID="p1", key="2steps_2"),
            item("3", True, ID="p2", key="2steps_1"), item("4", True, ID="p2", key="2steps_2"),
            item("5", True, ID="p2", key="2steps_multi")]
    scores = wemath.scores(rows)
    assert (scores["problems_scored"], scores["problems_unclassifiable"]) == (1.0, 1.0)
    assert scores["score_strict"] == pytest.approx(100.0)


def test_wemath_rejects_an_unknown_step_key():
    with pytest.raises(ValueError, match="'4steps_1'"):
        wemath.scores([item("1", True, ID="p1", key="4steps_1")])


def test_mathvista_prepare_rejects_an_answer_outside_the_choices():
    sample = Sample(id="7", question="q", answer="9", meta={"question_type": "multi_choice", "choices": "['1', '2']"})
    with pytest.raises(DataError, match="item '7'"):
        mathvista.prepare(sample, {})


def test_mathverse_metadata_is_read_as_a_literal_never_evaluated():
    sample = Sample(id="8", question="q", answer="1", meta={"metadata": "__import__('os').getcwd()"})
    with pytest.raises(DataError, match="not a literal dict"):
        mathverse.prepare(sample, {})
