"""Phrases the report looks for in a response's thinking (the paper's Table 5 hallucination markers).

The think/answer split and keyword counting are `harness.modes`'s; this module only folds typography so
that "can’t see the image" is found as "can't see the image".
"""

from __future__ import annotations

DEFAULT_HALLUCINATION_PHRASES = ("can't see the image",)

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'"})


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
