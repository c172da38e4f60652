"""An exact fast path in front of math-verify for the commonest symbolic answers.

math-verify's LaTeX parser costs tens of milliseconds per expression, so a polynomial written two
ways, a radical fraction left unsimplified, or a set listed in another order would dominate
scoring time. This module reads a deliberately small LaTeX subset (integers, the variables below,
`+ - \\cdot \\times`, juxtaposition, `^` with a small non-negative integer exponent, parentheses,
`\\frac{}{}` with a constant denominator, `\\sqrt{}` of an integer, and finite sets `\\{...\\}` of
such expressions) into a canonical form: a map from (monomial, square-free radicand) to an exact
`Fraction`. Square roots of distinct square-free integers are linearly independent over the
rationals, so two expressions are equal exactly when their canonical forms are.

It decides only what it can decide without math-verify's tolerance rules: *equal* whenever the
forms match, *different* only when both sides have small integer coefficients and no radicals (so no
rounding could make them "equal" to math-verify). Anything else, including any input outside the
subset, returns None and goes to math-verify unchanged. No `eval`, no sympy: a hostile string
costs one linear scan, and sizes and exponents are capped.
"""

from __future__ import annotations

import re
from fractions import Fraction

MAX_CHARS = 200
MAX_EXPONENT = 12
MAX_TERMS = 200
# Letters math-verify may read as constants or functions (e, i, E, I, pi...) are not variables here.
# f, g, h read as functions when followed by "(", and adjacent letters may be a function name
# ("tan"): both are refused rather than guessed.
VARIABLES = frozenset("abcdjkmnpqrstuvwxyz")
MAX_BITS = 4096  # coefficients beyond this are a power tower, not an answer
_WORD = re.compile(r"(?<![\\a-zA-Z])[a-zA-Z]{2,}|[a-zA-Z]\s*\(")

_TOKEN = re.compile(
    r"\s+|\\left|\\right|\\[,;! ]|\\cdot|\\times|\\frac|\\dfrac|\\tfrac|\\sqrt|\\\{|\\\}|\d+|[a-z]|[-+^(){},]"
)

Monomial = tuple[tuple[str, int], ...]
Form = dict[tuple[Monomial, int], Fraction]


class _Unsupported(Exception):
    pass


def _tokens(text: str) -> list[str]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise _Unsupported(text[pos:pos + 10])
        tok = m.group()
        pos = m.end()
        if tok.isspace() or tok in ("\\left", "\\right", "\\,", "\\;", "\\!", "\\ "):
            continue
        if tok.isdigit() and out and out[-1].isdigit():
            raise _Unsupported("two numbers side by side")  # "2 3": a product, or a spaced 23?
        out.append({"\\dfrac": "\\frac", "\\tfrac": "\\frac", "\\times": "\\cdot"}.get(tok, tok))
    return out


def _squarefree(n: int) -> tuple[int, int]:
    """n = k^2 * m with m square-free: (k, m)."""
    if n > 10**6:
        raise _Unsupported("radicand too large")
    k, m, f = 1, n, 2
    while f * f <= m:
        while m % (f * f) == 0:
            m //= f * f
            k *= f
        f += 1
    return k, m


def _add(a: Form, b: Form, sign: int = 1) -> Form:
    out = dict(a)
    for key, value in b.items():
        out[key] = out.get(key, Fraction(0)) + sign * value
        if out[key] == 0:
            del out[key]
    return out


def _mul(a: Form, b: Form) -> Form:
    out: Form = {}
    for (mono_a, rad_a), va in a.items():
        for (mono_b, rad_b), vb in b.items():
            powers = dict(mono_a)
            for var, p in mono_b:
                powers[var] = powers.get(var, 0) + p
            k1, m1 = _squarefree(rad_a * rad_b)  # sqrt(a)*sqrt(b) = k*sqrt(m)
            key = (tuple(sorted(powers.items())), m1)
            out[key] = out.get(key, Fraction(0)) + va * vb * k1
            if out[key] == 0:
                del out[key]
            elif max(out[key].numerator.bit_length(), out[key].denominator.bit_length()) > MAX_BITS:
                raise _Unsupported("coefficient too large")
    if len(out) > MAX_TERMS:
        raise _Unsupported("too many terms")
    return out


