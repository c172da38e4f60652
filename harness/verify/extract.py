"""Answer extraction: from a raw response to the short string a rule can compare.

Everything here is plain string work on untrusted text, so every function is linear-time (one pass
over a bounded tail of the response, no nested regex quantifiers over unbounded input), and never
guesses: when the response names no answer in a recognised shape, the result is None, never a
random or "most likely" value. Boxes are found by one scanner (`find_boxes`); answer markers live in
markers.py, option letters in options.py, alternatives ("A or B") in hedge.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Answers sit at the end of a response; scanning only this many trailing characters bounds the
# work on a hostile 1 MB response without changing any realistic extraction.
TAIL_CHARS = 65_536
MAX_RUN_BOXES = 32  # a final run of more boxes than this is not one list answer: only its tail counts

_BOXED_START = re.compile(r"\\(?:boxed|fbox)\s*\{")
_BRACE = re.compile(r"\\[{}]|[{}]")


@dataclass(frozen=True)
class Box:
    """One complete, brace-balanced `\\boxed{...}` (or `\\fbox{...}`)."""

    start: int  # the backslash of `\boxed`
    open: int  # its opening brace
    close: int  # its closing brace


def find_boxes(text: str) -> list[Box]:
    """Every complete box, nested ones included, in the order they close.

    One pass over the braces: escaped braces `\\{ \\}` are content, not grouping; an unclosed box is
    no box."""
    starts = {m.end() - 1: m.start() for m in _BOXED_START.finditer(text)}
    if not starts:
        return []
    stack: list[int] = []
    found: list[Box] = []
    for m in _BRACE.finditer(text):
        if m.group() == "{":
            stack.append(m.start())
        elif m.group() == "}" and stack:
            open_at = stack.pop()
            if open_at in starts:
                found.append(Box(starts[open_at], open_at, m.start()))
    return found


def _outermost(boxes: list[Box]) -> list[Box]:
    """The boxes no other box contains, in order (each box is pushed and popped at most once)."""
    outer: list[Box] = []
    for box in boxes:
        while outer and outer[-1].start > box.start:
            outer.pop()  # closed before `box` but opened after it: nested inside it
        outer.append(box)
    return outer


def _content(text: str, box: Box, by_start: dict[int, Box]) -> str:
    """A box's content with boxes that wrap all of it unwrapped (`\\boxed{\\boxed{5}}` → "5").

    Each level costs its own leading and trailing whitespace, so unwrapping is linear in the text."""
    lo, hi = box.open + 1, box.close
    while True:
        while lo < hi and text[lo].isspace():
            lo += 1
        while hi > lo and text[hi - 1].isspace():
            hi -= 1
        inner = by_start.get(lo)
        if inner is None or inner.close != hi - 1:
            return text[lo:hi]
        lo, hi = inner.open + 1, inner.close


# What may stand between two boxes of one answer list: separators, "and"/"or" in a few languages, a
# variable name ("x ="), spacing commands, short \text{...}, math delimiters. Matched token by token
# (one regex over the whole gap, with its nested repetition, backtracks exponentially on ",,,,,,Z").
_JOINER_TOKEN = re.compile(
    r"[\s,;]+|[a-zA-Z](?:_\{?\w{1,8}\}?)?\s*=|(?:and|or|ou|et|oder|und|o|y|или|и)(?![^\W\d_])|或者|或|和|&"
    r"|\\q?quad|\\text\s*\{[^{}]{0,40}\}|\$|\\[()\[\]]"
)
MAX_JOINER_CHARS = 60


def _is_joiner(between: str) -> bool:
    if len(between) > MAX_JOINER_CHARS:
        return False
    at = 0
    while at < len(between):
        m = _JOINER_TOKEN.match(between, at)
        if m is None:
            return False
        at = m.end()
    return True


@dataclass(frozen=True)
class BoxRun:
    """The last run of boxes written as one answer ("\\boxed{1}, \\boxed{2} or \\boxed{3}")."""

    contents: tuple[str, ...]  # each box's content, in order
    joiners: tuple[str, ...]  # the text between consecutive boxes
    end: int  # index, in the whole text, of the last box's closing brace


def final_box_run(text: str) -> BoxRun | None:
    """The last run of outermost boxes in the text's tail; None when it has no complete box."""
    offset = max(0, len(text) - TAIL_CHARS)
    tail = text[offset:]
    boxes = find_boxes(tail)
    if not boxes:
        return None
    by_start = {box.start: box for box in boxes}
    outer = _outermost(boxes)
    run = [outer[-1]]
    joiners: list[str] = []
    for box in reversed(outer[:-1]):
        if len(run) >= MAX_RUN_BOXES:
            break
        between = tail[box.close + 1 : run[0].start]
        if not _is_joiner(between):
            break
        run.insert(0, box)
        joiners.insert(0, between)
    return BoxRun(tuple(_content(tail, box, by_start) for box in run), tuple(joiners),
                  run[-1].close + offset)


