"""Answer extraction: from a raw response to the short string a rule can compare.

Everything here is plain string work on untrusted text, so every function is linear-time (no
nested regex quantifiers over unbounded input), looks at a bounded tail of the response, and never
guesses: when the response names no answer in a recognised shape, the result is None, never a
random or "most likely" option.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Answers sit at the end of a response; scanning only this many trailing characters bounds the
# work on a hostile 1 MB response without changing any realistic extraction.
TAIL_CHARS = 65_536


_BOXED_START = re.compile(r"\\(?:boxed|fbox)\s*\{")
_BRACE = re.compile(r"\\[{}]|[{}]")


def boxed_spans(text: str) -> list[tuple[int, int]]:
    """(start of `\\boxed`, index of its closing brace) for every complete box, outermost only,
    in order. One pass over the braces."""
    starts = {m.end() - 1: m.start() for m in _BOXED_START.finditer(text)}
    if not starts:
        return []
    stack: list[int] = []
    spans: list[tuple[int, int]] = []
    for m in _BRACE.finditer(text):
        if m.group() == "{":
            stack.append(m.start())
        elif m.group() == "}" and stack:
            open_at = stack.pop()
            if open_at in starts:
                while spans and spans[-1][0] > starts[open_at]:
                    spans.pop()  # a box nested inside this one
                spans.append((starts[open_at], m.start()))
    return spans


def box_content(text: str, span: tuple[int, int]) -> str:
    m = _BOXED_START.match(text, span[0])
    return _unwrap_boxed(text[m.end() : span[1]].strip())


_BOX_JOINER = re.compile(r"^[\s,;]*(?:(?:and|or|&|[a-zA-Z](?:_\{?\w+\}?)?\s*=|\\quad|\\qquad|\\text\s*\{[^{}]{0,40}\}|\$|\\\)|\\\(|\\\]|\\\[|,|;)[\s,;]*)*$")


def final_boxes(text: str) -> list[str]:
    """The contents of the last run of boxes that are written as one answer list
    ("\\boxed{1}, \\boxed{2} and \\boxed{3}"), in order; [] when there is no box."""
    text = text[-TAIL_CHARS:]
    spans = boxed_spans(text)
    if not spans:
        return []
    run = [spans[-1]]
    for span in reversed(spans[:-1]):
        between = text[span[1] + 1 : run[0][0]]
        if len(between) > 60 or not _BOX_JOINER.match(between):
            break
        run.insert(0, span)
    return [box_content(text, span) for span in run]


def last_boxed_end(text: str) -> int:
    """Index of the closing brace of the last complete box, or -1."""
    spans = boxed_spans(text[-TAIL_CHARS:])
    return spans[-1][1] + max(0, len(text) - TAIL_CHARS) if spans else -1


def last_boxed(text: str) -> str | None:
    """Content of the last complete, brace-balanced `\\boxed{...}` (or `\\fbox{...}`).

    "Last" is the box that closes last, so a nested `\\boxed{\\boxed{5}}` yields "5" after
    unwrapping. Escaped braces `\\{ \\}` are content, not grouping. One pass over the braces.
    """
    text = text[-TAIL_CHARS:]
    starts = {m.end() - 1: m.start() for m in _BOXED_START.finditer(text)}
    if not starts:
        return None
    stack: list[int] = []
    best: tuple[int, int] | None = None  # (open brace index, close brace index)
    for m in _BRACE.finditer(text):
        tok = m.group()
        if tok == "{":
            stack.append(m.start())
        elif tok == "}" and stack:
            open_at = stack.pop()
            if open_at in starts and (best is None or m.start() > best[1]):
                best = (open_at, m.start())
    if best is None:
        return None
    content = text[best[0] + 1 : best[1]].strip()
    inner = _unwrap_boxed(content)
    return inner


def _unwrap_boxed(content: str) -> str:
    while True:
        m = _BOXED_START.match(content)
        if not m or not content.endswith("}"):
            return content
        inner = content[m.end() : -1]
        if not _balanced(inner):
            return content
        content = inner.strip()


def _balanced(text: str) -> bool:
    depth = 0
    for m in _BRACE.finditer(text):
        if m.group() == "{":
            depth += 1
        elif m.group() == "}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


# "Answer:", "Final answer is", "the answer is", "the answer should be", "答案是", "答案：".
_ANSWER_PHRASE = re.compile(
    r"(?:final\s+answer|correct\s+answer|the\s+answer|answer)"
    r"(?:\s*[:：]|\s+(?:is|should\s+be|would\s+be|must\s+be|will\s+be)\b\s*[:：]?)"
    r"|正确答案(?:是|为)?[:：]?|答案(?:是|为|应为)?[:：]?",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"\.(?:\s|$)|。|\n")


def answer_phrase_at(text: str) -> int | None:
    """Where the text after the last answer marker starts, or None."""
    offset = max(0, len(text) - TAIL_CHARS)
    last = None
    for m in _ANSWER_PHRASE.finditer(text, offset):
        last = m
    return last.end() if last else None


def answer_phrase(text: str) -> str | None:
    """The text after the last "answer is"/"Answer:"/"答案" marker, up to the end of its sentence."""
    found = answer_phrase_at(text)
    if found is None:
        return None
    rest = text[found:].lstrip(" \t*_:：")
    if rest.startswith("\n"):
        rest = rest.lstrip()
    end = _SENTENCE_END.search(rest)
    candidate = rest[: end.start()] if end else rest
    candidate = clean_candidate(candidate[:2000])
    return candidate or None


_WRAPPERS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"), ("**", "**"), ("*", "*"), ("`", "`"))


def clean_candidate(text: str) -> str:
    """Strip the decoration around an answer: whitespace, math delimiters, bold, trailing dots."""
    text = text.strip()
    changed = True
    while changed and text:
        changed = False
        for left, right in _WRAPPERS:
            if len(text) >= len(left) + len(right) and text.startswith(left) and text.endswith(right):
                text = text[len(left) : len(text) - len(right)].strip()
                changed = True
        stripped = text.rstrip(" .。,;")
        if stripped != text:
            text, changed = stripped, True
        if text.startswith(("*", "$")) and not text.endswith(("*", "$")):
            text, changed = text.lstrip("*$ "), True
        if text.endswith(("*", "$")) and not text.startswith(("*", "$")):
            text, changed = text.rstrip("*$ "), True
    return text


_LATEX_ENV = re.compile(r"\$\$([^$]{1,2000})\$\$|\\\[(.{1,2000}?)\\\]|\\\((.{1,2000}?)\\\)|(?<!\\)\$((?:\\\$|[^$\n]){1,2000})\$", re.DOTALL)


def last_latex(text: str) -> str | None:
    """The content of the last `$...$`, `$$...$$`, `\\[...\\]` or `\\(...\\)` span."""
    found = last_latex_at(text)
    return found[1] if found else None


def last_latex_at(text: str) -> tuple[int, str] | None:
    """(end of the span, its content) for the last math span."""
    offset = max(0, len(text) - TAIL_CHARS)
    last = None
    for m in _LATEX_ENV.finditer(text, offset):
        last = m
    if last is None:
        return None
    body = clean_candidate(next(g for g in last.groups() if g is not None))
    return (last.end(), body) if body else None


# ---------------------------------------------------------------- option letters


_TEXT_WRAP = re.compile(r"\\(?:text|textbf|mathrm|mathbf|textit)\s*\{([^{}]*)\}")
_CANDIDATE_LETTER = re.compile(
    r"^(?:(?:option|choice|answer)\s*[:：]?\s*)?[(\[]?\s*([A-Za-z])\s*[)\]]?(?:[.:：)\s]|$)", re.IGNORECASE
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
    text = _TEXT_WRAP.sub(r"\1", candidate).strip().strip("*`$ ")
    if not text:
        return None
    m = _CANDIDATE_LETTER.match(text)
    if m:
        letter = m.group(1)
        rest = text[m.end():].strip()
        set_apart = m.group(0).rstrip().endswith((")", "]", ".", ":", "：")) or not rest
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
    text = _TEXT_WRAP.sub(r"\1", text)
    text = text.lower().replace("\\%", "%")
    text = re.sub(r"[^\w%.+\-/ ]|(?<!\d)[.](?!\d)", " ", text)
    text = re.sub(r"\b(?:a|an|the)\b", " ", text)
    return " ".join(text.split())


def option_by_text(text: str, choices: dict[str, str], exact: bool) -> str | None:
    """The letter of the only option whose text the answer is (exact) or contains (not exact)."""
    if not choices:
        return None
    norm = normalize_text(text[-4000:])
    if not norm:
        return None
    hits = []
    for letter, option in choices.items():
        opt = normalize_text(option)
        if not opt:
            continue
        if exact:
            if norm == opt:
                hits.append(letter)
        elif re.search(r"(?<!\w)" + re.escape(opt) + r"(?!\w)", norm):
            hits.append(letter)
    if not exact and len(hits) > 1:
        # "10 cm" also contains option "10": keep only options not inside another matching one.
        texts = {h: normalize_text(choices[h]) for h in hits}
        hits = [h for h in hits if not any(h != o and texts[h] in texts[o] for o in hits)]
    return hits[0] if len(hits) == 1 else None


# ---------------------------------------------------------------- numbers

_NUM_CORE = r"(?:[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?|\d+(?:[.,]\d+)?|\.\d+)"
_NUMBER_ONLY = re.compile(
    r"^(?P<sign>[-+−]?)\s*(?P<cur>[$€£¥₹])?\s*(?P<num>" + _NUM_CORE + r")"
    r"(?:\s*(?:[eE](?P<exp1>[-+]?\d{1,4})|(?:\\times|×|x|\*|\\cdot)\s*10\s*\^\s*\{?\s*(?P<exp2>[-+−]?\d{1,4})\s*\}?))?"
    r"\s*(?P<pct>%|percent\b|per\s*cent\b)?"
    # A unit is a word of two or more letters, or a one-letter SI unit set apart by a space: "5x"
    # is an expression, not five of unit x.
    r"\s*(?P<unit>(?:[a-zA-Z°][a-zA-Z°/^0-9.]{1,14}|(?<=\s)[msghlLNJWVK])(?:\s+[a-zA-Z][a-zA-Z/^0-9.]{0,14}){0,2})?\s*$",
    re.IGNORECASE,
)
_FRACTION = re.compile(
    r"^(?P<sign>[-+−]?)\s*(?:\\[dt]?frac\s*\{\s*(?P<a>\d+(?:\.\d+)?)\s*\}\s*\{\s*(?P<b>\d+(?:\.\d+)?)\s*\}"
    r"|(?P<c>\d+(?:\.\d+)?)\s*/\s*(?P<d>\d+(?:\.\d+)?))\s*$"
)
_NUMBER_ANYWHERE = re.compile(
    r"[-−]?(?:\d+(?:\.\d+)?\s*/\s*\d+(?:\.\d+)?(?![\d/]|[.,]\d)"  # 2/3
    r"|[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?(?!\d|,\d)"  # 1,234,567.5
    r"|\d+,\d{1,2}(?!\d|,\d)"  # 2,74 (decimal comma)
    r"|\d+(?:\.\d+)?|\.\d+)(?:\s*%)?"
)
_LATEX_NOISE = re.compile(r"\\[,;:! ]|\\left|\\right|~|\{,\}|\^\s*\{?\\circ\}?|°|\\%")


@dataclass(frozen=True)
class Number:
    value: float
    percent: bool
    decimals: int  # digits after the decimal point as written (for precision matching)


def parse_number(text: str, units: bool = True) -> Number | None:
    """A single number as written in an answer: "1,234.5 kg", "45%", "3.2e-5", "3\\times10^{4}",
    "\\frac{3}{4}", "-1/2". None when the text is anything more than one number (or, with
    `units=False`, when a unit word follows it)."""
    if len(text) > 200:
        return None
    text = _TEXT_WRAP.sub(r" \1", text)
    percent_sign = "\\%" in text or "%" in text
    text = _LATEX_NOISE.sub(lambda m: "%" if m.group() == "\\%" else " ", text)
    text = clean_candidate(text).replace("−", "-")
    m = _FRACTION.match(text)
    if m:
        num, den = (m.group("a"), m.group("b")) if m.group("a") else (m.group("c"), m.group("d"))
        if float(den) == 0:
            return None
        value = float(num) / float(den)
        return Number(-value if m.group("sign") in "-−" and m.group("sign") else value, False, -1)
    m = _NUMBER_ONLY.match(text)
    if not m:
        return None
    if m.group("unit") and not units:
        return None
    raw = m.group("num")
    if re.fullmatch(r"\d+,\d{1,2}|0,\d+", raw):  # decimal comma ("2,74", "0,111"), not thousands
        raw = raw.replace(",", ".")
    raw = raw.replace(",", "")
    decimals = len(raw.split(".")[1]) if "." in raw else 0
    exp = m.group("exp1") or m.group("exp2")
    try:
        value = float(raw)
        if exp:
            value *= 10.0 ** int(exp.replace("−", "-"))
            decimals = -1
    except (ValueError, OverflowError):
        return None
    if m.group("sign") in ("-", "−") and m.group("sign"):
        value = -value
    pct = bool(m.group("pct")) or percent_sign
    return Number(value, pct, decimals)


def last_number(text: str) -> str | None:
    """The last number written in the text (the weakest extraction; used only on answer parts)."""
    found = last_number_at(text)
    return found[1] if found else None


def last_number_at(text: str) -> tuple[int, str] | None:
    offset = max(0, len(text) - TAIL_CHARS)
    last = None
    for m in _NUMBER_ANYWHERE.finditer(text, offset):
        last = m
    return (last.start(), last.group().strip()) if last else None


_IS_SPLIT = re.compile(r"\s(?:is|are|equals|=)\s|=")
_WORD = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]{3,}")


def reduce_sentence(candidate: str) -> str:
    """A math answer from a sentence: "The largest $n$ is 34" → "34"; formulas pass unchanged."""
    outside_math = re.sub(r"\$[^$]*\$|\\\(.*?\\\)", " ", candidate)
    if not _WORD.search(re.sub(r"\\[a-zA-Z]+", " ", outside_math)):
        return candidate
    parts = _IS_SPLIT.split(candidate)
    tail = clean_candidate(parts[-1]) if len(parts) > 1 else candidate
    if tail and not _WORD.search(re.sub(r"\\[a-zA-Z]+|\$[^$]*\$", " ", tail)):
        return tail
    latex = last_latex_at(tail)
    number = last_number_at(tail)
    if number and (latex is None or latex[0] <= number[0]):
        return number[1]
    return latex[1] if latex else candidate
