"""The peers' rules as their scripts behave, on hand-written cases; the comparison and its reasons.

The R1V3 release's rule is simple enough that its facts are the specification: these cases follow
`eval/vlmevalkit/eval_shell/rule_base_mmmu.py` (last non-greedy box, `$` / lower-case commands /
spaces / edge braces removed, lower-cased, rule OR VLMEvalKit's hit). VLMEvalKit and lmms-eval are
checked against their own code on the whole corpus in test_parity_peers.py; the cases here pin the
behaviours docs/parity.md describes.
"""

from __future__ import annotations

import pytest

from harness.types import Verdict
from harness.verify.parity import (PEERS, REASONS, ParityInputError, ParityReport, PeerOptions, compare,
                                   format_report, parity_item)
from harness.verify.parity import lmms_eval, r1v3, vlmevalkit

OPTIONS = ["cat", "dog", "cow", "hen"]


def mcq(response: str, answer: str = "B", options=OPTIONS, **extra):
    return parity_item({"id": "validation_Art_1", "answer": answer, "response": response, "choices": options, **extra},
                       key="k")


def open_item(response: str, answer: str, **extra):
    return parity_item({"id": "validation_Math_2", "answer": answer, "response": response, **extra}, key="k")


def free(response: str, answer: str, kind: str, precision=None):
    return parity_item({"id": "pid-3", "answer": answer, "response": response,
                        "meta": {"question_type": "free_form", "answer_type": kind, "precision": precision}}, key="k")


# ------------------------------------------------------------------ R1V3 release


@pytest.mark.parametrize("prediction,answer,expected", [
    ("\\boxed{A} first, then \\boxed{B}", "B", True),              # the last box
    ("\\boxed{b}", "B", True),                                       # lower-cased
    ("$\\boxed{\\text{B}}$", "B", True),                             # "\\text{B" -> "{B" -> "b"
    ("\\boxed{ B }", "B", True),                                     # stripped
    ("\\boxed{B.}", "B", False),                                     # punctuation stays
    ("\\boxed{\\frac{1}{2}}", "\\frac{1}{2}", False),                # non-greedy: "\\frac{1"
    ("\\boxed{\\frac{1}{2}}", "1", True),                            # ... which normalises to "1"
    ("\\boxed{\nB\n}", "B", False),                                  # no newline inside the pattern
    ("\\boxed{\\Delta}", "delta", False),                            # only lower-case commands are removed
    ("\\boxed{5 cm}", "5", False),                                   # "5cm" vs "5": text, not numbers
    ("The answer is B", "B", False),                                 # no box, no rule
])
def test_r1v3_box_rule(prediction, answer, expected):
    assert r1v3.box_rule(prediction, answer) is expected


def test_r1v3_is_the_box_rule_or_vlmevalkit_hit():
    boxed, prefetched, neither = mcq("\\boxed{B}"), mcq("The answer is B"), mcq("I would say \\boxed{(b)} maybe")
    verdicts = r1v3.score([boxed, prefetched, neither], PeerOptions())
    assert [(v.correct, v.path) for v in verdicts] == [(True, "box"), (True, "hit_option"), (False, "needs_gpt")]


def test_r1v3_asks_the_judge_only_where_vlmevalkit_would_ask_its_gpt():
    items = [mcq("\\boxed{B}"), mcq("The answer is A"), mcq("I would say \\boxed{(b)} maybe")]
    asked = []

    def judge(indices):
        asked.extend(indices)
        return [True for _ in indices]

    verdicts = r1v3.score(items, PeerOptions(), judge)
    assert asked == [2]  # the box settles item 0; VLMEvalKit's prefetch settles item 1 (wrongly)
    assert [(v.correct, v.path) for v in verdicts] == [(True, "box"), (False, "miss"), (True, "judge")]


def test_r1v3_scores_mathvista_as_vlmevalkit_does():
    item = free("\\boxed{5}", "5", "integer")
    assert r1v3.score([item], PeerOptions())[0].path == vlmevalkit.score([item], PeerOptions())[0].path == "needs_gpt"


