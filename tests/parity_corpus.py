"""A deterministic corpus of MMMU-like and MathVista-like responses for checking parity with peers.

Every line is a `harness score` predictions line (id, question, answer, response, choices,
answer_type, benchmark, meta, accepted_answers, thinking). The responses cover the shapes that make
scorers disagree: boxed answers (nested, non-greedy, over lines, several), "the answer is ...",
option letters in every shape, option text only, hedges between two options, several letters,
Chinese answers, unclosed and closed thoughts with text after them, empty responses, refusals,
numbers with units, commas, percents and precision. Items are built from fixed templates crossed
with a seeded generator, so the corpus is the same on every machine.

    python tests/parity_corpus.py OUT.jsonl     # writes the corpus (also used by perf/parity_agreement.py)
"""

from __future__ import annotations

import json
import random
import sys
from typing import Any, Callable

SEED = 20261201
LETTERS = "ABCDEFGHIJ"
SUBJECTS = ("Art", "Biology", "Chemistry", "Economics", "Geography", "History", "Math", "Physics", "Music")
WORDS = ("cat", "dog", "red", "blue", "iron", "copper", "Paris", "London", "mitosis", "meiosis", "photosynthesis",
         "supply", "demand", "Baroque", "Gothic", "a cat", "None", "all of the above", "DNA", "I", "Z", "x",
         "10", "10 cm", "3/11", "8/11", "$\\frac{1}{2}$", "0.5", "2x + 1", "increase", "decrease",
         "它是红色的", "北京")
REASONING = ("Let me look at the figure carefully. ",
             "First, recall the definition. Then compare each option with the image. ",
             "A quick estimate suggests one option is much more likely than the others. ",
             "Hmm, the diagram shows two regions; I count them and check the legend. ",
             "I think about what the question asks, and whether any option could be ruled out. ")


def _think(rng: random.Random, body: str) -> str:
    """A closed thought; half of them without the opening tag, as when the template opens the thought."""
    opening = "<think>" if rng.random() < 0.5 else ""
    return opening + "".join(rng.sample(REASONING, 2)) + body + "</think>"


def _options(rng: random.Random, count: int) -> list[str]:
    pool = list(WORDS)
    rng.shuffle(pool)
    options: list[str] = []
    for word in pool:
        if word not in options:
            options.append(word)
        if len(options) == count:
            return options
    return options


