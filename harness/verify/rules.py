"""Rule checks: from a response to a rule verdict, without any model in the loop.

Each answer type has its own extraction order and comparison (docs/scoring.md is the full account):
- mcq: an option letter from the last run of `\\boxed{}`, else an answer marker ("the answer is",
  "答案是", ...), else the one option the answer part names (letter shapes or a unique option text);
  letter equality.
- number: a single number (units, percent, separators, scientific notation); equal within a
  relative 1e-6, or at the item's stated precision, or at the gold's written precision; anything
  else goes to math-verify.
- math: exact string match, then numbers, then an exact algebra subset (algebra.py), then
  math-verify (run by the caller, isolated).
- text: normalised string equality; yes/no answers by their first word.
An answer that names several alternatives is a hedge (hedge.py): `method="hedge"`, wrong. An item that
cannot be scored (an empty gold, an MCQ gold that is no option, malformed choices) is reported as
`method="invalid_item"` with `correct=None` and the reason in `detail`, never raised.

A thought that never closed is scored only on an explicitly marked answer inside it. Under the
`unfinished="marked"` policy (the default) that marker must be committed (markers.py: not "maybe the
answer is B, but ..."); `"lenient"` takes the last marker whatever its sentence says, as scoring did
before the policy existed.

A rule outcome is *decisive* when it settles the item (letters, numbers, symbols compared, a hedge, an
invalid item). It is not decisive when no answer was found, when the found answer names no option,
when a text answer merely differs from the gold, or when the symbolic check timed out. The judge's
`fallback` policy looks exactly at the non-decisive ones; without a judge, "no answer" counts as wrong
(a response that never answers is not undecidable) while a timeout stays undecided (`correct=None`).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass

from harness.config import UNFINISHED_POLICIES
from harness.modes import split_thinking
from harness.types import infer_answer_type
from harness.verify.algebra import fast_equal
from harness.verify.extract import (
    Number,
    clean_candidate,
    final_box_run,
    last_latex_at,
    last_number,
    last_number_at,
    parse_number,
    reduce_sentence,
)
from harness.verify.hedge import (
    DISJUNCTION,
    gold_lists_values,
    names_several_texts,
    options_named,
    value_alternatives,
)
from harness.verify.items import VerifyItem, normalize_choices
from harness.verify.markers import last_phrase
from harness.verify.options import letter_from_candidate, letter_in_text, normalize_text, option_by_text
from harness.verify.symbolic import SymbolicTask

FINAL_METHODS = frozenset({"hedge", "invalid_item"})  # no judge policy reopens these
REL_TOL = 1e-6
ABS_TOL = 1e-9
MAX_TEXT_ANSWER = 2000
MAX_SHORT_ANSWER = 400  # an unmarked answer part up to this long may be read whole as the answer
DEFAULT_FLOAT_ROUNDING = 6
_GOLD_LETTER = re.compile(r"^\s*[(\[]?\s*([A-Z])\s*[)\].:]?\s*$")
_WORDY = re.compile(r"(?<!\\)\b[a-zA-Z]{3,}\b")


class InvalidItem(ValueError):
    """An item that cannot be scored as given; the message says why."""


@dataclass
class RuleOutcome:
    """What the rules concluded, plus what a judge or the symbolic pool still needs."""

    answer_type: str | None
    extracted: str | None
    correct: bool | None
    method: str
    format_ok: bool
    decisive: bool
    answer_text: str  # the part of the response a judge should see
    finished: bool | None = None  # whether the thought closed; None without a thought (nothink)
    symbolic: SymbolicTask | None = None  # (golds, prediction, decimals) left for math-verify
    detail: str | None = None  # why, where the method alone does not say (invalid item, hedge)


def gold_letter(answer: str, choices: dict[str, str]) -> str:
    """The gold option letter: a letter as written, or the letter of the option text given."""
    m = _GOLD_LETTER.match(answer)
    if m and (not choices or m.group(1) in choices):
        return m.group(1)
    by_text = option_by_text(answer, choices, exact=True)
    if by_text:
        return by_text
    raise InvalidItem(
        f"mcq answer {answer[:200]!r} is neither an option letter nor the text of one of the options "
        f"{''.join(sorted(choices)) or '(none given)'}"
    )


def numbers_match(gold: Number, pred: Number, precision: int | None = None) -> bool:
    """Equal within tolerance, or equal once rounded to `precision` decimals (the item's stated
    precision; without one, the decimals the gold was written with)."""
    decimals = precision if precision is not None else (gold.decimals if gold.decimals > 0 else None)
    candidates = [pred.value]
    if gold.percent != pred.percent:  # "45%" vs "0.45", either way round
        candidates += [pred.value / 100, pred.value * 100]
    for value in candidates:
        if abs(value - gold.value) <= max(ABS_TOL, REL_TOL * max(abs(value), abs(gold.value))):
            return True
        if decimals is not None and round(value, decimals) == round(gold.value, decimals):
            return True
    return False


def _normalize_latex(text: str) -> str:
    text = re.sub(r"\\left|\\right|\\[,;:! ]|\\displaystyle|\$|\s+", "", text)
    return text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")


def same_value(a: str, b: str) -> bool:
    """Whether two written values are one value (for telling a restatement from a hedge)."""
    if _normalize_latex(a) == _normalize_latex(b):
        return True
    number_a, number_b = parse_number(a, units=False), parse_number(b, units=False)
    if number_a is not None and number_b is not None:
        return numbers_match(number_a, number_b)
    return fast_equal(a, b) is True


@dataclass(frozen=True)
class Marked:
    """The explicitly marked answer: the last run of boxes or the last answer marker."""

    text: str  # the answer as one string (a run of boxes joined by ", ", or by " or " when so written)
    raw: str  # as written after the marker (before a sentence is reduced to its math)
    boxes: tuple[str, ...] = ()  # the box contents when the answer is a run of boxes
    disjunctive: bool = False  # boxes joined by "or" (or its equivalent in another language)


def marked_answer(region: str, committed_only: bool = False, sentences: bool = False) -> Marked | None:
    """The last box run or the last answer marker, whichever the response wrote last.

    `committed_only`: skip markers whose sentence doubts them (inside an unfinished thought).
    `sentences`: a marked sentence is reduced to its math ("The largest $n$ is 34" → "34")."""
    run = final_box_run(region)
    box_end = run.end if run else -1
    phrase = last_phrase(region, committed_only)
    if phrase is not None and phrase.end > box_end and phrase.text is not None:
        text = reduce_sentence(phrase.text) if sentences else phrase.text
        return Marked(text, phrase.text)
    if run is not None:
        contents = tuple(c for c in run.contents if c)
        if contents:
            disjunctive = any(DISJUNCTION.search(j) for j in run.joiners)
            joined = (" or " if disjunctive else ", ").join(contents)
            return Marked(joined, joined, contents, disjunctive)
    return None


def _golds(item: VerifyItem) -> list[str]:
    if not item.answer.strip():
        raise InvalidItem("the gold answer is empty")
    # An empty accepted answer could only ever match an empty response: it is left out.
    return [item.answer] + [a for a in item.accepted if a.strip()]


class _Scoring:
    """One item's facts shared by the per-type rules."""

    def __init__(self, item: VerifyItem, answer_type: str, golds: list[str], region: str,
                 format_ok: bool, finished: bool | None, anchored_only: bool, marked: Marked | None,
                 fast_path: bool) -> None:
        self.item, self.answer_type, self.golds, self.region = item, answer_type, golds, region
        self.format_ok, self.finished, self.anchored_only = format_ok, finished, anchored_only
        self.marked, self.fast_path = marked, fast_path
        self.gold_is_list = any(gold_lists_values(g) for g in golds)

    def outcome(self, extracted: str | None, correct: bool | None, method: str, decisive: bool,
                symbolic: SymbolicTask | None = None, detail: str | None = None) -> RuleOutcome:
        return RuleOutcome(self.answer_type, extracted, correct, method, self.format_ok,
                           decisive, self.region, self.finished, symbolic, detail)

    def hedge(self, what: str) -> RuleOutcome:
        return self.outcome(None, False, "hedge", True, detail=f"names several answers: {what[:200]}")

    def short_answer_part(self) -> str | None:
        """The whole answer part of a finished response, cleaned, when it is short enough to be an answer."""
        if self.anchored_only:
            return None
        whole = self.region.strip()
        if len(whole) > 4 * MAX_SHORT_ANSWER:  # decoration is never that long
            return None
        whole = clean_candidate(whole)
        return whole if whole and len(whole) <= MAX_SHORT_ANSWER else None

    def offered_values(self, candidate: str) -> list[str] | None:
        """The different values the answer (marked, or a short unmarked answer part) offers as
        alternatives, or None when it offers no alternatives."""
        marked = self.marked
        texts = (marked.raw, candidate) if marked is not None else (candidate, self.short_answer_part())
        for text in texts:
            values = value_alternatives(text, same_value) if text is not None else None
            if values is not None:
                return values
        if marked is not None and marked.disjunctive and len(marked.boxes) > 1:
            distinct: list[str] = []
            for box in marked.boxes:
                if not any(same_value(box, seen) for seen in distinct):
                    distinct.append(box)
            return distinct
        return None

    def resolve_alternatives(self, candidate: str) -> tuple[str, RuleOutcome | None]:
        """The candidate to compare, or a hedge: a restatement ("1/2 or 0.5") is its first value; a
        disjunction of different values is a hedge unless the gold itself lists several values."""
        values = self.offered_values(candidate)
        if values is None:
            return candidate, None
        if len(values) == 1:
            return values[0], None
        if not self.gold_is_list:
            what = self.marked.raw if self.marked is not None else " or ".join(values)
            return candidate, self.hedge(what)
        # math-verify reads a list joined by English "or"; other languages' words are rewritten to it
        return DISJUNCTION.sub(lambda m: m.group() if m.group().lower() == "or" else " or ", candidate), None