def _const(value: Fraction, radicand: int = 1) -> Form:
    return {((), radicand): value} if value else {}


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens, self.pos = tokens, 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        tok = self.peek()
        if tok is None or (expected is not None and tok != expected):
            raise _Unsupported(f"expected {expected!r}, got {tok!r}")
        self.pos += 1
        return tok

    def expression(self) -> Form:
        sign = 1
        if self.peek() in ("+", "-"):
            sign = -1 if self.take() == "-" else 1
        total = _add({}, self.term(), sign)
        while self.peek() in ("+", "-"):
            sign = -1 if self.take() == "-" else 1
            total = _add(total, self.term(), sign)
        return total

    def term(self) -> Form:
        value = self.power()
        while True:
            tok = self.peek()
            if tok == "\\cdot":
                self.take()
            elif tok is None or tok in ("+", "-", ")", "}", ","):
                return value
            value = _mul(value, self.power())

    def power(self) -> Form:
        base = self.atom()
        if self.peek() == "^":
            self.take()
            if self.peek() == "{":
                self.take()
                exponent = self.take()
                self.take("}")
            else:
                exponent = self.take()
            if not exponent.isdigit() or int(exponent) > MAX_EXPONENT:
                raise _Unsupported("exponent")
            result = _const(Fraction(1))
            for _ in range(int(exponent)):
                result = _mul(result, base)
            return result
        return base

    def atom(self) -> Form:
        tok = self.take()
        if tok.isdigit():
            if len(tok) > 1 and tok.startswith("0"):
                raise _Unsupported("leading zero")
            return _const(Fraction(int(tok)))
        if tok in VARIABLES:
            return {(((tok, 1),), 1): Fraction(1)}
        if tok == "(":
            inner = self.expression()
            self.take(")")
            return inner
        if tok == "{":
            inner = self.expression()
            self.take("}")
            return inner
        if tok == "\\sqrt":
            self.take("{")
            radicand = self.take()
            self.take("}")
            if not radicand.isdigit():
                raise _Unsupported("non-integer radicand")
            k, m = _squarefree(int(radicand))
            return _const(Fraction(k), m)
        if tok == "\\frac":
            self.take("{")
            numerator = self.expression()
            self.take("}")
            self.take("{")
            denominator = self.expression()
            self.take("}")
            return _mul(numerator, _inverse(denominator))
        raise _Unsupported(tok)


def _inverse(form: Form) -> Form:
    """1/(c*sqrt(m)) = sqrt(m)/(c*m); any other denominator is outside the subset."""
    if len(form) != 1:
        raise _Unsupported("denominator is not a single constant term")
    ((mono, radicand), value), = form.items()
    if mono:
        raise _Unsupported("denominator has a variable")
    return _const(1 / (value * radicand), radicand)


def canonical(text: str) -> tuple[str, object] | None:
    """("expr", form) or ("set", frozenset of forms); None outside the subset."""
    if len(text) > MAX_CHARS or _WORD.search(text.replace("\\left", " ").replace("\\right", " ")):
        return None
    text = text.strip()
    if len(text) > 1 and text[0] == "$" and text[-1] == "$":  # a gold written as inline math
        text = text.strip("$")
    try:
        tokens = _tokens(text)
        if not tokens:
            return None
        if tokens[0] == "\\{" and tokens[-1] == "\\}":
            if re.search(r",\d{3}(?!\d)", text):
                return None  # "\\{1,500\\}": two elements, or a thousands separator?
            parser = _Parser(tokens[1:-1] + [","])
            elements = []
            while parser.peek() is not None:
                elements.append(frozenset(parser.expression().items()))
                parser.take(",")
            return ("set", frozenset(elements))
        if "," in tokens or "\\{" in tokens or "\\}" in tokens:
            return None
        parser = _Parser(tokens)
        form = parser.expression()
        if parser.peek() is not None:
            return None
        return ("expr", form)
    except (_Unsupported, ZeroDivisionError, RecursionError):
        return None


def _integral(kind: str, value) -> bool:
    forms = value if kind == "set" else [frozenset(value.items())]
    # small integers only: no float rounding anywhere could make two different ones "equal"
    return all(c.denominator == 1 and radicand == 1 and abs(c.numerator) < 10**12
               for form in forms for (_, radicand), c in form)


def fast_equal(gold: str, pred: str) -> bool | None:
    """True or False when the subset settles it exactly; None to ask math-verify."""
    g, p = canonical(gold), canonical(pred)
    if g is None or p is None or g[0] != p[0]:
        return None
    if g[1] == p[1]:
        return True
    if _integral(*g) and _integral(*p):
        return False
    return None
