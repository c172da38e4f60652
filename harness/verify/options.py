"""Option letters: which option of a multiple-choice item an answer names, if exactly one.

A letter counts only in a shape that sets it apart as an option ("B", "(B)", "**B**", "Option B",
"B. cat", a line that is just "B"), or an answer may be exactly one option's text. A free-text answer
part names an option only when it names exactly one; two named options are no answer here (and an
explicitly marked answer naming two is a hedge, hedge.py).
"""

from __future__ import annotations

import functools
import re

from harness.verify.extract import TAIL_CHARS, strip_text_wrappers

_CANDIDATE_LETTER = re.compile(
    r"^(?:(?:option|choice|answer|选项|选)\s*[:：]?\s*)?[(\[]?\s*([A-Za-z])\s*[)\]]?(?:[.:：)\s,，;；]|$)", re.IGNORECASE
)
# Shapes in running text that unambiguously name an option.
_STRONG_LETTER = re.compile(
    r"\(([A-Z])\)"  # (B)
    r"|\*\*\(?([A-Z])\)?[.:]?\*\*"  # **B**, **(B)**, **B.**
    r"|\b(?:option|choice)\s+\(?([A-Z])\b"  # Option B
    r"|(?:^|\n)[ \t]*([A-Z])[.):：](?=\s|$)"  # "B." at the start of a line
    r"|(?:^|\n)[ \t]*([A-Z])[ \t]*(?=\n|$)",  # a line that is just "B"
    re.IGNORECASE,
)


def letter_from_candidate(candidate: str, choices: dict[str, str], valid: str) -> str | None:
    """An option letter from a short, explicitly marked answer ("B", "(B)", "B. cat", "Option B").

    A letter in one of these shapes counts even when it is not a valid option (the response then
    chose something that does not exist, which is wrong, not undecidable). Failing that, the
    candidate may be exactly one option's text.
    """
    text = strip_text_wrappers(candidate).strip().strip("*`$ ")
    if not text:
        return None
    m = _CANDIDATE_LETTER.match(text)
    if m:
        letter = m.group(1)
        rest = text[m.end():].strip()
        set_apart = m.group(0).rstrip().endswith((")", "]", ".", ":", "：", ",", "，", ";", "；")) or not rest
        # "a cat" / "A cat" / "I think" may be words, not options: prefer an option-text match then.
        if not set_apart and letter.upper() in "AI":
            by_text = option_by_text(text, choices, exact=False)
            if by_text:
                return by_text
        if letter.isupper() or set_apart:
            return letter.upper()
    return option_by_text(text, choices, exact=True)


def letter_in_text(text: str, choices: dict[str, str], valid: str) -> str | None:
    """The one option a free-text answer names, or None when it names none or several."""
    text = text[-TAIL_CHARS:]
    found = set()
    for m in _STRONG_LETTER.finditer(text):
        letter = next(g for g in m.groups() if g is not None)
        if letter.isupper() or m.group(0).lower().startswith(("option", "choice")):
            if letter.upper() in valid:
                found.add(letter.upper())
    if len(found) == 1:
        return found.pop()
    if found:
        return None
    return option_by_text(text, choices, exact=False)


def normalize_text(text: str) -> str:
    """Lowercase, drop LaTeX text wrappers, punctuation, articles and extra spaces."""
    text = strip_text_wrappers(text)
    text = text.lower().replace("\\%", "%")
    text = re.sub(r"[^\w%.+\-/ ]|(?<!\d)[.](?!\d)", " ", text)
    text = re.sub(r"\b(?:a|an|the)\b", " ", text)
    return " ".join(text.split())


@functools.lru_cache(maxsize=512)
def _normalized_option(option: str) -> str:
    """An option's normalised text: options recur for every sample of an item, and may be long."""
    return normalize_text(option)


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _contains_as_words(haystack: str, needle: str) -> bool:
    """Whether `needle` occurs in `haystack` with no word character right before or after it."""
    start = haystack.find(needle)
    while start >= 0:
        end = start + len(needle)
        if (start == 0 or not _is_word_char(haystack[start - 1])) and (
                end == len(haystack) or not _is_word_char(haystack[end])):
            return True
        start = haystack.find(needle, start + 1)
    return False


def option_by_text(text: str, choices: dict[str, str], exact: bool) -> str | None:
    """The letter of the only option whose text the answer is (exact) or contains (not exact)."""
    if not choices:
        return None
    norm = normalize_text(text[-4000:])
    if not norm:
        return None
    hits = []
    for letter, option in choices.items():
        opt = _normalized_option(option)
        if not opt or len(opt) > len(norm):
            continue
        if opt == norm if exact else _contains_as_words(norm, opt):
            hits.append(letter)
    if not exact and len(hits) > 1:
        # "10 cm" also contains option "10": keep only options not inside another matching one.
        texts = {h: _normalized_option(choices[h]) for h in hits}
        hits = [h for h in hits if not any(h != o and texts[h] in texts[o] for o in hits)]
    return hits[0] if len(hits) == 1 else None
