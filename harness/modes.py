"""Inference modes and what they are made of: the think tags, the think/answer split, and NoWait's bans.

- slow:    the assistant turn opens with `<think>`; the model thinks, closes with `</think>`, answers.
- nothink: the same template without `<think>` (or the family's own no-think switch).
- nowait:  slow thinking with deliberative words banned at the logit level (Wang et al. 2025, used in
           the Skywork-R1V3 report §6.2).

Everything here is the one definition of its meaning: the verifier, the metrics, the report and the
trainer all split a response with `split_thinking`, and the ban set and the residual-keyword count
match keywords by the same rule (`KeywordRule`), recorded in the manifest.

Two ban rules exist. `word` (the default) bans a token when its text is the keyword as a word -- in any
case, after a leading space or punctuation of any script, or with the word's own inflections ("wait",
" Wait", "WAIT", ".wait", "“But", "Waiting", "waited"; adverbs, conjunctions and determiners such as
"any" take none) -- and never when the keyword is only part of another word ("Kuwait", "awaits",
"cohort", "unknown"). `substring` is the NoWait paper's scan (every token whose lowercased text contains
a keyword, minus an exclusion list), kept for comparison with that paper; docs/nowait.md measures both
on real tokenizers. A ban on token ids cannot stop a word spelled from several innocent tokens
("W" + "ait"), so outputs are scanned for residual keywords and the count is reported rather than
assumed to be zero.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

MODES = ("slow", "nothink", "nowait")
BUDGET_POLICIES = ("cap", "force")
BAN_RULES = ("word", "substring")

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"

KEYWORD_PRESETS: dict[str, list[str]] = {
    # The three the Skywork-R1V3 report names.
    "paper": ["wait", "alternatively", "hmm"],
    # The NoWait paper's seventeen.
    "nowait17": ["wait", "alternatively", "hmm", "but", "however", "alternative", "another", "check",
                 "double-check", "oh", "maybe", "verify", "other", "again", "now", "ah", "any"],
}

# Tokens that contain a keyword by accident under the substring rule; excluded by default (compared
# after strip + lowercase). The word rule needs none of them, and they never match it anyway.
DEFAULT_EXCLUDE: list[str] = [
    "know", "known", "knowing", "knowledge", "acknowledge", "snow", "many", "company", "germany",
    "anyway", "mother", "brother", "bother", "butter", "button", "distribute", "contribute", "attribute",
    "john", "ohio", "yeah", "utah", "shah", "noah", "oath", "bahamas", "await", "awaiting", "awaited",
]

# Appended before a forced </think> (budget-policy force); a model that reads it tends to answer at once.
DEFAULT_EARLY_STOP = "\n\nConsidering the limited time, I have to give the solution based on the thinking directly now.\n"


def think_opened(mode: str) -> bool:
    """Whether the assistant turn opens with <think> (slow and nowait) or not (nothink)."""
    return mode in ("slow", "nowait")


# ---------------------------------------------------------------- the think/answer split


@dataclass
class Split:
    """A response cut into its thought and its final answer part."""

    thought: str  # text before the last </think> (the whole text of an unfinished thought)
    answer: str  # text after the last </think> (or the whole text when there is no thought)
    finished: bool  # False: a thinking-mode response whose thought never closed
    format_ok: bool

    @property
    def reasoning(self) -> str:
        """The thought as a reader sees it: stripped, without an opening <think> the model wrote itself."""
        text = self.thought.strip()
        return text[len(THINK_OPEN):].lstrip() if text.startswith(THINK_OPEN) else text


def split_thinking(text: str, thinking: bool = True) -> Split:
    """Split at the last `</think>` and judge the template.

    Thinking mode: the response must close its thought exactly once (an opening `<think>`, if the
    model wrote one itself, only at the very start) and say something after it. An unfinished
    thought is `format_ok=False`; its whole text is kept as `thought` so a caller can still look
    for an explicitly marked answer in it. No-think mode: no think tags anywhere, non-empty text.
    """
    cut = text.rfind(THINK_CLOSE)
    if not thinking:
        answer = text[cut + len(THINK_CLOSE):] if cut >= 0 else text
        ok = THINK_OPEN not in text and THINK_CLOSE not in text and bool(text.strip())
        return Split(thought=text[:cut] if cut >= 0 else "", answer=answer, finished=True, format_ok=ok)
    if cut < 0:
        return Split(thought=text, answer="", finished=False, format_ok=False)
    thought, answer = text[:cut], text[cut + len(THINK_CLOSE):]
    opener_ok = THINK_OPEN not in thought or (
        thought.lstrip().startswith(THINK_OPEN) and thought.count(THINK_OPEN) == 1
    )
    ok = (
        opener_ok
        and text.count(THINK_CLOSE) == 1
        and THINK_OPEN not in answer
        and bool(answer.strip())
    )
    return Split(thought=thought, answer=answer, finished=True, format_ok=ok)


# ---------------------------------------------------------------- keywords: one matching rule

_INTERJECTIONS = {"hmm", "hm", "oh", "ah", "uh", "um"}  # spelled out longer: "Hmmm", "ohhh"
# Adverbs, conjunctions and determiners take no endings: "anies", "nows", "agains" are other words (a name, pieces).
_UNINFLECTED = {"again", "alternatively", "another", "any", "but", "however", "maybe", "now"}
# Whatever is not a letter around a token's word: spaces, punctuation of any script ("“But"), digits, "_".
_NON_LETTER_EDGES = re.compile(r"^[\W\d_]+|[\W\d_]+$")


def inflections(keyword: str) -> str:
    """A regex for the keyword as a word with its own inflections ("wait" -> wait, waits, waited, waiting)."""
    stem = re.escape(keyword)
    if keyword in _INTERJECTIONS:
        return f"{stem}{re.escape(keyword[-1])}*"
    if keyword in _UNINFLECTED:
        return stem
    forms = [f"{stem}(?:s|es|ed|d|ing)?"]
    if keyword.endswith("y") and len(keyword) > 2:
        forms.append(re.escape(keyword[:-1]) + "(?:ies|ied)")
    return "|".join(forms)


class KeywordRule:
    """How a keyword is found in a token's text (for the ban) and in a response (for residual counts).

    `word`: the keyword as a whole word (letters on neither side), any case, with its inflections.
    `substring`: anywhere in the lowercased text (the NoWait paper's scan).
    """

    def __init__(self, keywords: Iterable[str], rule: str = "word") -> None:
        if rule not in BAN_RULES:
            raise ValueError(f"ban rule {rule!r}: choose one of {', '.join(BAN_RULES)}")
        self.keywords = list(dict.fromkeys(k.lower() for k in keywords))
        self.rule = rule
        # Longest keywords first, so "double-check" is counted once, not also as "check".
        ordered = sorted(self.keywords, key=len, reverse=True)
        if rule == "word":
            alternatives = "|".join(f"(?P<k{i}>{inflections(k)})" for i, k in enumerate(ordered))
            self._word = re.compile(rf"(?<![^\W\d_])(?:{alternatives})(?![^\W\d_])", re.IGNORECASE)
        else:
            self._substring = re.compile("|".join(f"(?P<k{i}>{re.escape(k)})" for i, k in enumerate(ordered)))
        self._group_keyword = {f"k{i}": k for i, k in enumerate(ordered)}

    def matches_token(self, text: str) -> bool:
        """Whether a vocabulary token's text is banned by this rule."""
        if not self.keywords:
            return False
        if self.rule == "substring":
            lowered = text.lower()
            return any(k in lowered for k in self.keywords)
        core = _NON_LETTER_EDGES.sub("", text)
        return bool(core) and self._word.fullmatch(core) is not None

    def count(self, text: str) -> dict[str, int]:
        """Occurrences of each keyword in a response, as this rule matches them."""
        counts = dict.fromkeys(self.keywords, 0)
        if not self.keywords:
            return counts
        if self.rule == "substring":
            for match in self._substring.finditer(text.lower()):
                counts[self._group_keyword[match.lastgroup]] += 1
            return counts
        for match in self._word.finditer(text):
            counts[self._group_keyword[match.lastgroup]] += 1
        return counts


def count_keywords(text: str, keywords: Iterable[str], rule: str = "word") -> dict[str, int]:
    """Occurrences of each keyword in `text` under `rule` (see `KeywordRule`)."""
    return KeywordRule(keywords, rule).count(text)


# ---------------------------------------------------------------- ban sets


@dataclass(frozen=True)
class BanSet:
    keywords: tuple[str, ...]
    excluded: tuple[str, ...]
    rule: str = "word"
    token_ids: tuple[int, ...] = field(default_factory=tuple)
    tokens: tuple[str, ...] = field(default_factory=tuple)

    @property
    def size(self) -> int:
        return len(self.token_ids)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(json.dumps(list(self.token_ids)).encode()).hexdigest()

    def manifest(self) -> dict[str, Any]:
        return {"keywords": list(self.keywords), "excluded": list(self.excluded), "rule": self.rule,
                "size": self.size, "sha256": self.sha256, "tokens": list(self.tokens)}


# Run directories written before the manifest recorded a rule were banned by the substring scan.
UNRECORDED_BAN_RULE = "substring"


@dataclass(frozen=True)
class RecordedBan:
    """A run's ban set as its manifest recorded it (what `BanSet.manifest` wrote), read back."""

    keywords: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    rule: str = UNRECORDED_BAN_RULE
    rule_recorded: bool = False  # False: an old run directory, whose ban was the substring scan
    size: int | None = None
    sha256: str | None = None
    tokens: tuple[str, ...] | None = None  # None: the manifest does not list them


def read_ban_manifest(block: Any) -> RecordedBan:
    """The manifest's `ban` block as a `RecordedBan`; a ValueError names the field that is malformed.

    The block is data from a file, so every field is checked rather than trusted.
    """
    if block is None:
        return RecordedBan()
    if not isinstance(block, dict):
        raise ValueError(f"ban: expected an object, got {type(block).__name__}")

    def strings(name: str) -> tuple[str, ...] | None:
        value = block.get(name)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"ban.{name}: expected a list of strings")
        return tuple(value)

    rule = block.get("rule")
    if rule is not None and rule not in BAN_RULES:
        raise ValueError(f"ban.rule: {rule!r} is not one of {', '.join(BAN_RULES)}")
    size = block.get("size")
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        raise ValueError(f"ban.size: expected a count, got {size!r}")
    sha256 = block.get("sha256")
    if sha256 is not None and not isinstance(sha256, str):
        raise ValueError(f"ban.sha256: expected a string, got {type(sha256).__name__}")
    return RecordedBan(
        keywords=strings("keywords") or (),
        excluded=strings("excluded") or (),
        rule=rule or UNRECORDED_BAN_RULE,
        rule_recorded=rule is not None,
        size=size,
        sha256=sha256,
        tokens=strings("tokens"),
    )


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