# Multiple-choice responses: (gold letter, other letter, gold text, other text, rng) -> response.
Choice = Callable[[str, str, str, str, random.Random], str]
CHOICE_RESPONSES: list[tuple[str, Choice]] = [
    ("box", lambda g, o, gt, ot, r: _think(r, f"So it is {g}.") + f"The answer is $\\boxed{{{g}}}$."),
    ("box_text_wrap", lambda g, o, gt, ot, r: _think(r, "") + f"\\boxed{{\\text{{{g}}}}}"),
    ("box_with_option", lambda g, o, gt, ot, r: _think(r, "") + f"Final answer: \\boxed{{{g}. {gt}}}"),
    ("box_paren", lambda g, o, gt, ot, r: f"\\boxed{{({g})}}"),
    ("nested_box", lambda g, o, gt, ot, r: f"\\boxed{{\\boxed{{{g}}}}}"),
    ("two_boxes", lambda g, o, gt, ot, r: f"First I thought \\boxed{{{o}}}, but the answer is \\boxed{{{g}}}."),
    ("box_then_words", lambda g, o, gt, ot, r: f"\\boxed{{{g}}}\nThis matches option {g}."),
    ("answer_colon", lambda g, o, gt, ot, r: f"Answer: {g}"),
    ("answer_is", lambda g, o, gt, ot, r: f"The answer is {g}."),
    ("paren_letter", lambda g, o, gt, ot, r: f"({g})"),
    ("bare_letter", lambda g, o, gt, ot, r: g),
    ("letter_dot_text", lambda g, o, gt, ot, r: f"{g}. {gt}"),
    ("bold_letter", lambda g, o, gt, ot, r: f"**{g}**"),
    ("option_word", lambda g, o, gt, ot, r: f"Option {g} is correct because it fits the figure."),
    ("lowercase_paren", lambda g, o, gt, ot, r: f"the answer is ({g.lower()})"),
    ("text_only", lambda g, o, gt, ot, r: gt),
    ("text_sentence", lambda g, o, gt, ot, r: f"The figure clearly shows {gt}, so that is my answer."),
    ("text_answer_is", lambda g, o, gt, ot, r: f"The answer is {gt}."),
    ("hedge_or", lambda g, o, gt, ot, r: f"It is either {o} or {g}."),
    ("hedge_boxes", lambda g, o, gt, ot, r: f"\\boxed{{{o}}} or \\boxed{{{g}}}"),
    ("hedge_parens", lambda g, o, gt, ot, r: f"Between ({o}) and ({g}), I would pick ({g})."),
    ("several_letters", lambda g, o, gt, ot, r: f"{o} is wrong and so is the rest, therefore {g}"),
    ("first_vs_last", lambda g, o, gt, ot, r: f"({g}) looks right at first, but ({o}) is the answer."),
    ("chinese", lambda g, o, gt, ot, r: f"答案是{g}"),
    ("chinese_colon", lambda g, o, gt, ot, r: f"答案：{g}。"),
    ("chinese_text", lambda g, o, gt, ot, r: f"正确答案是{gt}"),
    ("unclosed", lambda g, o, gt, ot, r: "<think>" + r.choice(REASONING) + f"Maybe {g}, or maybe {o}"),
    ("unclosed_marked", lambda g, o, gt, ot, r: "<think>" + r.choice(REASONING) + f"The answer is {g}."),
    ("thought_disagrees", lambda g, o, gt, ot, r: f"<think>I believe it is ({o}).</think>\n{g}"),
    ("after_think_text", lambda g, o, gt, ot, r: _think(r, "") + f"\n\n{gt}"),
    ("empty", lambda g, o, gt, ot, r: ""),
    ("whitespace", lambda g, o, gt, ot, r: "   \n"),
    ("refusal", lambda g, o, gt, ot, r: "Sorry, I can't help with images of people yet."),
    ("cannot_determine", lambda g, o, gt, ot, r: f"Cannot determine the answer from the image; perhaps {g}."),
    ("lone_z", lambda g, o, gt, ot, r: "Z"),
    ("article_trap", lambda g, o, gt, ot, r: f"A careful look settles it: {g}"),
    ("dna_trap", lambda g, o, gt, ot, r: f"Since DNA is copied first, the answer is {g}"),
    ("pronoun_trap", lambda g, o, gt, ot, r: f"I think the answer is {g}"),
    ("long_reasoning", lambda g, o, gt, ot, r: " ".join(r.sample(REASONING, 4)) + f"Option {o} fails. "
     + " ".join(r.sample(REASONING, 3)) + f"So the answer is {g}."),
    ("api_failure", lambda g, o, gt, ot, r: "Failed to obtain answer via API."),
    ("five_words_text", lambda g, o, gt, ot, r: f"It must be {gt} here"),
    ("six_words_text", lambda g, o, gt, ot, r: f"I am quite sure it is {gt}"),
    ("dotted_pair", lambda g, o, gt, ot, r: f"{o}.{g}.?"),
    ("dotted_pair_reversed", lambda g, o, gt, ot, r: f"{g}.{o}.?"),
    ("letter_fourth_last", lambda g, o, gt, ot, r: f"We pick {g} over the rest"),
    ("letter_fifth_last", lambda g, o, gt, ot, r: f"We pick {g} over all the rest"),
    ("markdown_heading", lambda g, o, gt, ot, r: f"### Final answer\n#{g}"),
    ("letters_and_z", lambda g, o, gt, ot, r: f"{o}, {g} or Z."),
    ("shouted_text", lambda g, o, gt, ot, r: gt.upper()),
    ("edge_punctuation", lambda g, o, gt, ot, r: f",'{g}':."),
    ("two_texts", lambda g, o, gt, ot, r: f"Not {ot}, and after checking the legend again it is {gt}"),
]

