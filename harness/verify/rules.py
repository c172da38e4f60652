"""Rule checks: from a response to a rule verdict, without any model in the loop.

Each answer type has its own extraction order and comparison:
- mcq: an option letter from the last `\\boxed{}`, else an "answer is" phrase, else the one
  option the answer part names (letter shapes or a unique option text); letter equality.
- number: a single number (units, percent, separators, scientific notation); equal within a
  relative 1e-6 or to the gold's written precision; anything else goes to math-verify.
- math: exact string match, then numbers, then an exact algebra subset (algebra.py), then
  math-verify (run by the caller, isolated).
- text: normalised string equality; yes/no answers by their first word.

A rule outcome is *decisive* when it settles the item (letters, numbers, symbols compared). It is
not decisive when no answer was found, when the found answer names no option, when a text answer
merely differs from the gold, or when the symbolic check timed out. The judge's `fallback` policy
looks exactly at the non-decisive ones; without a judge, "no answer" counts as wrong (a response
that never answers is not undecidable) while a timeout stays undecided (`correct=None`).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

from harness.verify.algebra import fast_equal
from harness.verify.extract import (
    Number,
    answer_phrase,
    answer_phrase_at,
    clean_candidate,
    final_boxes,
    last_boxed,
    last_boxed_end,
    last_latex_at,
    last_number,
    last_number_at,
    reduce_sentence,
    letter_from_candidate,
    letter_in_text,
    normalize_text,
    option_by_text,
    parse_number,
)
from harness.modes import split_thinking
from harness.types import infer_answer_type
from harness.verify.items import VerifyItem, normalize_choices

REL_TOL = 1e-6
ABS_TOL = 1e-9
MAX_TEXT_ANSWER = 2000
_GOLD_LETTER = re.compile(r"^\s*[(\[]?\s*([A-Z])\s*[)\].:]?\s*$")
_WORDY = re.compile(r"(?<!\\)\b[a-zA-Z]{3,}\b")


@dataclass
class RuleOutcome:
    """What the rules concluded, plus what a judge or the symbolic pool still needs."""

    answer_type: str
    extracted: str | None
    correct: bool | None
    method: str
    format_ok: bool
    decisive: bool
    answer_text: str  # the part of the response a judge should see
    symbolic: tuple[str, str, int] | None = None  # (gold, prediction, decimals) for math-verify


def gold_letter(item: VerifyItem, choices: dict[str, str]) -> str:
    """The gold option letter: a letter as written, or the letter of the option text given."""
    m = _GOLD_LETTER.match(item.answer)
    if m:
        return m.group(1)
    by_text = option_by_text(item.answer, choices, exact=True)
    if by_text:
        return by_text
    raise ValueError(
        f"item {item.id!r}: mcq answer {item.answer!r} is neither an option letter nor the text of "
        f"one of the options {sorted(choices) or '(none given)'}"
    )


def numbers_match(gold: Number, pred: Number) -> bool:
    """Equal within tolerance, or equal at the precision the gold was written with."""
    candidates = [pred.value]
    if gold.percent != pred.percent:  # "45%" vs "0.45", either way round
        candidates += [pred.value / 100, pred.value * 100]
    for value in candidates:
        if abs(value - gold.value) <= max(ABS_TOL, REL_TOL * max(abs(value), abs(gold.value))):
            return True
        if gold.decimals > 0 and round(value, gold.decimals) == round(gold.value, gold.decimals):
            return True
    return False


def _normalize_latex(text: str) -> str:
    text = re.sub(r"\\left|\\right|\\[,;:! ]|\\displaystyle|\$|\s+", "", text)
    return text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")


def marked_answer(region: str, join_boxes: bool = False, sentences: bool = False) -> str | None:
    """The explicitly marked answer: the last box or the last "answer is" phrase, whichever the
    response wrote last. `join_boxes`: a final run of boxes ("\\boxed{1}, \\boxed{2}") is one
    list answer. `sentences`: a phrase that is a sentence is reduced to its math ("The largest
    $n$ is 34" → "34")."""
    box_end = last_boxed_end(region)
    phrase_at = answer_phrase_at(region)
    if phrase_at is not None and phrase_at > box_end:
        phrase = answer_phrase(region)
        if phrase is not None:
            return reduce_sentence(phrase) if sentences else phrase
    if box_end >= 0:
        boxes = final_boxes(region) if join_boxes else [last_boxed(region)]
        boxes = [b for b in boxes if b]
        if boxes:
            return ", ".join(boxes)
    return None


def rule_stage(item: VerifyItem, fast_path: bool = True) -> RuleOutcome:
    """Extract and compare; symbolic comparisons are left in `symbolic` for an isolated runner.

    `fast_path`: settle what the exact algebra subset can (method `algebra`) before math-verify;
    off, every such pair goes to math-verify (the benchmark compares the two)."""
    if not item.answer.strip():
        raise ValueError(f"item {item.id!r}: the gold answer is empty")
    choices = normalize_choices(item.id, item.choices)
    answer_type = item.answer_type or infer_answer_type(item.answer, choices)
    split = split_thinking(item.response, item.thinking)
    # An unfinished thought is scored on what exists, but only on an explicitly marked answer:
    # the last number of a half-written derivation is not an answer.
    region = split.answer if split.finished else split.thought
    anchored_only = not split.finished
    marked = marked_answer(region, join_boxes=answer_type == "math",
                           sentences=answer_type in ("math", "number"))

    def outcome(extracted, correct, method, decisive, symbolic=None) -> RuleOutcome:
        return RuleOutcome(answer_type, extracted, correct, method, split.format_ok, decisive,
                           region, symbolic)

    if answer_type == "mcq":
        return _mcq(item, choices, region, marked, anchored_only, outcome)
    if answer_type == "number":
        gold = parse_number(item.answer)
        if gold is not None:
            candidate = marked
            if candidate is None and not anchored_only:
                whole = region.strip()
                candidate = whole if parse_number(whole) else last_number(region)
            if candidate is None:
                return outcome(None, False, "no_answer", False)
            pred = parse_number(candidate)
            if pred is not None:
                return outcome(candidate, numbers_match(gold, pred), "numeric", True)
            # A number compared with an expression: to the precision the gold was written with.
            decimals = gold.decimals if gold.decimals > 0 else 6
            return outcome(candidate, None, "math_verify", True, (item.answer, candidate, decimals))
        answer_type = "math"  # a "number" gold we cannot read as one: compare symbolically
    if answer_type == "math":
        candidate = marked
        if candidate is None and not anchored_only:
            whole = clean_candidate(region.strip())
            if whole and len(whole) <= 100 and not _WORDY.search(whole):
                candidate = whole
            else:  # the later of the last formula and the last number
                latex, number = last_latex_at(region), last_number_at(region)
                if latex and (number is None or number[0] < latex[0]):  # [0]: span end / number start
                    candidate = latex[1]
                elif number:
                    candidate = number[1]
        if candidate is None:
            return RuleOutcome("math", None, False, "no_answer", split.format_ok, False, region)
        if _normalize_latex(candidate) == _normalize_latex(item.answer):
            return RuleOutcome("math", candidate, True, "string", split.format_ok, True, region)
        gold_number, pred_number = parse_number(item.answer, units=False), parse_number(candidate, units=False)
        if gold_number is not None and pred_number is not None:
            return RuleOutcome("math", candidate, numbers_match(gold_number, pred_number), "numeric",
                               split.format_ok, True, region)
        settled = fast_equal(item.answer, candidate) if fast_path else None
        if settled is not None:
            return RuleOutcome("math", candidate, settled, "algebra", split.format_ok, True, region)
        return RuleOutcome("math", candidate, None, "math_verify", split.format_ok, True, region,
                           (item.answer, candidate, 6))
    return _text(item, region, marked, anchored_only, outcome)


def _mcq(item, choices, region, marked, anchored_only, outcome) -> RuleOutcome:
    gold = gold_letter(item, choices)
    valid = "".join(choices) if choices else string.ascii_uppercase
    letter = letter_from_candidate(marked, choices, valid) if marked is not None else None
    if letter is None and marked is not None:
        letter = letter_in_text(marked, choices, valid)
    if letter is None and not anchored_only:
        letter = letter_in_text(region, choices, valid)
    if letter is None:
        if marked is not None:
            return outcome(marked[:MAX_TEXT_ANSWER], False, "unmatched", False)
        return outcome(None, False, "no_answer", False)
    return outcome(letter, letter == gold, "mcq", True)


_YES_NO = {"yes": "yes", "no": "no", "true": "yes", "false": "no", "是": "yes", "否": "no"}


def _text(item, region, marked, anchored_only, outcome) -> RuleOutcome:
    candidate = marked
    if candidate is None and not anchored_only:
        candidate = clean_candidate(region.strip()) or None
    if candidate is None:
        return outcome(None, False, "no_answer", False)
    candidate = candidate[:MAX_TEXT_ANSWER]
    gold, pred = normalize_text(item.answer), normalize_text(candidate)
    if gold in _YES_NO and pred:
        first = pred.split()[0]
        if first in _YES_NO:
            return outcome(candidate, _YES_NO[first] == _YES_NO[gold], "string", True)
    if gold == pred:
        return outcome(candidate, True, "string", True)
    return outcome(candidate, False, "string", False)
