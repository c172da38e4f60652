"""Shared HTML rendering: one jinja2 environment with autoescaping, inline assets, and safe JSON embedding.

Every page the harness writes (report, compare, leaderboard) is a single self-contained file, and
model output inside it is untrusted: autoescaping is always on, data for scripts is embedded as JSON
with `<`, `>` and `&` escaped so it can never close its <script> element, and the scripts only ever
put text into the page through textContent.
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from harness.rundir import json_text

TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "reports"


def json_for_script(value: Any) -> Markup:
    """JSON that is safe inside <script type="application/json">: no sequence can end the element."""
    text = json_text(value, separators=(",", ":"), allow_nan=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return Markup(text)


def fmt(value: float | None, digits: int = 1) -> str:
    """A number to fixed digits; "–" for missing; anything else (an odd summary field) as written."""
    if value is None:
        return "–"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:.{digits}f}"
    return str(value)


# Whitespace drawn as a mark, so a token's leading space or line break can be seen (and told from none).
_WHITESPACE_MARKS = {" ": ("␣", "space"), "\n": ("↵", "line break"), "\t": ("⇥", "tab"),
                     "\r": ("␍", "carriage return")}


def mark_whitespace(text: str) -> list[tuple[str, str | None]]:
    """The text as (shown, what) pieces: `what` names a mark drawn for an invisible character, else None.

    A space, tab or line break becomes a visible sign; any other character that prints as nothing
    (a no-break space, a control character) becomes its code point, U+00A0.
    """
    pieces: list[tuple[str, str | None]] = []
    for char in text:
        if char in _WHITESPACE_MARKS:
            pieces.append(_WHITESPACE_MARKS[char])
        elif not char.isprintable():
            pieces.append((f"U+{ord(char):04X}",) * 2)
        else:
            pieces.append((char, None))
    return pieces


def visible_whitespace(text: str) -> Markup:
    """Escaped text with each mark of `mark_whitespace` in <span class="ws">: styled apart from the
    text, so a token that really contains "␣" still reads differently from one with a space."""
    return Markup("".join(str(escape(shown)) if what is None else f'<span class="ws" title="{what}">{shown}</span>'
                          for shown, what in mark_whitespace(text)))


def asset(name: str) -> Markup:
    """A CSS or JS file from reports/, inlined verbatim (ours, not data)."""
    return Markup((TEMPLATE_DIR / name).read_text(encoding="utf-8"))


def asset_sha256(name: str) -> str:
    """The CSP hash of an inline script, so the page runs exactly our script and nothing injected."""
    digest = hashlib.sha256((TEMPLATE_DIR / name).read_bytes()).digest()
    return base64.b64encode(digest).decode("ascii")


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    if not TEMPLATE_DIR.is_dir():
        raise FileNotFoundError(f"report templates not found: expected the directory {TEMPLATE_DIR}")
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        autoescape=True,  # every page, whatever its file name
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = fmt
    env.filters["json_script"] = json_for_script
    env.filters["visible_whitespace"] = visible_whitespace
    env.globals["asset"] = asset
    env.globals["asset_sha256"] = asset_sha256
    return env


def render(template: str, **context: Any) -> str:
    return environment().get_template(template).render(**context)
