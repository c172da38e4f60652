"""A hedge is not an answer: naming several options or values is never scored correct.

Every verdict comes from the production path (`verify_rules` is `Verifier.score` on a shared
verifier). Each hedge is tried against every gold it names, so a checker that takes the first or the
last alternative fails here.
"""

import pytest
from judge_server import JudgeServer

from harness.verify import JudgeConfig, Verifier, VerifyItem, verify_rules

CHOICES = {"A": "dog", "B": "cat", "C": "horse", "D": "cow"}


def mcq(response, answer="B", choices=CHOICES, thinking=True):
    return VerifyItem(id="h", question="Which animal?", answer=answer, response=response, choices=choices,
                      thinking=thinking)


def value(response, answer, answer_type="math", **kw):
    return VerifyItem(id="h", question="Solve.", answer=answer, response=response, answer_type=answer_type, **kw)


OPTION_HEDGES = [
    "t</think>\\boxed{B or C}",
    "t</think>\\boxed{B} or \\boxed{C}",
    "t</think>\\boxed{B} \\text{ or } \\boxed{C}",
    "t</think>\\boxed{B}, \\boxed{C}",
    "t</think>The answer is (B) or (C).",
    "t</think>The answer is either B or C.",
    "t</think>Final answer: **B** or **C**",
    "t</think>Answer: B/C",
    "t</think>Answer: B, C",
    "t</think>The answer is (B) and (C).",
    "t</think>Option B or option C.",
    "t</think>B or C",
    "t</think>答案是B或C",
    "t</think>答案是B或者C。",
    "t</think>答案：B和C",
    "t</think>la réponse est B ou C",
    "t</think>La bonne réponse est (B) ou (C).",
    "t</think>Die Antwort ist B oder C.",
    "t</think>Antwort: B oder C",
    "t</think>La respuesta es B o C.",
    "t</think>Respuesta: (B) o (C)",
    "t</think>Ответ: B или C",
    "t</think>答えはBまたはC",
    "The answer is B or C.",  # inside a thought that never closed
]


@pytest.mark.parametrize("response", OPTION_HEDGES)
@pytest.mark.parametrize("gold", ["B", "C"])
def test_an_answer_naming_two_options_is_a_hedge_whichever_is_gold(response, gold):
    verdict = verify_rules(mcq(response, answer=gold))
    assert (verdict.correct, verdict.method, verdict.extracted) == (False, "hedge", None)
    assert "B" in verdict.detail and "C" in verdict.detail


VALUE_HEDGES = [
    "t</think>\\boxed{3} or \\boxed{5}",
    "t</think>\\boxed{3 \\text{ or } 5}",
    "t</think>The answer is 3 or 5.",
    "t</think>The answer is either 3 or 5.",
    "t</think>The answer is 3 or maybe 5.",
    "t</think>x = 3 or x = 5",
    "t</think>3 or 5",
    "t</think>答案是3或5",
    "t</think>答案是 3 或者 5。",
    "t</think>la réponse est 3 ou 5",
    "t</think>Die Antwort ist 3 oder 5.",
    "t</think>La respuesta es 3 o 5.",
    "t</think>Ответ: 3 или 5",
    "The answer is 3 or 5.",  # inside a thought that never closed
]


@pytest.mark.parametrize("response", VALUE_HEDGES)
@pytest.mark.parametrize("gold", ["3", "5"])
@pytest.mark.parametrize("answer_type", ["number", "math"])
def test_an_answer_offering_two_values_is_a_hedge_whichever_is_gold(response, gold, answer_type):
    verdict = verify_rules(value(response, gold, answer_type))
    assert (verdict.correct, verdict.method, verdict.extracted) == (False, "hedge", None)


@pytest.mark.parametrize("response,gold", [
    ("t</think>yes or no", "yes"),
    ("t</think>The answer is Paris or Lyon.", "Paris"),
    ("t</think>答案是是或否", "是"),
])
def test_a_short_text_answer_offering_alternatives_is_a_hedge(response, gold):
    verdict = verify_rules(value(response, gold, "text"))
    assert (verdict.correct, verdict.method) == (False, "hedge")


@pytest.mark.parametrize("response,gold", [
    ("t</think>x = 3 or x = 5", "3, 5"),
    ("t</think>\\boxed{3} or \\boxed{5}", "x = 3, 5"),
    ("t</think>答案是3或5", "3, 5"),
    ("t</think>The answer is 1 or 2.", "\\{1, 2\\}"),
    ("t</think>\\boxed{2} or \\boxed{-2}", "\\pm 2"),
    ("t</think>\\boxed{[1, 3)}", "[1, 3)"),
    ("t</think>The point is \\boxed{(1, 2)}", "(1, 2)"),
    ("t</think>The answer is $12$ and $13$.", "12 \\text{ and } 13"),
])
def test_a_gold_that_lists_values_makes_a_list_answer_legitimate(response, gold):
    verdict = verify_rules(value(response, gold))
    assert verdict.correct is True and verdict.method != "hedge"


@pytest.mark.parametrize("response,gold,answer_type", [
    ("t</think>\\boxed{0.5} or \\boxed{1/2}", "0.5", "number"),
    ("t</think>The answer is 1/2 or 0.5.", "\\frac{1}{2}", "math"),
    ("t</think>The answer is x+1 or 1+x.", "x+1", "math"),
])
def test_one_value_written_twice_is_a_restatement_not_a_hedge(response, gold, answer_type):
    assert verify_rules(value(response, gold, answer_type)).correct is True


@pytest.mark.parametrize("response,gold,expected", [
    ("t</think>The answer is B or (B).", "B", True),
    ("t</think>The answer is B, because C is wrong.", "B", True),
    ("t</think>The answer is B, not C.", "B", True),
    ("t</think>The answer is 5 or so.", "5", True),
])
def test_words_around_one_answer_are_not_a_hedge(response, gold, expected):
    answer_type = "mcq" if gold.isalpha() else "number"
    item = mcq(response, gold) if answer_type == "mcq" else value(response, gold, answer_type)
    verdict = verify_rules(item)
    assert verdict.correct is expected and verdict.method != "hedge"


def test_an_option_whose_text_holds_or_is_one_option():
    choices = {"A": "black or white", "B": "red"}
    verdict = verify_rules(mcq("t</think>The answer is black or white.", answer="A", choices=choices))
    assert (verdict.correct, verdict.extracted) == (True, "A")


def test_a_text_gold_with_or_in_it_accepts_the_same_words():
    assert verify_rules(value("t</think>black or white", "black or white", "text")).correct is True


def test_a_hedge_is_final_under_every_judge_policy():
    with JudgeServer(decide=lambda system, user: "VERDICT: CORRECT") as server:
        for policy in ("fallback", "union", "always"):
            config = JudgeConfig(base_url=server.url, model="scripted-judge", policy=policy)
            with Verifier(judge=config) as verifier:
                verdict = verifier.score([mcq("t</think>The answer is B or C.")])[0]
            assert (verdict.correct, verdict.method, verdict.judge_correct) == (False, "hedge", None)
        assert server.requests == []