# ------------------------------------------------------------------ VLMEvalKit


def test_vlmevalkit_exact_matching_never_draws_at_random():
    verdict = vlmevalkit.score([mcq("no letter here at all, sorry")], PeerOptions())[0]
    assert (verdict.extracted, verdict.correct, verdict.random) == ("Z", False, False)


def test_vlmevalkit_letter_must_be_alone_and_near_the_end():
    near, far, two = mcq("so it is B"), mcq("B is what I pick for this one"), mcq("A or B")
    assert [v.extracted for v in vlmevalkit.score([near, far, two], PeerOptions())] == ["B", "Z", "Z"]


def test_vlmevalkit_open_question_is_two_options():
    right, other = open_item("5", "5"), open_item("It is B", "5")
    verdicts = vlmevalkit.score([right, other], PeerOptions())
    assert [(v.correct, v.extracted) for v in verdicts] == [(True, "A"), (False, "B")]


def test_vlmevalkit_split_think_scores_the_answer_part():
    item = mcq("<think>Maybe A, maybe C, who knows what the figure means here.</think>B")
    assert vlmevalkit.score([item], PeerOptions())[0].extracted == "Z"
    assert vlmevalkit.score([item], PeerOptions(split_think=True))[0].extracted == "B"


def test_vlmevalkit_mathvista_prefetch_is_exact_and_zero_is_falsy():
    items = [free("1.50", "1.5", "float", 1.0), free("1.54", "1.5", "float", 1.0), free("0", "0", "integer"),
             free("The answer is 7", "7", "integer")]
    assert [(v.correct, v.path) for v in vlmevalkit.score(items, PeerOptions())] == [
        (True, "prefetch_value"), (False, "needs_gpt"), (False, "zero_answer"), (False, "needs_gpt")]


# ------------------------------------------------------------------ lmms-eval


def test_lmms_eval_strips_reasoning_like_its_command_line():
    assert lmms_eval.strip_reasoning("<think>A</think> B ") == "B"
    assert lmms_eval.strip_reasoning("reasoning</think>B") == "B"         # the template opened the thought
    assert lmms_eval.strip_reasoning("<think>unclosed B") == "<think>unclosed B"


def test_lmms_eval_random_letters_follow_the_seeded_stream():
    items = [mcq("\\boxed{B}") for _ in range(12)]  # "{B}" is no letter shape to the reference parser
    first = [v.extracted for v in lmms_eval.score(items, PeerOptions(seed=0))]
    again = [v.extracted for v in lmms_eval.score(items, PeerOptions(seed=0))]
    other = [v.extracted for v in lmms_eval.score(items, PeerOptions(seed=1))]
    assert first == again != other and len(set(first)) > 1
    assert all(v.random for v in lmms_eval.score(items, PeerOptions()))


def test_lmms_eval_takes_the_last_letter_written():
    assert lmms_eval.score([mcq("(B) first, but (D) in the end")], PeerOptions())[0].extracted == "D"


def test_lmms_eval_open_answers_match_by_substring_and_rounded_numbers():
    items = [open_item("It is a category", "cat"), open_item("It is 3.14", "3.14159"),
             open_item("\\boxed{\\frac{1}{2}}", "0.5"), open_item("The answer is not 5, it is 7", "5")]
    assert [v.correct for v in lmms_eval.score(items, PeerOptions())] == [True, True, False, False]


def test_lmms_eval_mathvista_float_precision_always_fails():
    items = [free("1.5", "1.5", "float", 1.0), free("7", "7", "integer"), free("7 apples", "7", "integer")]
    assert [(v.correct, v.path) for v in lmms_eval.score(items, PeerOptions())] == [
        (False, "unnormalizable"), (True, "whole_integer"), (False, "needs_gpt")]


def test_lmms_eval_mathvista_choice_without_extraction_takes_the_shortest_option():
    item = parity_item({"id": "pid-4", "answer": "C", "response": "I pick the third one",
                        "choices": ["long option", "medium", "ox"],
                        "meta": {"question_type": "multi_choice", "answer_type": "text"}}, key="k")
    verdict = lmms_eval.score([item], PeerOptions())[0]
    assert (verdict.correct, verdict.extracted, verdict.path) == (True, "ox", "nearest_option")


