"""A thought cut off mid-deliberation is scored only on a committed final-answer marker inside it.

Under `--budget-policy cap` most low-budget responses end inside `<think>`: the text below has no
`</think>`. An option or number the model merely weighs ("maybe the answer is B, but ...") must never
be scored correct; an explicit, committed marker ("So the answer is B.", "\\boxed{7}") still counts. The
`lenient` policy keeps the reading from before the policy existed, for comparison.
"""

import json

import pytest
from runfixtures import RunSpec, make_items, write_run

from harness.cli import score as cli_score
from harness.rundir import RunDir
from harness.verify import Verifier, VerifyItem, verify_rules
from harness.verify.scoring import score_run

CHOICES = {"A": "dog", "B": "cat", "C": "horse", "D": "cow"}


def cut_off(response, answer="B", **kw):
    if answer.isdigit():
        return VerifyItem(id="u", question="q", answer=answer, response=response, answer_type="number", **kw)
    return VerifyItem(id="u", question="q", answer=answer, response=response, choices=CHOICES, **kw)


DELIBERATION = [
    # English
    "Let me consider option B... the cat in the figure",
    "Maybe the answer is B, but the tail looks wrong",
    "maybe the answer is B but let me check",
    "If the answer is (B), then the animal would be smaller",
    "Is the answer B? Let me check the figure",
    "So the answer is probably B, but",
    "I wonder whether the answer is B. Let me look again",
    "Suppose the answer is B; then the shadow",
    "Hmm, the answer would be B if the ears were pointed, but",
    "The answer is B? No, look at the",
    # Chinese
    "也许答案是B，但是尾巴不对",
    "答案可能是B吧，再看看",
    "如果答案是B，那么",
    "答案是B吗？再想想",
    # French
    "Peut-être que la réponse est B, mais la queue",
    "Si la réponse est B, alors",
    "La réponse est peut-être B, mais vérifions",
    # German
    "Die Antwort ist vielleicht B, aber der Schwanz",
    "Falls die Antwort ist B, dann",
    # Spanish
    "Quizás la respuesta es B, pero la cola",
    "Si la respuesta es B, entonces",
    # Russian
    "Возможно, ответ: B, но хвост",
    "Если ответ — B, то",
]


@pytest.mark.parametrize("thought", DELIBERATION)
def test_an_option_weighed_in_a_cut_off_thought_is_never_scored_correct(thought):
    verdict = verify_rules(cut_off(thought))
    assert verdict.correct is False and verdict.extracted is None
    assert (verdict.method, verdict.finished, verdict.format_ok) == ("no_answer", False, False)


@pytest.mark.parametrize("thought", [
    "Maybe the answer is 7, but let me recount",
    "If the answer is 7, the total would be 21",
    "也许答案是7，但是",
    "Vielleicht: die Antwort ist 7, aber",
    "Quizás la respuesta es 7, pero",
    "The sides are 3 and 7, and 7 appears twice",
])
def test_a_number_weighed_in_a_cut_off_thought_is_never_scored_correct(thought):
    verdict = verify_rules(cut_off(thought, answer="7"))
    assert (verdict.correct, verdict.method) == (False, "no_answer")


@pytest.mark.parametrize("thought", [
    "So the answer is B.\nWait, let me double-check the figure",
    "Therefore the answer is (B). Now let me verify the other options",
    "Answer: B. Hmm, but what about",
    "The final answer is \\boxed{B} but wait",
    "答案是B。让我再检查一下",
    "正确答案为B。不过",
    "La réponse est B. Vérifions encore",
    "Die Antwort ist B. Moment mal",
    "La respuesta es B. Un momento",
    "Ответ: B. Проверим ещё раз",
    "So the answer is B.\nHmm, maybe the answer is C, but",  # a committed marker before a doubtful one
])
def test_a_committed_marker_in_a_cut_off_thought_counts(thought):
    verdict = verify_rules(cut_off(thought))
    assert (verdict.correct, verdict.extracted, verdict.method, verdict.finished) == (True, "B", "mcq", False)


def test_a_box_in_a_cut_off_thought_counts():
    verdict = verify_rules(cut_off("so it is \\boxed{7} but wait", answer="7"))
    assert (verdict.correct, verdict.method, verdict.finished) == (True, "numeric", False)


def test_a_hedge_in_a_cut_off_thought_is_a_hedge():
    verdict = verify_rules(cut_off("So the answer is B or C.\nLet me check"))
    assert (verdict.correct, verdict.method) == (False, "hedge")


@pytest.mark.parametrize("thought,marked,lenient", [
    ("maybe the answer is B but let me check", None, "B"),
    ("If the answer is (B), then the animal", None, "B"),
    ("So the answer is B.\nHmm, maybe the answer is C, but", "B", "C"),
])
def test_the_lenient_policy_keeps_the_reading_from_before(thought, marked, lenient):
    assert verify_rules(cut_off(thought)).extracted == marked
    assert verify_rules(cut_off(thought), unfinished="lenient").extracted == lenient


def test_finished_is_true_false_or_none_by_mode():
    assert verify_rules(cut_off("t</think>The answer is B.")).finished is True
    assert verify_rules(cut_off("still thinking about B")).finished is False
    assert verify_rules(cut_off("The answer is B.", thinking=False)).finished is None


def test_the_policy_is_recorded_in_the_manifest_and_checked():
    with Verifier(unfinished="lenient") as verifier:
        assert verifier.manifest()["rules"]["unfinished"] == "lenient"
    with pytest.raises(ValueError, match="unfinished-thought policy 'loose'"):
        Verifier(unfinished="loose")


def _cut_off_text(item, sample, correct, mode):
    if sample == 0:
        return "Let me consider option B. Maybe the answer is B, but"
    return "So the answer is B.\nWait"


def test_a_run_directory_records_finished_and_the_policy(tmp_path):
    items = [dict(item, answer="B") for item in make_items("sample", 2, with_thumbnails=False)]
    run = write_run(tmp_path / "run", RunSpec(items=items, outcomes={(i["benchmark"], i["id"]): [True, True]
                                                                     for i in items}, text=_cut_off_text))
    rows = score_run(RunDir(run))
    assert [(r["sample_index"], r["correct"], r["finished"]) for r in rows] == [
        (0, False, False), (1, True, False)] * 2
    on_disk = [json.loads(line) for line in (run / "scores.jsonl").read_text().splitlines()]
    assert [r["finished"] for r in on_disk] == [False] * 4
    assert json.loads((run / "manifest.json").read_text())["judge"]["rules"]["unfinished"] == "marked"
    lenient = score_run(RunDir(run), unfinished="lenient")
    assert [r["correct"] for r in lenient] == [True, True] * 2


def test_harness_score_takes_the_policy(tmp_path, capsys):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"id": "x", "question": "q", "answer": "B", "response":
                                "maybe the answer is B but let me check", "choices": CHOICES,
                                "thinking": True}) + "\n", encoding="utf-8")
    for policy, expected in (("marked", False), ("lenient", True)):
        parser = cli_score.argparse.ArgumentParser()
        cli_score.configure(parser)
        assert cli_score.main(parser.parse_args([str(path), "--unfinished", policy])) == 0
        row = json.loads(capsys.readouterr().out)
        assert (row["correct"], row["finished"]) == (expected, False)
