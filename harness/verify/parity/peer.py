"""The shape every peer module shares: its verdict on one item, and the options a comparison sets.

A peer module (vlmevalkit, lmms_eval, r1v3) turns ParityItems into PeerVerdicts by the peer's own
rules, and names, for an item where it and the harness disagree, why. `path` records which of the
peer's rules decided, so the reason comes from what the peer did, not from guessing at the text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class PeerVerdict:
    """A peer's decision. `extracted` is what the peer would report as the prediction (a letter, a
    value, lmms-eval's list of open-answer candidates); `path` names the rule that decided."""

    correct: bool
    extracted: Any
    path: str
    random: bool = False  # the peer drew this answer at random


@dataclass(frozen=True)
class PeerOptions:
    """Settings of the peers' own runs that change their verdicts.

    `split_think`: VLMEvalKit's SPLIT_THINK environment switch (score only the text after the last
    `</think>`); off is VLMEvalKit's default. `seed`: the seed lmms-eval gives Python's `random`
    before it scores (its `--seed` default is 0); its MMMU parser draws a random letter from it.
    """

    split_think: bool = False
    seed: int = 0
