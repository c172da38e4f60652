"""Hedges: a final answer that names several alternatives is no answer.

"\\boxed{A or B}", "The answer is (B) or (C)", "\\boxed{3} or \\boxed{5}", "答案是A或B", "la réponse est
A ou B": taking the first (or the last) alternative would score a hedge as correct whenever the gold is
among them. A hedge gets no answer and `method="hedge"`, so it is counted, never credited.

What is a hedge:
- multiple choice: an answer that names two or more different options, joined by a disjunction
  ("A or B", "A 或 B", "A ou B", "A oder B", "A o B", "A или B") or listed as bare letters ("A, C",
  "(A) and (C)", "A/C"): a single-answer item has one option to choose;
- numbers, math and short text: two or more different values joined by a disjunction ("3 or 5",
  "x = 3 or x = 5", "3 或 5", "yes or no"), when the gold itself is a single value. A gold that lists
  several values (a set, "x = 1, 2", an interval, a coordinate pair, "\\pm 2", "12 and 13") makes such
  an answer a legitimate list, compared as one.
Alternatives that are one value written twice ("1/2 or 0.5" by number, "x+1 or 1+x" by algebra) are a
restatement, not a hedge. Lists joined by commas or "and" are not hedges for values: "3, 5" against the
gold 3 is simply wrong.
"""

from __future__ import annotations

import re
from typing import Callable

from harness.verify.extract import clean_candidate, parse_number, strip_text_wrappers
from harness.verify.options import letter_from_candidate

MAX_HEDGE_CHARS = 400  # longer candidates are prose, not a list of alternatives

_LETTERS_AROUND = r"(?<![^\W\d_])(?:{})(?![^\W\d_])"
DISJUNCTION = re.compile(
    _LETTERS_AROUND.format("or|ou|oder|o|ó|oppure|или|либо")
    + r"|或者|或是|或|还是|または|もしくは|あるいは",
    re.IGNORECASE,
)
# Words that may open an alternative without being part of its value ("either 3 or maybe 5").
_LEAD = re.compile(
    r"^\s*(?:(?:either|maybe|perhaps|possibly|probably|rather|soit|peut-être|entweder|vielleicht|quizás|"
    r"либо|возможно)(?![^\W\d_])|要么|可能是|可能|也许)\s*",
    re.IGNORECASE,
)
_LIST_SEPARATOR = re.compile(
    r"[,;/&、]|" + _LETTERS_AROUND.format("and|et|und|y|e|и") + "|和|与|及",
    re.IGNORECASE,
)
_BARE_LETTER = re.compile(r"^(?:option\s+|选项)?[(\[]?\s*([A-Z])\s*[)\]]?[.:]?$", re.IGNORECASE)
_ASSIGNMENT = re.compile(r"^[a-zA-Z](?:_\{?\w{1,8}\}?)?\s*=\s*")
_WORDY = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]{3,}")
_FILLERS = frozenset({"so", "less", "more", "fewer", "not", "no", "yes", "it", "is", "be"})
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}(?!\d))")
_SEVERAL_VALUES = re.compile(
    r"[,;]|\\pm|\\mp|±|∓|\\cup|" + _LETTERS_AROUND.format("or|and|ou|et|oder|und|или|и") + r"|或|和|与",
    re.IGNORECASE,
)


def alternatives(candidate: str) -> list[str]:
    """The parts of a candidate split at its disjunctions ("3 or 5" → ["3", "5"]); one part when
    it has none."""
    if len(candidate) > MAX_HEDGE_CHARS:
        return [candidate]
    parts = [_LEAD.sub("", part).strip() for part in DISJUNCTION.split(strip_text_wrappers(candidate))]
    parts = [part for part in parts if part]
    return parts or [candidate]


def gold_lists_values(gold: str) -> bool:
    """Whether a gold answer is itself several values (a set, a list, an interval, a pair, ±, "a and b")."""
    if parse_number(gold) is not None:
        return False
    return _SEVERAL_VALUES.search(_THOUSANDS.sub("", strip_text_wrappers(gold))) is not None


def options_named(candidate: str, choices: dict[str, str], valid: str) -> set[str]:
    """The valid option letters a marked answer names as alternatives or as a bare letter list."""
    if len(candidate) > MAX_HEDGE_CHARS:
        return set()
    named: set[str] = set()
    parts = alternatives(candidate)
    if len(parts) > 1:
        for part in parts:
            letter = letter_from_candidate(part, choices, valid)
            if letter is not None and letter in valid:
                named.add(letter)
    listed = [part.strip() for part in _LIST_SEPARATOR.split(strip_text_wrappers(candidate))]
    listed = [part for part in listed if part]
    if len(listed) > 1:
        letters = [_BARE_LETTER.match(part.strip("*`$ ")) for part in listed]
        if all(letters):
            named.update(m.group(1).upper() for m in letters if m.group(1).upper() in valid)
    return named


def _value(part: str) -> str:
    return _ASSIGNMENT.sub("", clean_candidate(part))


def value_alternatives(candidate: str, same: Callable[[str, str], bool]) -> list[str] | None:
    """The different values a candidate offers as alternatives ("3 or 5" → ["3", "5"]; "1/2 or 0.5"
    → ["1/2"], a restatement), or None when it is not a disjunction of values ("5 or so", "3 or
    more", a sentence); `same` decides when two written values are one."""
    parts = alternatives(candidate)
    if len(parts) < 2:
        return None
    values = [_value(part) for part in parts]
    if any(not v or _WORDY.search(re.sub(r"\\[a-zA-Z]+", " ", v)) or v.lower() in _FILLERS for v in values):
        return None
    distinct: list[str] = []
    for value in values:
        if not any(same(value, seen) for seen in distinct):
            distinct.append(value)
    return distinct


def names_several_texts(candidate: str, normalize: Callable[[str], str]) -> bool:
    """Whether a short text answer offers different alternatives ("yes or no", "Paris or Lyon").
    Longer sentences with an "or" in them are not read as alternatives."""
    parts = alternatives(candidate)
    if len(parts) < 2 or len(candidate.split()) > 8 or any(len(p.split()) > 3 for p in parts):
        return False
    return len({normalize(part) for part in parts} - {""}) > 1
