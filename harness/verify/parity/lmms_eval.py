"""lmms-eval 0.7.3's rule scoring of MMMU and MathVista, rewritten from its behaviour.

Before any task scores, lmms-eval's command line strips reasoning blocks (`--reasoning_tags`,
default `<think>…</think>` and `<analysis>…</analysis>`): every closed block is cut out, a closing
tag without an opening one keeps only the text after the last closing tag, an unclosed opening tag
is left in place; the result is stripped.

MMMU (the MMMU reference parser):
- multiple choice: strip `,.!?;:'` from both ends (one character class after another) and pad with
  spaces; candidates are the letters written "(X)", else "X ", else "X.", else (for more than five
  words) the options whose text occurs; several candidates: the one written last; none: a letter
  drawn with `random.choice` from the global `random`, which lmms-eval seeds once (`--seed`,
  default 0) before the run. Right when the letter equals the gold (or one of a gold list).
- open: the lower-cased response is cut at newlines; in each line the shortest tail after "could
  be ", "so ", "is ", "thus ", "therefore ", "final ", "answer ", "result " (and "=" in the last
  line) is a key phrase (the whole response when none); the numbers in the key phrases join them;
  each candidate is normalised (a number → float rounded to 2 decimals, text → lower case, a single
  character padded with a space). Right when a float candidate equals a normalised gold, or a
  normalised gold string is a substring of a text candidate.
The draws follow item order, as lmms-eval draws when it scores documents one at a time
(`--process_docs_parallel 1`; its default of 4 threads draws in whatever order the threads run)
and nothing else has used `random` since the seed.

MathVista: lmms-eval has a rule path without its GPT extractor, but a narrow one. The response is
the extraction when it is exactly one of the options, or (by answer type) parses whole with `int()`
or `float()`; otherwise the GPT extractor is asked, and with none the extraction is "". A
multiple-choice extraction that is not an option letter becomes the option nearest to it by edit
distance, so "" becomes the shortest option. Integers compare as `str(int(float(x)))`, floats as
`str(round(float(x), precision))`: MathVista's precision is a float (1.0, 2.0), `round()` refuses
it, and every float item scores wrong. The comparison is `str(prediction) == str(answer)`, stripped.
"""

from __future__ import annotations

import random
import re

from harness.types import Verdict
from harness.verify.parity.items import ParityItem
from harness.verify.parity.peer import PeerOptions, PeerVerdict
from harness.verify.parity.reasons import shape_reason

NAME = "lmms-eval"
REASONING_TAGS = (("<think>", "</think>"), ("<analysis>", "</analysis>"))
EDGE_PUNCTUATION = (",", ".", "!", "?", ";", ":", "'")
MIN_WORDS_FOR_TEXT = 5  # option texts are searched only in responses of more than this many words
KEY_MARKERS = ("could be ", "so ", "is ", "thus ", "therefore ", "final ", "answer ", "result ")
TRIVIAL_KEYS = (":", ",", ".", "!", "?", ";", "'")
# The reference parser's three number shapes, collected in this order: thousands with commas,
# scientific notation, then plain integers and decimals not followed by an exponent or a comma.
_THOUSANDS = re.compile(r"-?\b\d{1,3}(?:,\d{3})+\b")
_SCIENTIFIC = re.compile(r"-?\d+(?:\.\d+)?[eE][+-]?\d+")
_PLAIN = re.compile(r"-?(?:\d+\.\d+|\.\d+|\d+\b)(?![eE][+-]?\d+)(?![,\d])")
_PARENTHESISED_LETTER = re.compile(r"\(([a-zA-Z])\)")


def strip_reasoning(text: str) -> str:
    """The response as lmms-eval's scorer receives it with its default reasoning tags."""
    for opening, closing in REASONING_TAGS:
        while opening in text and closing in text:
            start = text.find(opening)
            end = text.find(closing, start)
            if end < 0:
                break
            text = text[:start] + text[end + len(closing):]
        if closing in text and opening not in text:
            text = text.rsplit(closing, 1)[-1]
    return text.strip()


# ------------------------------------------------------------------ MMMU multiple choice


