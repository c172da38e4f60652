"""Rule verdicts per answer type (in-process `verify_rules`), and answer-type inference."""

import pytest

from harness.types import infer_answer_type
from harness.verify import VerifyItem, verify_rules


def item(answer, response, **kw):
    return VerifyItem(id=kw.pop("id", "t1"), question=kw.pop("question", "q?"), answer=answer, response=response, **kw)


def test_mcq_letter_equality():
    v = verify_rules(item("B", "thinking</think>The answer is (B).", choices=["x", "y", "z"]))
    assert (v.extracted, v.correct, v.method, v.format_ok) == ("B", True, "mcq", True)


def test_mcq_wrong_letter_is_wrong():
    v = verify_rules(item("B", "t</think>\\boxed{C}", choices=["x", "y", "z"]))
    assert (v.extracted, v.correct, v.method) == ("C", False, "mcq")


def test_mcq_gold_given_as_option_text():
    v = verify_rules(item("cat", "t</think>\\boxed{B}", choices={"A": "dog", "B": "cat"}))
    assert v.correct is True


def test_mcq_gold_that_is_no_option_is_an_invalid_item_with_its_reason():
    v = verify_rules(item("zebra", "t</think>B", choices={"A": "dog", "B": "cat"}, id="bad7"))
    assert (v.correct, v.method, v.extracted) == (None, "invalid_item", None)
    assert "'zebra' is neither an option letter" in v.detail


def test_mcq_gold_letter_outside_the_options_is_an_invalid_item():
    v = verify_rules(item("E", "t</think>E", choices={"A": "dog", "B": "cat"}))
    assert (v.correct, v.method) == (None, "invalid_item")


def test_mcq_without_any_identifiable_option_is_no_answer_not_a_random_pick():
    v = verify_rules(item("B", "t</think>I cannot tell from the image.", choices=["x", "y", "z"]))
    assert v.extracted is None and v.method == "no_answer" and v.correct is False


def test_mcq_marked_answer_naming_no_option_is_unmatched():
    v = verify_rules(item("B", "t</think>\\boxed{giraffe}", choices={"A": "dog", "B": "cat"}))
    assert v.method == "unmatched" and v.extracted == "giraffe" and v.correct is False


def test_number_with_units_and_separators():
    assert verify_rules(item("1234", "t</think>The total is 1,234 kg.", answer_type="number")).correct is True


def test_number_within_the_gold_precision():
    v = verify_rules(item("0.33", "t</think>\\boxed{0.3333}", answer_type="number"))
    assert (v.correct, v.method) == (True, "numeric")


def test_number_outside_tolerance_is_wrong():
    assert verify_rules(item("12", "t</think>\\boxed{12.5}", answer_type="number")).correct is False


def test_percent_against_a_fraction_of_one():
    assert verify_rules(item("0.45", "t</think>\\boxed{45\\%}", answer_type="number")).correct is True


def test_number_gold_with_a_symbolic_prediction_goes_to_math_verify():
    v = verify_rules(item("1.4142", "t</think>\\boxed{\\sqrt{2}}", answer_type="number"))
    assert (v.correct, v.method) == (True, "math_verify")


def test_math_symbolic_equivalence():
    # outside the exact algebra subset (a variable in a denominator): math-verify decides
    v = verify_rules(item("x+1", "t</think>\\boxed{\\frac{x^2-1}{x-1}}", answer_type="math"))
    assert (v.correct, v.method) == (True, "math_verify")


def test_polynomials_inside_the_algebra_subset_skip_math_verify():
    v = verify_rules(item("(x+1)^2", "t</think>\\boxed{x^2+2x+1}", answer_type="math"))
    assert (v.correct, v.method) == (True, "algebra")


def test_math_symbolic_difference():
    assert verify_rules(item("(x+1)^2", "t</think>\\boxed{x^2+1}", answer_type="math")).correct is False


@pytest.mark.parametrize("gold,pred", [
    ("\\frac{\\sqrt{3}}{2}", "\\frac{1}{2}\\sqrt{3}"),
    ("[1, 3)", "\\left[1, 3\\right)"),
    ("\\{1, 2, 3\\}", "\\{3, 2, 1\\}"),
    ("\\begin{pmatrix}1 & 2\\\\3 & 4\\end{pmatrix}", "\\begin{pmatrix}1 & 2\\\\3 & 4\\end{pmatrix}"),
    ("2\\pi", "2 \\pi"),
])
def test_math_forms(gold, pred):
    assert verify_rules(item(gold, f"t</think>\\boxed{{{pred}}}", answer_type="math")).correct is True


def test_text_normalised_equality():
    assert verify_rules(item("The Eiffel Tower", "t</think>**eiffel tower**", answer_type="text")).correct is True


def test_yes_no_by_first_word():
    assert verify_rules(item("Yes", "t</think>Yes, the line is longer.")).correct is True
    assert verify_rules(item("Yes", "t</think>No, they are equal.")).correct is False


def test_unfinished_thought_scores_only_a_marked_answer():
    marked = verify_rules(item("7", "so it is \\boxed{7} but wait", answer_type="number"))
    unmarked = verify_rules(item("7", "the sides are 3 and 7", answer_type="number"))
    assert (marked.correct, marked.format_ok) == (True, False)
    assert (unmarked.method, unmarked.correct) == ("no_answer", False)


def test_nothink_response_is_scored_whole():
    v = verify_rules(item("4", "The answer is 4.", answer_type="number", thinking=False))
    assert (v.correct, v.format_ok) == (True, True)


def test_empty_gold_is_an_invalid_item():
    v = verify_rules(item("  ", "t</think>4"))
    assert (v.correct, v.method, v.detail) == (None, "invalid_item", "the gold answer is empty")


def test_choice_keys_that_are_no_letters_make_an_invalid_item():
    v = verify_rules(item("A", "t</think>A", choices={"A": "dog", "first": "cat"}, id="k1"))
    assert v.method == "invalid_item" and "choice key 'first'" in v.detail


def test_bad_answer_type_is_an_error():
    with pytest.raises(ValueError, match="answer_type 'essay'"):
        item("4", "4", answer_type="essay")


@pytest.mark.parametrize("answer,choices,expected", [
    ("B", {"A": "x", "B": "y"}, "mcq"),
    ("C", None, "mcq"),
    ("42", None, "number"),
    ("-1,000.5", None, "number"),
    ("\\frac{1}{2}", None, "math"),
    ("x^2", None, "math"),
    ("Paris", None, "text"),
    ("A", None, "mcq"),
    ("(B)", None, "mcq"),
    ("x=3", None, "math"),
    ("f(x)", None, "math"),
    ("pi", None, "math"),
    ("[1, 2]", None, "math"),
    ("12", {"A": "12", "B": "13"}, "mcq"),
])
def test_answer_type_inference(answer, choices, expected):
    assert infer_answer_type(answer, choices or {}) == expected
