"""Answer extraction: splitting the thought, boxes, answer phrases, option letters, numbers."""

import pytest

from harness.modes import split_thinking
from harness.verify.extract import final_box_run, last_boxed, parse_number
from harness.verify.markers import last_phrase
from harness.verify.options import letter_from_candidate, letter_in_text

CHOICES = {"A": "dog", "B": "cat", "C": "horse", "D": "10 cm"}


def final_boxes(text):
    run = final_box_run(text)
    return list(run.contents) if run else []


def answer_phrase(text):
    phrase = last_phrase(text)
    return phrase.text if phrase else None


def test_split_uses_the_last_think_close():
    split = split_thinking("a</think>b</think> final")
    assert split.answer == " final" and split.thought == "a</think>b"


def test_split_accepts_thought_opened_by_the_prompt():
    split = split_thinking("reasoning here</think>\\boxed{4}")
    assert split.finished and split.format_ok


def test_split_accepts_an_opener_written_by_the_model_at_the_start():
    assert split_thinking("<think>r</think>4").format_ok


def test_two_think_closes_break_the_format():
    assert not split_thinking("a</think>b</think>c").format_ok


def test_unfinished_thought_is_not_format_ok_and_keeps_its_text():
    split = split_thinking("still thinking \\boxed{3}")
    assert not split.finished and not split.format_ok and split.thought.endswith("\\boxed{3}")


def test_empty_answer_after_the_thought_is_not_format_ok():
    assert not split_thinking("thought</think>   \n").format_ok


def test_nothink_mode_requires_no_tags_and_some_text():
    assert split_thinking("The answer is 4", thinking=False).format_ok
    assert not split_thinking("x</think>4", thinking=False).format_ok
    assert not split_thinking("   ", thinking=False).format_ok


def test_last_boxed_takes_the_last_box():
    assert last_boxed("\\boxed{1} then \\boxed{2}") == "2"


def test_last_boxed_balances_nested_braces():
    assert last_boxed("so \\boxed{\\frac{1}{2}} done") == "\\frac{1}{2}"


def test_last_boxed_handles_what_a_non_greedy_regex_breaks_on():
    assert last_boxed("\\boxed{\\{1, 2\\} \\cup \\{3\\}}") == "\\{1, 2\\} \\cup \\{3\\}"


def test_last_boxed_unwraps_nested_boxes():
    assert last_boxed("\\boxed{\\boxed{5}}") == "5"


def test_last_boxed_skips_an_unclosed_box():
    assert last_boxed("\\boxed{7} and then \\boxed{8") == "7"


def test_a_final_run_of_boxes_is_one_list_answer():
    assert final_boxes("so \\boxed{1}, \\boxed{2} and \\boxed{3}") == ["1", "2", "3"]


def test_boxes_far_apart_are_not_a_list():
    assert final_boxes("\\boxed{1}. Then we check the other case carefully and find \\boxed{2}") == ["2"]


def test_final_boxes_keep_escaped_braces_as_content():
    assert final_boxes("\\boxed{\\{60, 24, 32\\}}") == ["\\{60, 24, 32\\}"]


def test_fbox_counts_as_a_box():
    assert last_boxed("\\fbox{C}") == "C"


@pytest.mark.parametrize("text,expected", [
    ("The answer is 42.", "42"),
    ("Final Answer: $\\frac{3}{4}$", "\\frac{3}{4}"),
    ("so the answer should be **B**.", "B"),
    ("答案是 C", "C"),
    ("答案：12", "12"),
    ("Answer: 3.5 m/s\nMore text", "3.5 m/s"),
])
def test_answer_phrases(text, expected):
    assert answer_phrase(text) == expected


def test_answer_phrase_takes_the_last_one():
    assert answer_phrase("Answer: 1. Wait. Answer: 2") == "2"


@pytest.mark.parametrize("candidate", ["B", "(B)", "B.", "**B**", "Option B", "B: cat", "[B]", "\\text{B}", "(b)"])
def test_option_letter_shapes(candidate):
    assert letter_from_candidate(candidate, CHOICES, "ABCD") == "B"


def test_option_by_its_text():
    assert letter_from_candidate("horse", CHOICES, "ABCD") == "C"


def test_article_a_is_not_option_a_when_an_option_text_matches():
    assert letter_from_candidate("A cat", CHOICES, "ABCD") == "B"


def test_letter_in_text_finds_a_single_named_option():
    assert letter_in_text("Comparing the figures, (C) fits best.", CHOICES, "ABCD") == "C"


def test_letter_in_text_refuses_when_several_options_are_named():
    assert letter_in_text("(A) is wrong, so (B).", CHOICES, "ABCD") is None


def test_letter_in_text_uses_a_unique_option_text():
    assert letter_in_text("It is clearly a horse in the picture", CHOICES, "ABCD") == "C"


def test_letter_in_text_prefers_the_longer_of_nested_option_texts():
    assert letter_in_text("the length is 10 cm", {"A": "10", "B": "10 cm"}, "AB") == "B"


def test_letter_in_text_never_guesses():
    assert letter_in_text("I am not sure about this one.", CHOICES, "ABCD") is None


@pytest.mark.parametrize("text,value,percent", [
    ("42", 42.0, False),
    ("-3.5", -3.5, False),
    ("1,234,567", 1234567.0, False),
    ("12 cm", 12.0, False),
    ("45%", 45.0, True),
    ("45\\%", 45.0, True),
    ("3.2e-5", 3.2e-5, False),
    ("3 \\times 10^{4}", 3e4, False),
    ("\\frac{3}{4}", 0.75, False),
    ("-1/2", -0.5, False),
    ("$1,000.99", 1000.99, False),
    ("2,74", 2.74, False),
    ("90^\\circ", 90.0, False),
])
def test_numbers_as_written(text, value, percent):
    number = parse_number(text)
    assert number is not None and number.value == pytest.approx(value) and number.percent == percent


@pytest.mark.parametrize("text", ["5x", "x=5", "1, 2", "\\sqrt{2}", "two", "3 and 4"])
def test_not_a_single_number(text):
    assert parse_number(text) is None


def test_units_can_be_refused():
    assert parse_number("12 cm", units=False) is None