# Open responses: (gold, rng) -> response.
Open = Callable[[str, random.Random], str]
OPEN_RESPONSES: list[tuple[str, Open]] = [
    ("box", lambda a, r: _think(r, "") + f"\\boxed{{{a}}}"),
    ("answer_is", lambda a, r: f"The answer is {a}."),
    ("bare", lambda a, r: a),
    ("units", lambda a, r: f"The answer is {a} cm"),
    ("equation", lambda a, r: f"x = {a}"),
    ("negated", lambda a, r: f"The answer is not {a}; it is 7."),
    ("approx", lambda a, r: f"It is approximately {a}1"),
    ("frac_box", lambda a, r: "\\boxed{\\frac{1}{2}}"),
    ("therefore", lambda a, r: f"We add the parts.\nTherefore, the total is {a} dollars."),
    ("chinese", lambda a, r: f"答案是{a}"),
    ("unclosed", lambda a, r: "<think>" + r.choice(REASONING) + f"so it could be {a}"),
    ("empty", lambda a, r: ""),
    ("wrong_box", lambda a, r: _think(r, f"maybe {a}") + "\\boxed{42}"),
    ("box_over_lines", lambda a, r: f"\\boxed{{\n{a}\n}}"),
    ("percent", lambda a, r: f"The share is {a}%"),
    ("commas", lambda a, r: "The total is 1,234"),
    ("two_numbers", lambda a, r: f"Between 3 and {a}, the answer is 3"),
    ("rounded", lambda a, r: "The answer is 3.14"),
    ("last_line_equation", lambda a, r: f"Let y be the width.\ny = {a}"),
    ("trivial_key", lambda a, r: f"The result is :\n{a}"),
    ("scientific", lambda a, r: "The answer is 5e0 meters"),
    ("equation_then_result", lambda a, r: f"w = {a}\nThe result is 9"),
    ("empty_tail", lambda a, r: f"{a} it is so \nok"),
    ("shortest_marker", lambda a, r: f"so the value of the answer is {a} or so 9"),
]
OPEN_GOLDS = (["5"], ["3.14159"], ["1234"], ["0.5"], ["12"], ["cat"], ["Paris"], ["x"], ["2x+1"],
              ["24/7", "3.428"], ["1.5", "1.50"], ["mitosis", "cell division"])

# MathVista free-form responses: (gold, rng) -> response.
FREE_RESPONSES: list[tuple[str, Open]] = [
    ("whole", lambda a, r: a),
    ("padded", lambda a, r: f"  {a}\n"),
    ("box", lambda a, r: _think(r, "") + f"\\boxed{{{a}}}"),
    ("think_then_value", lambda a, r: _think(r, "") + a),
    ("answer_is", lambda a, r: f"The answer is {a}."),
    ("units", lambda a, r: f"{a} cm"),
    ("trailing_zero", lambda a, r: a + "0" if "." in a else a + ".0"),
    ("near_miss", lambda a, r: (a[:-1] + str((int(a[-1]) + 1) % 10)) if a[-1].isdigit() else a + "1"),
    ("within_precision", lambda a, r: a + "4" if "." in a else a),
    ("plus_sign", lambda a, r: "+" + a),
    ("underscore", lambda a, r: a[:1] + "_" + a[1:] if len(a) > 1 and a.isdigit() else a),
    ("words", lambda a, r: "five"),
    ("unclosed", lambda a, r: "<think>" + r.choice(REASONING) + f"the value is {a}"),
    ("empty", lambda a, r: ""),
    ("chinese", lambda a, r: f"答案是{a}"),
]
INTEGER_GOLDS = ("5", "0", "12", "2007", "-3")
FLOAT_GOLDS = (("1.5", 1.0), ("0.25", 2.0), ("3.14", 2.0), ("12.0", 1.0), ("0.60", 2.0))
LIST_GOLDS = ("[2007, 2008]", "[1, 2, 3]")
LIST_RESPONSES: list[tuple[str, Open]] = [
    ("whole", lambda a, r: a),
    ("box", lambda a, r: f"\\boxed{{{a}}}"),
    ("prose", lambda a, r: f"The peaks are at {a.strip('[]').replace(', ', ' and ')}."),
]