def last_boxed(text: str) -> str | None:
    """Content of the last complete box (nested boxes unwrapped), or None."""
    run = final_box_run(text)
    return run.contents[-1] if run else None


_WRAPPERS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"), ("**", "**"), ("*", "*"), ("`", "`"))
_TRAILING = " .。,;"


def clean_candidate(text: str) -> str:
    """Strip the decoration around an answer: whitespace, math delimiters, bold, trailing dots.

    Works on indices and slices once at the end, so "$$$$...$$$$" costs one pass, not one copy per
    layer."""
    lo, hi = 0, len(text)
    changed = True
    while changed and lo < hi:
        changed = False
        while lo < hi and text[lo].isspace():
            lo, changed = lo + 1, True
        while hi > lo and text[hi - 1].isspace():
            hi, changed = hi - 1, True
        for left, right in _WRAPPERS:
            if hi - lo >= len(left) + len(right) and text.startswith(left, lo, hi) and text.endswith(right, lo, hi):
                lo, hi, changed = lo + len(left), hi - len(right), True
        while hi > lo and text[hi - 1] in _TRAILING:
            hi, changed = hi - 1, True
        if lo < hi and text[lo] in "*$" and text[hi - 1] not in "*$":
            while lo < hi and text[lo] in "*$ ":
                lo += 1
            changed = True
        if lo < hi and text[hi - 1] in "*$" and text[lo] not in "*$":
            while hi > lo and text[hi - 1] in "*$ ":
                hi -= 1
            changed = True
    return text[lo:hi]


# ---------------------------------------------------------------- math spans

MAX_SPAN_CHARS = 2000
_MATH_DELIMITER = re.compile(r"\$\$|\\\(|\\\)|\\\[|\\\]|(?<!\\)\$")
_CLOSER = {"$$": "$$", "\\(": "\\)", "\\[": "\\]", "$": "$"}


@dataclass(frozen=True)
class MathSpan:
    start: int  # the opening delimiter
    end: int  # just after the closing delimiter
    body: str  # the content, cleaned


def math_spans(text: str, offset: int = 0) -> list[MathSpan]:
    """Every `$...$`, `$$...$$`, `\\(...\\)` and `\\[...\\]` span from `offset` on, in one pass over
    the delimiters (an opener that finds no closer within `MAX_SPAN_CHARS` is dropped; `$...$` does
    not cross a line)."""
    spans: list[MathSpan] = []
    opener: str | None = None
    opened_at = body_start = 0
    for m in _MATH_DELIMITER.finditer(text, offset):
        token = m.group()
        if opener is not None and token == _CLOSER[opener]:
            body = text[body_start : m.start()]
            if 0 < len(body) <= MAX_SPAN_CHARS and not (opener == "$" and "\n" in body):
                cleaned = clean_candidate(body)
                if cleaned:
                    spans.append(MathSpan(opened_at, m.end(), cleaned))
                opener = None
                continue
        if token in _CLOSER:
            opener, opened_at, body_start = token, m.start(), m.end()
    return spans


def last_latex_at(text: str) -> tuple[int, str] | None:
    """(end of the span, its content) for the last math span in the text's tail."""
    spans = math_spans(text, max(0, len(text) - TAIL_CHARS))
    return (spans[-1].end, spans[-1].body) if spans else None