def rule_stage(item: VerifyItem, fast_path: bool = True, unfinished: str = "marked") -> RuleOutcome:
    """Extract and compare; symbolic comparisons are left in `symbolic` for an isolated runner.

    `fast_path`: settle what the exact algebra subset can (method `algebra`) before math-verify;
    off, every such pair goes to math-verify (the benchmark compares the two). `unfinished`: how an
    unclosed thought is read (`UNFINISHED_POLICIES`)."""
    if unfinished not in UNFINISHED_POLICIES:
        raise ValueError(f"unfinished-thought policy {unfinished!r} is not one of {UNFINISHED_POLICIES}")
    split = split_thinking(item.response, item.thinking)
    finished = split.finished if item.thinking else None
    region = split.answer if split.finished else split.thought
    try:
        choices = normalize_choices(item.id, item.choices)
        answer_type = item.answer_type or infer_answer_type(item.answer, choices)
        golds = _golds(item)
        gold_letters = {gold_letter(g, choices) for g in golds} if answer_type == "mcq" else set()
    except ValueError as error:
        return RuleOutcome(item.answer_type, None, None, "invalid_item", split.format_ok, True, region,
                           finished, detail=str(error))
    anchored_only = not split.finished
    marked = marked_answer(region, committed_only=anchored_only and unfinished == "marked",
                           sentences=answer_type in ("math", "number"))
    scoring = _Scoring(item, answer_type, golds, region, split.format_ok, finished, anchored_only, marked,
                       fast_path)
    if answer_type == "mcq":
        return _mcq(scoring, choices, gold_letters)
    if answer_type == "number":
        gold_numbers = [parse_number(g) for g in golds]
        if all(n is not None for n in gold_numbers):
            return _number(scoring, gold_numbers)
        scoring.answer_type = "math"  # a "number" gold we cannot read as one: compare symbolically
    if answer_type in ("number", "math"):
        return _math(scoring)
    return _text(scoring)


