"""HallusionBench: yes/no questions about figure pairs, scored at three levels.

The benchmark's authors report aAcc (all questions), fAcc (a figure counts only if every question
about it is right) and qAcc (a question counts only if it is right for every figure it is asked
about, i.e. original and edited image). VLMEvalKit's TSV encodes the grouping in the item index,
`<category>_<subcategory>_<k>_<set_id>_<figure_id>_<question_id>`; groups are keyed within the
`l2-category` column exactly as VLMEvalKit does. The single headline number VLMEvalKit leaderboards
(and this project) report as "HallusionBench" is the mean of the three.
"""

from __future__ import annotations

from harness.bench.common import group_accuracy, group_outcomes, item_accuracy, meta_text
from harness.bench.loaders import DataError
from harness.types import ScoredItem
from harness.types import Sample

_YES_NO = {"yes": "Yes", "no": "No", "1": "Yes", "0": "No", "true": "Yes", "false": "No"}


def prepare(sample: Sample, row: dict) -> Sample:
    parts = sample.id.split("_")
    if len(parts) < 6:
        raise DataError(
            f"HallusionBench item {sample.id!r}: index must look like "
            "'<category>_<subcategory>_<k>_<set_id>_<figure_id>_<question_id>' to group questions by figure"
        )
    sample.meta["set_id"], sample.meta["figure_id"], sample.meta["question_id"] = parts[3], parts[4], parts[5]
    answer = _YES_NO.get(sample.answer.strip().lower())
    if answer is None:
        raise DataError(f"HallusionBench item {sample.id!r}: answer {sample.answer!r} is not yes/no")
    sample.answer = answer
    sample.answer_type = "text"
    return sample


def _subcategory(row: ScoredItem) -> str:
    return meta_text(row, "l2-category")


def _levels(rows: list[ScoredItem]) -> dict[str, float]:
    figures = group_outcomes(rows, lambda r: (_subcategory(r), meta_text(r, "set_id"), meta_text(r, "figure_id")))
    questions = group_outcomes(rows, lambda r: (_subcategory(r), meta_text(r, "set_id"), meta_text(r, "question_id")))
    scores = {"aAcc": item_accuracy(rows), "fAcc": group_accuracy(figures), "qAcc": group_accuracy(questions)}
    scores["overall"] = (scores["aAcc"] + scores["fAcc"] + scores["qAcc"]) / 3
    return scores


def scores(rows: list[ScoredItem]) -> dict:
    """aAcc, fAcc, qAcc and their mean, overall and per category (VD/VS) and subcategory."""
    result: dict = _levels(rows)
    for column, label in (("category", "by_category"), ("l2-category", "by_subcategory")):
        names = sorted({meta_text(r, column) for r in rows} - {""})
        for name in names:
            subset = [r for r in rows if meta_text(r, column) == name]
            for level, value in _levels(subset).items():
                result.setdefault(f"{label}_{level}", {})[name] = value
    return result
