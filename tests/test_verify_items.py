"""What an item brings besides its gold: accepted answers, a stated precision, and the right to be invalid.

A malformed item is reported as `invalid_item` (correct=None, the reason in `detail`) and every other
item is still scored; runs read `accepted_answers` and `precision` from each item's meta.
"""

import json

import pytest
from judge_server import JudgeServer
from runfixtures import RunSpec, make_items, write_run

from harness.rundir import RunDir
from harness.verify import JudgeConfig, Verifier, VerifyItem, verify_rules
from harness.verify.items import answer_extras
from harness.verify.scoring import score_run

CHOICES = {"A": "dog", "B": "cat"}


def item(answer, response, **kw):
    return VerifyItem(id=kw.pop("id", "i"), question="q", answer=answer, response=response, **kw)


def test_malformed_items_are_reported_and_the_rest_is_scored(capsys):
    batch = [
        item("B", "t</think>\\boxed{B}", choices=CHOICES, id="good1"),
        item("", "t</think>\\boxed{B}", id="empty"),
        item("zebra", "t</think>\\boxed{B}", choices=CHOICES, id="no-option"),
        item("A", "t</think>A", choices={"A": "dog", "first": "cat"}, id="bad-key"),
        item("12", "t</think>The answer is 12.", answer_type="number", id="good2"),
    ]
    with Verifier() as verifier:
        verdicts = verifier.score(batch, progress=True)
    assert [v.method for v in verdicts] == ["mcq", "invalid_item", "invalid_item", "invalid_item", "numeric"]
    assert [v.correct for v in verdicts] == [True, None, None, None, True]
    assert verdicts[1].detail == "the gold answer is empty"
    assert "'zebra' is neither an option letter" in verdicts[2].detail
    assert "choice key 'first'" in verdicts[3].detail
    err = capsys.readouterr().err
    assert "item 'empty' not scored (invalid_item): the gold answer is empty" in err
    assert "item 'no-option' not scored" in err


def test_invalid_items_are_never_sent_to_the_judge():
    with JudgeServer() as server:
        config = JudgeConfig(base_url=server.url, model="scripted-judge", policy="always")
        with Verifier(judge=config) as verifier:
            verdict = verifier.score([item("zebra", "t</think>zebra", choices=CHOICES)])[0]
        assert (verdict.method, verdict.correct, server.requests) == ("invalid_item", None, [])


@pytest.mark.parametrize("answer,accepted,response,answer_type,method", [
    ("Paris", ("Paris, France",), "t</think>The answer is Paris, France.", "text", "string"),
    ("24/7", ("3.429",), "t</think>\\boxed{3.429}", "number", "numeric"),
    ("\\frac{1}{2}", ("0.25",), "t</think>\\boxed{\\frac{1}{4}}", "math", "numeric"),
    ("x+1", ("x+2",), "t</think>\\boxed{2+x}", "math", "algebra"),
    ("\\cos x", ("\\sin^2 x",), "t</think>\\boxed{1-\\cos^2 x}", "math", "math_verify"),
    ("A", ("B",), "t</think>\\boxed{B}", "mcq", "mcq"),
])
def test_an_accepted_answer_counts_as_the_gold(answer, accepted, response, answer_type, method):
    choices = CHOICES if answer_type == "mcq" else None
    without = verify_rules(item(answer, response, answer_type=answer_type, choices=choices))
    with_accepted = verify_rules(item(answer, response, answer_type=answer_type, choices=choices, accepted=accepted))
    assert without.correct is False
    assert (with_accepted.correct, with_accepted.method) == (True, method)


def test_an_accepted_answer_that_is_no_option_makes_the_item_invalid():
    verdict = verify_rules(item("A", "t</think>A", choices=CHOICES, accepted=("zebra",)))
    assert verdict.method == "invalid_item" and "'zebra'" in verdict.detail