def _mmmu_choice(rng: random.Random, index: int, shape: str, template: Choice) -> dict[str, Any]:
    options = _options(rng, rng.randint(2, 10))
    gold_at, other_at = rng.sample(range(len(options)), 2)
    gold, other = LETTERS[gold_at], LETTERS[other_at]
    response = template(gold, other, options[gold_at], options[other_at], rng)
    row = {"id": f"validation_{rng.choice(SUBJECTS)}_{index}", "benchmark": "mmmu_val",
           "question": f"Which option matches the figure? ({shape})", "answer": gold,
           "choices": dict(zip(LETTERS, options)), "answer_type": "mcq", "response": response}
    if shape in ("unclosed", "unclosed_marked"):
        row["thinking"] = True
    return row


def _mmmu_open(rng: random.Random, index: int, shape: str, template: Open) -> dict[str, Any]:
    golds = rng.choice(OPEN_GOLDS)
    row = {"id": f"validation_{rng.choice(SUBJECTS)}_{index}", "benchmark": "mmmu_val",
           "question": f"What is the value shown? ({shape})", "answer": golds[0], "response": template(golds[0], rng)}
    if len(golds) > 1:
        row["accepted_answers"] = list(golds)
    return row


def _mathvista_choice(rng: random.Random, index: int, shape: str, template: Choice) -> dict[str, Any]:
    options = _options(rng, rng.randint(2, 5))
    gold_at, other_at = rng.sample(range(len(options)), 2)
    gold, other = LETTERS[gold_at], LETTERS[other_at]
    response = template(gold, other, options[gold_at], options[other_at], rng)
    if shape == "text_only" and rng.random() < 0.5:
        response = options[other_at]  # the whole response is an option's text, the wrong one
    return {"id": f"mathvista-{index}", "benchmark": "mathvista_testmini",
            "question": f"Which option is right? ({shape})", "answer": gold, "choices": options, "answer_type": "mcq",
            "meta": {"question_type": "multi_choice", "answer_type": "text", "precision": None,
                     "answer_option": gold},
            "response": response}


def _mathvista_free(index: int, shape: str, gold: str, kind: str, precision: float | None,
                    response: str) -> dict[str, Any]:
    return {"id": f"mathvista-{index}", "benchmark": "mathvista_testmini",
            "question": f"What is the value? ({shape})", "answer": gold,
            "answer_type": "math" if kind == "list" else "number",
            "meta": {"question_type": "free_form", "answer_type": kind, "precision": precision},
            "response": response}


def build_corpus() -> list[dict[str, Any]]:
    """The corpus, in a fixed order (the order matters to lmms-eval's random draws)."""
    rng = random.Random(SEED)
    rows: list[dict[str, Any]] = []
    index = 0
    for repeat in range(6):
        for shape, template in CHOICE_RESPONSES:
            index += 1
            rows.append(_mmmu_choice(rng, index, shape, template))
    for repeat in range(4):
        for shape, template in OPEN_RESPONSES:
            index += 1
            rows.append(_mmmu_open(rng, index, shape, template))
    for repeat in range(2):
        for shape, template in CHOICE_RESPONSES:
            index += 1
            rows.append(_mathvista_choice(rng, index, shape, template))
    for gold in INTEGER_GOLDS:
        for shape, template in FREE_RESPONSES:
            index += 1
            rows.append(_mathvista_free(index, shape, gold, "integer", None, template(gold, rng)))
    for gold, precision in FLOAT_GOLDS:
        for shape, template in FREE_RESPONSES:
            index += 1
            rows.append(_mathvista_free(index, shape, gold, "float", precision, template(gold, rng)))
    for gold in LIST_GOLDS:
        for shape, template in LIST_RESPONSES:
            index += 1
            rows.append(_mathvista_free(index, shape, gold, "list", None, template(gold, rng)))
    return rows


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python tests/parity_corpus.py OUT.jsonl")
    with open(sys.argv[1], "w", encoding="utf-8") as handle:
        for row in build_corpus():
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
