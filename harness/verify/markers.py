"""Answer markers: "the answer is", "Answer:", "答案是", "la réponse est" ... and whether one is meant.

A marker names the text after it as the response's answer. Inside a finished response the last marker
wins, whatever surrounds it. Inside a thought that never closed (a `--budget-policy cap` response cut
off mid-deliberation) the model is still weighing options, so a marker counts there only when it is
*committed*: not inside a sentence that doubts it ("maybe the answer is B, but ...", "if the answer is
(C), then ...", "is the answer A?", "答案可能是B吧"). `Phrase.tentative` says which.

Every search is linear in a bounded tail of the text and looks at a bounded window around each marker,
and at most `MAX_MARKERS_WEIGHED` markers are weighed per response: a response made of nothing but
doubtful markers costs the same as a short one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.verify.extract import TAIL_CHARS, clean_candidate

MAX_ANSWER_CHARS = 2000  # an answer phrase longer than this is not a short answer
MAX_MARKERS_WEIGHED = 64  # committed-only search gives up after this many doubtful markers
_LOOKBACK_CHARS = 80  # how far before a marker its sentence is read for doubt

_ANSWER_MARKER = re.compile(
    # English: "Answer:", "Final answer is", "the answer is", "the answer should be"
    r"(?:final\s+answer|correct\s+answer|the\s+answer|answer)"
    r"(?:\s*[:：]|\s+(?:is|should\s+be|would\s+be|must\s+be|will\s+be)\b\s*[:：]?)"
    # Chinese: "答案是", "答案：", "正确答案为", "最终答案是", "故选"
    r"|(?:正确|最终|最后的)?答案(?:可能|应该|应)?(?:是|为|选)?[:：]?|故选|应选"
    # French: "la réponse est", "réponse :", "la bonne réponse est"
    r"|(?:la\s+(?:bonne\s+|vraie\s+)?réponse(?:\s+finale)?\s+(?:est|sera|serait)\b|réponse(?:\s+finale)?\s*[:：])"
    # German: "die Antwort ist", "Antwort:", "die richtige Antwort lautet"
    r"|(?:die\s+(?:richtige\s+|korrekte\s+)?antwort\s+(?:ist|lautet|wäre)\b|antwort\s*[:：])"
    # Spanish: "la respuesta es", "respuesta:", "la respuesta correcta es"
    r"|(?:la\s+respuesta(?:\s+correcta|\s+final)?\s+(?:es|será|sería)\b|respuesta(?:\s+final)?\s*[:：])"
    # Russian: "Ответ:", "ответ —", "правильный ответ будет"
    r"|(?:ответ(?:ом)?\s*(?:[:：—–]|-\s|будет\b|является\b))"
    # Japanese: "答えは", "正解は"
    r"|(?:答え|正解)(?:は|[:：])",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"\.(?:\s|$)|[。？?\n]")
_QUESTION = frozenset("?？")

# Words that put the marker's sentence in doubt when they come before it ("maybe the answer is").
_DOUBT_BEFORE = re.compile(
    r"(?<![^\W\d_])(?:maybe|perhaps|possibly|probably|might|could|if|whether|suppose|supposing|assume|"
    r"assuming|guess|wonder|unsure|not\s+sure|is\s+it|what\s+if|"
    r"peut-être|si|supposons|probablement|"
    r"vielleicht|wenn|falls|ob|angenommen|wahrscheinlich|vermutlich|"
    r"quizás|quizá|tal\s+vez|supongamos|probablemente|a\s+lo\s+mejor|"
    r"может\s+быть|возможно|если|предположим|наверное)(?![^\W\d_])"
    r"|也许|可能|或许|如果|假如|假设|是否|是不是|不确定|もし|かもしれ",
    re.IGNORECASE,
)
# Words inside the answer's own sentence that take it back or doubt it ("B, but ...", "B吧").
_DOUBT_AFTER = re.compile(
    r"(?<![^\W\d_])(?:maybe|perhaps|possibly|probably|but|unless|wait|though|however|"
    r"peut-être|probablement|mais|vielleicht|wahrscheinlich|aber|quizás|quizá|probablemente|pero|"
    r"возможно|наверное|но)(?![^\W\d_])"
    r"|可能|也许|或许|但是|不过|可是|但|吗|吧|かもしれ",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Phrase:
    """One answer marker and the answer text it names."""

    start: int  # where the marker starts in the text
    end: int  # where the answer text starts
    text: str | None  # the answer text, cleaned, up to the end of its sentence (None when empty)
    tentative: bool  # the sentence doubts it: not a final answer inside an unfinished thought


def _answer_text(text: str, found: int) -> tuple[str | None, bool]:
    """The cleaned answer after a marker, and whether its sentence ended in a question mark."""
    window = text[found : found + 2 * MAX_ANSWER_CHARS]
    rest = window.lstrip(" \t*_:：")
    if rest.startswith("\n"):
        rest = rest.lstrip()
    end = _SENTENCE_END.search(rest)
    question = bool(end) and end.group() in _QUESTION
    candidate = clean_candidate((rest[: end.start()] if end else rest)[:MAX_ANSWER_CHARS])
    return candidate or None, question


def _sentence_before(text: str, start: int) -> str:
    window = text[max(0, start - _LOOKBACK_CHARS) : start]
    cut = max(window.rfind(mark) for mark in (". ", ".\n", "\n", "。", "?", "？", "!", "！"))
    return window[cut + 1 :] if cut >= 0 else window


def _phrase(text: str, match: re.Match) -> Phrase:
    answer, question = _answer_text(text, match.end())
    tentative = (
        question
        or _DOUBT_BEFORE.search(_sentence_before(text, match.start()) + match.group()) is not None
        or (answer is not None and _DOUBT_AFTER.search(answer) is not None)
    )
    return Phrase(match.start(), match.end(), answer, tentative)


def last_phrase(text: str, committed_only: bool = False) -> Phrase | None:
    """The last answer marker in the text's tail (with `committed_only`, the last one not in doubt)."""
    offset = max(0, len(text) - TAIL_CHARS)
    if not committed_only:
        last = None
        for last in _ANSWER_MARKER.finditer(text, offset):
            pass
        return _phrase(text, last) if last is not None else None
    recent: list[re.Match] = []
    for match in _ANSWER_MARKER.finditer(text, offset):
        recent.append(match)
        if len(recent) > 2 * MAX_MARKERS_WEIGHED:
            del recent[:MAX_MARKERS_WEIGHED]
    for match in reversed(recent[-MAX_MARKERS_WEIGHED:]):
        phrase = _phrase(text, match)
        if not phrase.tentative and phrase.text is not None:
            return phrase
    return None