def _mcq(s: _Scoring, choices: dict[str, str], gold_letters: set[str]) -> RuleOutcome:
    valid = "".join(choices) if choices else string.ascii_uppercase
    marked = s.marked
    letter = None
    if marked is not None:
        named: set[str] = set()
        for part in marked.boxes or (marked.text,):
            named |= options_named(part, choices, valid)
            single = letter_from_candidate(part, choices, valid) if len(marked.boxes) > 1 else None
            if single is not None and single in valid:
                named.add(single)
        if len(named) > 1:
            return s.hedge(", ".join(sorted(named)))
        letter = named.pop() if named and len(marked.boxes) > 1 else None
        if letter is None:
            letter = letter_from_candidate(marked.text, choices, valid)
        if letter is None:
            letter = letter_in_text(marked.text, choices, valid)
    if letter is None and not s.anchored_only:
        short = s.short_answer_part()
        named = options_named(short, choices, valid) if short is not None else set()
        if len(named) > 1:
            return s.hedge(", ".join(sorted(named)))
        letter = letter_in_text(s.region, choices, valid)
    if letter is None:
        if marked is not None:
            return s.outcome(marked.text[:MAX_TEXT_ANSWER], False, "unmatched", False)
        return s.outcome(None, False, "no_answer", False)
    return s.outcome(letter, letter in gold_letters, "mcq", True)


