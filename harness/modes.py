"""Inference modes: slow thinking, NoThink, NoWait, and the ban sets NoWait is made of.

NoWait (Wang et al. 2025, used in the Skywork-R1V3 report §6.2) bans, at the logit level, every
vocabulary token whose lowercased text contains a deliberative keyword. A ban on token ids cannot stop
a word that the model spells from several innocent tokens ("W" + "ait"), so outputs are also scanned
for residual keywords and the count is reported rather than assumed to be zero.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

MODES = ("slow", "nothink", "nowait")
BUDGET_POLICIES = ("cap", "force")

KEYWORD_PRESETS: dict[str, list[str]] = {
    # The three the Skywork-R1V3 report names.
    "paper": ["wait", "alternatively", "hmm"],
    # The NoWait paper's seventeen.
    "nowait17": ["wait", "alternatively", "hmm", "but", "however", "alternative", "another", "check",
                 "double-check", "oh", "maybe", "verify", "other", "again", "now", "ah", "any"],
}

# Tokens that contain a keyword by accident; excluded by default (compared after strip + lowercase).
DEFAULT_EXCLUDE: list[str] = [
    "know", "known", "knowing", "knowledge", "acknowledge", "snow", "many", "company", "germany",
    "anyway", "mother", "brother", "bother", "butter", "button", "distribute", "contribute", "attribute",
    "john", "ohio", "yeah", "utah", "shah", "noah", "oath", "bahamas", "await", "awaiting", "awaited",
]


def think_opened(mode: str) -> bool:
    """Whether the assistant turn opens with <think> (slow and nowait) or not (nothink)."""
    return mode in ("slow", "nowait")


@dataclass(frozen=True)
class BanSet:
    keywords: tuple[str, ...]
    excluded: tuple[str, ...]
    token_ids: tuple[int, ...] = field(default_factory=tuple)
    tokens: tuple[str, ...] = field(default_factory=tuple)

    @property
    def size(self) -> int:
        return len(self.token_ids)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(json.dumps(list(self.token_ids)).encode()).hexdigest()

    def manifest(self) -> dict[str, Any]:
        return {"keywords": list(self.keywords), "excluded": list(self.excluded), "size": self.size,
                "sha256": self.sha256, "tokens": list(self.tokens)}


def resolve_keywords(spec: str | Iterable[str] | None) -> list[str]:
    """'paper' | 'nowait17' | 'a,b,c' | a list → lowercased keywords."""
    if spec is None:
        return list(KEYWORD_PRESETS["paper"])
    if isinstance(spec, str):
        if spec in KEYWORD_PRESETS:
            return list(KEYWORD_PRESETS[spec])
        spec = spec.split(",")
    keywords = [k.strip().lower() for k in spec if k.strip()]
    if not keywords:
        raise ValueError("the NoWait keyword list is empty")
    return keywords


def build_ban_set(tokenizer: Any, keywords: Iterable[str], exclude: Iterable[str] = ()) -> BanSet:
    """Every non-special token whose lowercased text contains a keyword, minus exclusions."""
    keywords = tuple(k.lower() for k in keywords)
    excluded = tuple(sorted({e.strip().lower() for e in exclude}))
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    added = getattr(tokenizer, "added_tokens_decoder", {}) or {}
    special.update(i for i, tok in added.items() if getattr(tok, "special", False))
    vocab_size = len(tokenizer)
    texts = tokenizer.batch_decode([[i] for i in range(vocab_size)], skip_special_tokens=False,
                                   clean_up_tokenization_spaces=False)
    ids: list[int] = []
    tokens: list[str] = []
    for token_id, text in enumerate(texts):
        if token_id in special:
            continue
        lowered = text.lower()
        if not any(k in lowered for k in keywords):
            continue
        if lowered.strip() in excluded:
            continue
        ids.append(token_id)
        tokens.append(text)
    return BanSet(keywords=keywords, excluded=excluded, token_ids=tuple(ids), tokens=tuple(tokens))


def count_keywords(text: str, keywords: Iterable[str]) -> dict[str, int]:
    """Occurrences of each keyword in text, case-insensitive, as the ban scan matches them (substrings)."""
    lowered = text.lower()
    return {k: len(re.findall(re.escape(k), lowered)) for k in keywords}


# Appended before a forced </think> (budget-policy force); a model that reads it tends to answer at once.
DEFAULT_EARLY_STOP = "\n\nConsidering the limited time, I have to give the solution based on the thinking directly now.\n"