def parse_choice(response: str, letters: str, options: tuple[str, ...],
                 rng: random.Random | None) -> tuple[str | None, str, bool]:
    """(letter, how it was found, whether there were several candidates). With no candidate the
    letter is drawn from `rng` (how = "random"); with `rng` None nothing is drawn (letter None)."""
    for character in EDGE_PUNCTUATION:
        response = response.strip(character)
    padded = f" {response} "
    texts = dict(zip(letters, options))
    stages = (
        ("bracket", [letter for letter in letters if f"({letter})" in padded]),
        ("letter", [letter for letter in letters if f"{letter} " in padded]),
        ("letter_dot", [letter for letter in letters if f"{letter}." in padded]),
    )
    how, candidates = next(((h, c) for h, c in stages if c), ("none", []))
    if not candidates and len(padded.split()) > MIN_WORDS_FOR_TEXT:
        lowered = padded.lower()
        how, candidates = "option_text", [letter for letter in letters if texts[letter].lower() in lowered]
    if not candidates:
        return (rng.choice(list(letters)) if rng is not None else None), "random", False
    if len(candidates) == 1:
        return candidates[0], how, False
    if how == "option_text":
        lowered = padded.lower()
        positions = [lowered.rfind(texts[letter].lower()) for letter in candidates]
    elif how == "bracket":
        positions = [padded.rfind(f"({letter})") for letter in candidates]
    else:
        positions = [padded.rfind(f" {letter} ") for letter in candidates]
    return candidates[positions.index(max(positions))], how, True


def stray(response: str, letter: str) -> bool:
    """Whether the letter occurs only inside words ("DNA is") or as the article / pronoun ("A cat",
    "I think"), never as a letter of its own."""
    for found in re.finditer(rf"(?<![A-Za-z0-9]){letter}(?![A-Za-z0-9])", response):
        if not (letter in "AI" and re.match(r" [a-z]", response[found.end():found.end() + 2])):
            return False
    return True


# ------------------------------------------------------------------ MMMU open questions


def numbers_in(text: str) -> list[str]:
    return _THOUSANDS.findall(text) + _SCIENTIFIC.findall(text) + _PLAIN.findall(text)


def normalize(text: str) -> list[str | float]:
    """A candidate or a gold as the reference parser compares it."""
    text = text.strip()
    try:
        return [round(float(text.replace(",", "")), 2)]
    except ValueError:
        text = text.lower()
        return [" " + text, text + " "] if len(text) == 1 else [text]


def key_phrases(response: str) -> list[str]:
    response = response.strip().strip(".").lower()
    # The reference also splits at ". " before a capital, which cannot occur once lower-cased.
    lines = response.split("\n")
    keys = []
    for index, line in enumerate(lines):
        markers = KEY_MARKERS + (("=",) if index == len(lines) - 1 else ())
        shortest = None
        for marker in markers:
            if marker in line:
                tail = line.split(marker)[-1].strip()
                if not shortest or len(tail) < len(shortest):
                    shortest = tail
        if shortest and shortest.strip() not in TRIVIAL_KEYS:
            keys.append(shortest)
    return keys or [response]


def parse_open(response: str) -> list[str | float]:
    """The candidate answers of an open response, each once, in the order first found."""
    keys = key_phrases(response)
    raw = keys + [number for key in keys for number in numbers_in(key)]
    return list(dict.fromkeys(value for text in raw for value in normalize(text)))


def open_matches(gold: str | list[str], candidates: list[str | float]) -> tuple[bool, str | None]:
    """(right?, how: "number" or "substring")."""
    golds = [g for answer in gold for g in normalize(answer)] if isinstance(gold, list) else normalize(gold)
    for candidate in candidates:
        if isinstance(candidate, str):
            if any(isinstance(g, str) and g in candidate for g in golds):
                return True, "substring"
        elif candidate in golds:
            return True, "number"
    return False, None


def _gold(item: ParityItem) -> str | list[str]:
    return list(item.accepted) if len(item.accepted) > 1 else item.answer