def _decimals(s: _Scoring, gold: Number | None = None) -> int:
    """How many decimals math-verify rounds numbers to: the item's precision, else the gold's own
    written precision (for a number gold), else math-verify's default."""
    if s.item.precision is not None:
        return s.item.precision
    if gold is not None and gold.decimals > 0:
        return gold.decimals
    return DEFAULT_FLOAT_ROUNDING


def _number(s: _Scoring, gold_numbers: list[Number]) -> RuleOutcome:
    marked = s.marked
    candidate = marked.text if marked else None
    if candidate is None and not s.anchored_only:
        whole = s.region.strip()
        candidate = whole if parse_number(whole) else last_number(s.region)
    if candidate is None:
        return s.outcome(None, False, "no_answer", False)
    candidate, hedged = s.resolve_alternatives(candidate)
    if hedged is not None:
        return hedged
    pred = parse_number(candidate)
    if pred is not None:
        correct = any(numbers_match(g, pred, s.item.precision) for g in gold_numbers)
        return s.outcome(candidate, correct, "numeric", True)
    # A number compared with an expression: to the precision the (first) gold was written with.
    return s.outcome(candidate, None, "math_verify", True, (tuple(s.golds), candidate, _decimals(s, gold_numbers[0])))


def _math_candidate(s: _Scoring) -> str | None:
    if s.marked is not None:
        return s.marked.text
    if s.anchored_only:
        return None
    whole = s.short_answer_part()
    if whole and len(whole) <= 100 and not _WORDY.search(whole):
        return whole
    latex, number = last_latex_at(s.region), last_number_at(s.region)  # the later of the two
    if latex and (number is None or number[0] < latex[0]):  # [0]: span end / number start
        return latex[1]
    return number[1] if number else None


def _math(s: _Scoring) -> RuleOutcome:
    candidate = _math_candidate(s)
    if candidate is None:
        return s.outcome(None, False, "no_answer", False)
    candidate, hedged = s.resolve_alternatives(candidate)
    if hedged is not None:
        return hedged
    decided: list[tuple[bool, str]] = []
    undecided: list[str] = []
    for gold in s.golds:
        if _normalize_latex(candidate) == _normalize_latex(gold):
            decided.append((True, "string"))
            continue
        gold_number, pred_number = parse_number(gold, units=False), parse_number(candidate, units=False)
        if gold_number is not None and pred_number is not None:
            decided.append((numbers_match(gold_number, pred_number, s.item.precision), "numeric"))
            continue
        settled = fast_equal(gold, candidate) if s.fast_path else None
        if settled is not None:
            decided.append((settled, "algebra"))
            continue
        undecided.append(gold)
    for correct, method in decided:
        if correct:
            return s.outcome(candidate, True, method, True)
    if undecided:
        return s.outcome(candidate, None, "math_verify", True, (tuple(undecided), candidate, _decimals(s)))
    return s.outcome(candidate, False, decided[0][1], True)


_YES_NO = {"yes": "yes", "no": "no", "true": "yes", "false": "no", "是": "yes", "否": "no"}


def _text(s: _Scoring) -> RuleOutcome:
    candidate = s.marked.text if s.marked is not None else None
    if candidate is None and not s.anchored_only:
        candidate = clean_candidate(s.region.strip()) or None
    if candidate is None:
        return s.outcome(None, False, "no_answer", False)
    candidate = candidate[:MAX_TEXT_ANSWER]
    if not s.gold_is_list and names_several_texts(candidate, normalize_text):
        return s.hedge(candidate)
    pred = normalize_text(candidate)
    golds = [normalize_text(g) for g in s.golds]
    if pred in golds:
        return s.outcome(candidate, True, "string", True)
    first = pred.split()[0] if pred else ""
    yes_no = [_YES_NO[g] for g in golds if g in _YES_NO]
    if yes_no and first in _YES_NO:  # "Yes, the line is longer." answers a yes/no gold
        return s.outcome(candidate, _YES_NO[first] in yes_no, "string", True)
    return s.outcome(candidate, False, "string", False)