def special_token_ids(tokenizer: Any) -> set[int]:
    """Ids a ban must never touch: special and added-special tokens (`</think>`, end of turn)."""
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    added = getattr(tokenizer, "added_tokens_decoder", {}) or {}
    special.update(i for i, tok in added.items() if getattr(tok, "special", False))
    return special


def token_texts(tokenizer: Any) -> list[str]:
    """Every vocabulary id's text as it reads inside a text, its leading space included.

    Decoded alone, a SentencePiece piece loses its leading space ("▁Wait" reads "Wait", like "Wait"),
    so each id is decoded after an anchor token (the first that reads as plain ASCII letters) and the
    anchor's own text is cut off again. Byte-level vocabularies read the same either way.
    """
    every_id = range(len(tokenizer))
    alone = tokenizer.batch_decode([[i] for i in every_id], skip_special_tokens=False,
                                   clean_up_tokenization_spaces=False)
    anchor = next((i for i, text in enumerate(alone) if text.isascii() and text.isalpha()), None)
    if anchor is None:
        return alone
    anchor_text = alone[anchor]
    after_anchor = tokenizer.batch_decode([[anchor, i] for i in every_id], skip_special_tokens=False,
                                          clean_up_tokenization_spaces=False)
    return [pair[len(anchor_text):] if pair.startswith(anchor_text) else text
            for text, pair in zip(alone, after_anchor)]


def build_ban_set(tokenizer: Any, keywords: Iterable[str], exclude: Iterable[str] = (),
                  rule: str = "word") -> BanSet:
    """Every non-special vocabulary token that `rule` matches for a keyword, minus exclusions."""
    matcher = KeywordRule(keywords, rule)
    excluded = tuple(sorted({e.strip().lower() for e in exclude}))
    special = special_token_ids(tokenizer)
    texts = token_texts(tokenizer)
    ids: list[int] = []
    tokens: list[str] = []
    for token_id, text in enumerate(texts):
        if token_id in special or not matcher.matches_token(text) or text.strip().lower() in excluded:
            continue
        ids.append(token_id)
        tokens.append(text)
    return BanSet(keywords=tuple(matcher.keywords), excluded=excluded, rule=rule, token_ids=tuple(ids),
                  tokens=tuple(tokens))