# ------------------------------------------------------------------ the comparison


def ours(correct, method="mcq", extracted="B"):
    return Verdict(extracted=extracted, correct=correct, method=method, format_ok=True)


def test_every_difference_has_one_known_reason():
    items = [mcq("<think>The answer is B", thinking=True), mcq("\\boxed{B}"), mcq(""), mcq("B"), mcq("B")]
    mine = [ours(True), ours(True), ours(False, "no_answer", None), ours(None, "timeout"), ours(False, "hedge")]
    report = compare("lmms-eval", items, mine, PeerOptions(seed=3))
    reasons = {d.key + str(i): d.reason for i, d in enumerate(report.differences)}
    assert set(reasons.values()) <= set(REASONS)
    by_index = [d.reason for d in report.differences]
    assert "undecided_ours" in by_index and "hedge" in by_index
    assert report.items == 5 and report.ours_decided == 4 and report.agree + len(report.differences) == 5


def test_unclosed_thought_is_named_from_the_text():
    item = mcq("<think>Let me see. So it is B", thinking=True)
    report = compare("vlmevalkit", [item], [ours(False, "no_answer", None)])
    assert [d.reason for d in report.differences] == ["unclosed_thought"]


def test_report_round_trips_through_json_and_prints_both_accuracies():
    items = [mcq("\\boxed{B}"), mcq("\\boxed{A}"), mcq("B")]
    report = compare("r1v3", items, [ours(True), ours(False, extracted="A"), ours(False, "no_answer", None)])
    again = ParityReport.from_json(report.to_json())
    assert again == report
    text = format_report(report)
    assert "ours 33.3% (1/3)" in text and "r1v3 66.7% (2/3)" in text and "union" in text


def test_random_draws_are_also_counted_at_their_expected_value():
    items = [mcq("\\boxed{B}") for _ in range(8)]
    report = compare("lmms-eval", items, [ours(True)] * 8)
    assert report.random_draws == 8 and report.expected_peer_correct == pytest.approx(8 / 4)


def test_peer_names_and_bad_items_fail_with_one_clear_line():
    with pytest.raises(ValueError, match="unknown parity peer 'vlmeval'"):
        compare("vlmeval", [], [])
    with pytest.raises(ParityInputError, match="item 'pid-5': MathVista answer_type 'number'"):
        parity_item({"id": "pid-5", "answer": "5", "response": "5",
                     "meta": {"question_type": "free_form", "answer_type": "number"}}, key="k")
    assert set(PEERS) == {"vlmevalkit", "lmms-eval", "r1v3"}


@pytest.mark.parametrize("peer,item,mine,reason", [
    ("vlmevalkit", mcq("<think>Is it A, or maybe C? Let me look again at it.</think>\\boxed{B}"), ours(True),
     "reads_thought"),
    ("vlmevalkit", mcq("答案是B"), ours(True), "ours_only"),
    ("vlmevalkit", open_item("The answer is 5 cm", "5"), ours(False, "string", "5 cm"), "open_as_choice"),
    ("lmms-eval", mcq("(B) at first, then (C)"), ours(True), "last_letter"),
    ("lmms-eval", mcq("Since DNA is copied, \\boxed{B}"), ours(True), "stray_letter"),
    ("lmms-eval", open_item("7 it is so \nok", "7"), ours(True, "numeric", "7"), "key_phrase"),
    ("r1v3", mcq("The answer is B"), ours(False, "no_answer", None), "union"),
    ("r1v3", mcq("I would say (B), surely, because of the long and careful look"), ours(True), "no_box"),
    ("r1v3", open_item("\\boxed{\\frac{1}{2}}", "0.5"), ours(True, "numeric", "\\frac{1}{2}"), "non_greedy_box"),
])
def test_reasons_name_what_the_peer_did(peer, item, mine, reason):
    assert [d.reason for d in compare(peer, [item], [mine]).differences] == [reason]