def score_mmmu(item: ParityItem, rng: random.Random | None) -> PeerVerdict:
    response = strip_reasoning(item.response)
    gold = _gold(item)
    if item.is_choice:
        letter, how, several = parse_choice(response, item.letters, item.options, rng)
        correct = letter in gold if isinstance(gold, list) else letter == gold
        path = how + ("_several" if several else "")
        return PeerVerdict(correct=letter is not None and correct, extracted=letter, path=path,
                           random=how == "random" and letter is not None)
    candidates = parse_open(response)
    correct, how = open_matches(gold, candidates)
    return PeerVerdict(correct=correct, extracted=candidates, path="open_" + (how or "none"))


# ------------------------------------------------------------------ MathVista


def edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b)))
        previous = current
    return previous[-1]


def mathvista_extraction(prediction: str, item: ParityItem) -> tuple[str, str]:
    """(extraction, how) without a GPT extractor."""
    if not prediction:
        return "", "empty"
    if item.is_choice and prediction in item.options:
        return prediction, "exact_choice"
    parse = {"integer": int, "float": float}.get(item.answer_type or "")
    if parse is not None:
        try:
            return str(parse(prediction)), "whole_" + (item.answer_type or "")
        except ValueError:
            pass
    return "", "needs_gpt"


def mathvista_normalized(extraction: str, item: ParityItem) -> str | None:
    if item.is_choice:
        extraction = extraction.strip()
        letters = _PARENTHESISED_LETTER.findall(extraction)
        if letters:
            extraction = letters[0].upper()
        if extraction in item.letters and len(extraction) == 1:
            return item.options[item.letters.index(extraction)]
        distances = [edit_distance(extraction, option) for option in item.options]
        return item.options[distances.index(min(distances))]
    try:
        if item.answer_type == "integer":
            return str(int(float(extraction)))
        if item.answer_type == "float":
            return str(round(float(extraction), item.precision))  # a float precision raises TypeError
    except (ValueError, OverflowError, TypeError):
        return None
    return extraction


def score_mathvista(item: ParityItem) -> PeerVerdict:
    prediction = strip_reasoning(item.response).strip()
    extraction, how = mathvista_extraction(prediction, item)
    normalized = mathvista_normalized(extraction, item)
    correct = str(normalized).strip() == item.answer.strip()
    if item.is_choice and how != "exact_choice":
        how = "nearest_option"
    elif how.startswith("whole_") and normalized is None:
        how = "unnormalizable"
    return PeerVerdict(correct=correct, extracted=normalized, path=how)


def score(items: list[ParityItem], options: PeerOptions) -> list[PeerVerdict]:
    """lmms-eval's verdict on every item, in order; MMMU's random letters come from one stream."""
    rng = random.Random(options.seed)
    return [score_mathvista(item) if item.family == "mathvista" else score_mmmu(item, rng) for item in items]


def _decimals(text: str) -> int:
    return len(text.strip().split(".")[1]) if text.count(".") == 1 else 0


def explain(item: ParityItem, peer: PeerVerdict, ours: Verdict, options: PeerOptions) -> str:
    """The reason for a difference that the shared checks left open."""
    if item.family == "mathvista":
        if peer.path == "unnormalizable" and item.answer_type == "float":
            return "precision"
        if peer.correct and "_" in strip_reasoning(item.response):
            return "python_parse"
        return "needs_gpt" if peer.path in ("needs_gpt", "empty", "unnormalizable") else shape_reason(peer, ours)
    if item.is_choice:
        if peer.path.endswith("_several"):
            return "last_letter"
        if peer.path == "option_text":
            return "option_text"
        if peer.extracted and stray(strip_reasoning(item.response), peer.extracted):
            return "stray_letter"
        return shape_reason(peer, ours)
    if not peer.correct:
        whole = strip_reasoning(item.response).lower()
        if open_matches(_gold(item), normalize(whole) + [n for text in numbers_in(whole) for n in normalize(text)])[0]:
            return "key_phrase"
        if ours.method == "numeric" and any(not isinstance(c, str) for c in peer.extracted):
            return "rounding"
        return "literal" if ours.extracted else shape_reason(peer, ours)
    if peer.path == "open_substring":
        return "substring"
    if len([c for c in peer.extracted if not isinstance(c, str)]) > 1:
        return "number_candidates"
    return "rounding" if any(_decimals(gold) > 2 for gold in item.accepted) else shape_reason(peer, ours)
