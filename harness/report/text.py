"""Small text questions the report asks of a response: where thinking ends, which phrases it contains.

The verifier owns answer extraction; the report only needs to show thinking and answer apart and to
find phrases (hallucination markers, residual banned keywords) in the thinking, the way the paper's
Table 5 does.
"""

from __future__ import annotations

import re

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"
THINKING_MODES = ("slow", "nowait")
DEFAULT_HALLUCINATION_PHRASES = ("can't see the image",)

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


def split_thinking(text: str, mode: str) -> tuple[str, str]:
    """Return (thinking, answer), split at the last `</think>`.

    Without a `</think>`, a thinking mode's whole output is unfinished thinking (the template opened
    it); any other mode's output is all answer.
    """
    head, sep, tail = text.rpartition(THINK_CLOSE)
    if sep:
        thinking = head
    elif mode in THINKING_MODES:
        thinking, tail = text, ""
    else:
        thinking, tail = "", text
    thinking = thinking.strip()
    if thinking.startswith(THINK_OPEN):
        thinking = thinking[len(THINK_OPEN):].lstrip()
    return thinking, tail.strip()


def normalise(text: str) -> str:
    """Lowercase with typographic apostrophes folded, so "can’t" matches "can't"."""
    folded = text.lower()
    # translate() is slow on long texts; most texts have no typographic apostrophe at all.
    if "\u2019" in folded or "\u2018" in folded or "\u02bc" in folded:
        folded = folded.translate(_APOSTROPHES)
    return folded


def contains_any(text: str, phrases: tuple[str, ...] | list[str]) -> bool:
    folded = normalise(text)
    return any(normalise(phrase) in folded for phrase in phrases)


class KeywordCounter:
    """Counts keywords as word starts, case-insensitively ("Wait," counts, "await" does not).

    Built once per keyword list: the same list is applied to every response of a run.
    """

    def __init__(self, keywords: list[str]) -> None:
        self.keywords = list(keywords)
        self._original = {normalise(k): k for k in self.keywords}

    def __call__(self, text: str) -> dict[str, int]:
        counts = dict.fromkeys(self.keywords, 0)
        folded = normalise(text)
        present = [k for k in self._original if k in folded]  # a cheap substring pre-check
        if not present:
            return counts
        # Longest alternatives first, so "double-check" is not also counted as "check".
        present.sort(key=len, reverse=True)
        pattern = re.compile(r"(?<![a-z])(" + "|".join(map(re.escape, present)) + ")")
        for match in pattern.findall(folded):
            counts[self._original[match]] += 1
        return counts


def keyword_counts(text: str, keywords: list[str]) -> dict[str, int]:
    return KeywordCounter(keywords)(text)