@pytest.mark.parametrize("gold,response,answer_type,precision,expected", [
    ("3.14", "t</think>\\boxed{3.1416}", "number", 2, True),
    ("3.1", "t</think>\\boxed{3.14}", "number", 2, False),  # the gold itself has fewer decimals: no match
    ("2", "t</think>\\boxed{2.4}", "number", 0, True),
    ("2.5", "t</think>\\boxed{2.46}", "number", None, True),  # the gold's own written precision
    ("2.50", "t</think>\\boxed{2.46}", "number", None, False),
    ("\\frac{1}{3}", "t</think>\\boxed{0.33}", "math", 2, True),
    ("\\frac{1}{3}", "t</think>\\boxed{0.33}", "math", None, False),
    ("\\sqrt{2}", "t</think>\\boxed{1.41}", "math", 2, True),  # math-verify rounds to the precision
    ("\\sqrt{2}", "t</think>\\boxed{1.41}", "math", None, False),
])
def test_a_stated_precision_is_honoured_per_item(gold, response, answer_type, precision, expected):
    verdict = verify_rules(item(gold, response, answer_type=answer_type, precision=precision))
    assert verdict.correct is expected


@pytest.mark.parametrize("kwargs,message", [
    ({"precision": -1}, "precision must be a whole number"),
    ({"precision": 2.5}, "precision must be a whole number"),
    ({"precision": True}, "precision must be a whole number"),
    ({"accepted": "Paris"}, "accepted must be a tuple of strings"),
    ({"accepted": (1,)}, "accepted must be a tuple of strings"),
])
def test_item_fields_of_the_wrong_type_are_refused_at_construction(kwargs, message):
    with pytest.raises((TypeError, ValueError), match=message):
        item("1", "1", **kwargs)


def test_answer_extras_read_what_benchmarks_write():
    assert answer_extras({}) == {}
    assert answer_extras({"accepted_answers": ["24/7", 3.429], "precision": 2.0}) == {
        "accepted": ("24/7", "3.429"), "precision": 2}
    assert answer_extras({"accepted_answers": "Paris", "precision": "1"}) == {"accepted": ("Paris",), "precision": 1}
    with pytest.raises(ValueError, match="accepted_answers must be a list of strings"):
        answer_extras({"accepted_answers": {"a": 1}})
    with pytest.raises(ValueError, match="precision must be a whole number .* got 'two'"):
        answer_extras({"precision": "two"})


def _answers(item, sample, correct, mode):
    return {"q00000": "r</think>\\boxed{3.1416}", "q00001": "r</think>The answer is Paris, France.",
            "q00002": "r</think>\\boxed{B}", "q00003": "r</think>\\boxed{3}"}[item["id"]]


def test_a_run_directory_passes_precision_and_accepted_answers_from_item_meta(tmp_path):
    items = make_items("sample", 4, with_thumbnails=False)
    items[0].update(answer="3.14", answer_type="number", choices={}, meta={"precision": 2})
    items[1].update(answer="Paris", answer_type="text", choices={}, meta={"accepted_answers": ["Paris, France"]})
    items[2].update(answer="", answer_type="mcq")  # no gold at all
    items[3].update(answer="3", answer_type="number", choices={}, meta={"precision": "many"})
    run = write_run(tmp_path / "run", RunSpec(items=items, outcomes={(i["benchmark"], i["id"]): [True]
                                                                     for i in items}, samples=1, text=_answers))
    rows = score_run(RunDir(run))
    assert [(r["id"], r["correct"], r["method"]) for r in rows] == [
        ("q00000", True, "numeric"), ("q00001", True, "string"),
        ("q00002", None, "invalid_item"), ("q00003", None, "invalid_item")]
    assert rows[2]["detail"] == "the gold answer is empty"
    assert rows[3]["detail"].startswith("items.jsonl: item 'q00003': precision must be a whole number")
    on_disk = [json.loads(line) for line in (run / "scores.jsonl").read_text().splitlines()]
    assert [r["method"] for r in on_disk] == [r["method"] for r in rows]