_TEXT_WRAP = re.compile(r"\\(?:text|textbf|mathrm|mathbf|textit)\s*\{([^{}]*)\}")


def strip_text_wrappers(text: str) -> str:
    """`\\text{B}` → "B": the LaTeX text commands around words, without their braces."""
    return _TEXT_WRAP.sub(r"\1", text)


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
MAX_NUMBER_CHARS = 200


@dataclass(frozen=True)
class Number:
    value: float
    percent: bool
    decimals: int  # digits after the decimal point as written (for precision matching)


def parse_number(text: str, units: bool = True) -> Number | None:
    """A single number as written in an answer: "1,234.5 kg", "45%", "3.2e-5", "3\\times10^{4}",
    "\\frac{3}{4}", "-1/2". None when the text is anything more than one number (or, with
    `units=False`, when a unit word follows it), and for numbers no float can hold."""
    if len(text) > MAX_NUMBER_CHARS:
        return None
    text = _TEXT_WRAP.sub(r" \1", text)
    percent_sign = "\\%" in text or "%" in text
    text = _LATEX_NOISE.sub(lambda m: "%" if m.group() == "\\%" else " ", text)
    text = clean_candidate(text).replace("−", "-")
    m = _FRACTION.match(text)
    if m:
        num, den = (m.group("a"), m.group("b")) if m.group("a") else (m.group("c"), m.group("d"))
        value = float(num) / float(den) if float(den) != 0 else float("inf")
        if value != value or value in (float("inf"), float("-inf")):
            return None
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
    if value in (float("inf"), float("-inf")):  # 200 nines: a digit string, not a number to compare
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
    for last in _NUMBER_ANYWHERE.finditer(text, offset):
        pass
    return (last.start(), last.group().strip()) if last else None


_IS_SPLIT = re.compile(r"\s(?:is|are|equals|=)\s|=")
_WORD = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]{3,}")
_LIST_GLUE = re.compile(r'^[\s,;"\'\\]*(?:(?:and|or)[\s,;"\'\\]*)?$')


def reduce_sentence(candidate: str) -> str:
    """A math answer from a sentence: "The largest $n$ is 34" → "34"; formulas pass unchanged.

    A sentence whose tail is several formulas joined by "and"/"or"/commas ("$12$ and $13$") keeps
    them all, with their joining words, so a list or an alternative is not cut to its last member."""
    outside_math = _outside(candidate, math_spans(candidate))
    if not _WORD.search(re.sub(r"\\[a-zA-Z]+", " ", outside_math)):
        return candidate
    parts = _IS_SPLIT.split(candidate)
    tail = clean_candidate(parts[-1]) if len(parts) > 1 else candidate
    tail_spans = math_spans(tail)
    if tail and not _WORD.search(re.sub(r"\\[a-zA-Z]+", " ", _outside(tail, tail_spans))):
        return tail
    listed = _listed_formulas(tail, tail_spans)
    if listed:
        return listed
    latex = (tail_spans[-1].end, tail_spans[-1].body) if tail_spans else None
    number = last_number_at(tail)
    if number and (latex is None or latex[0] <= number[0]):
        return number[1]
    return latex[1] if latex else candidate


def _outside(text: str, spans: list[MathSpan]) -> str:
    pieces, at = [], 0
    for span in spans:
        pieces.append(text[at : span.start])
        at = span.end
    pieces.append(text[at:])
    return " ".join(pieces)


def _listed_formulas(text: str, spans: list[MathSpan]) -> str | None:
    """The trailing formulas of `text` joined by "and"/"or"/commas, as one answer, or None."""
    run = spans[-1:]
    joiners: list[str] = []
    for span in reversed(spans[:-1]):
        between = text[span.end : run[0].start]
        if len(between) > 20 or not _LIST_GLUE.match(between):
            break
        run.insert(0, span)
        joiners.insert(0, between)
    if len(run) < 2 or text[run[-1].end :].strip(" .\"'\\"):
        return None
    words = [" or " if "or" in j else " and " if "and" in j else ", " for j in joiners]
    return run[0].body + "".join(w + s.body for w, s in zip(words, run[1:]))
