"""JSON text that can always be written as UTF-8, whatever strings it holds.

Python strings may hold lone UTF-16 surrogates ("\\ud800"): `json.loads` makes them from a `\\ud800`
escape in any input file (predictions, benchmark data), and model output passes them through. With
`ensure_ascii=False` they reach the output as raw code points that UTF-8 cannot encode, so the write
fails and every row of it is lost. Here they are written as JSON escapes instead: the text stays valid
JSON, reads back to the very same string, and every other character stays as written.
"""

from __future__ import annotations

import json
import re
from typing import Any

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def escape_surrogates(json_text: str) -> str:
    """JSON text (as `json.dumps` made it) with each lone surrogate written as a `\\uXXXX` escape."""
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", json_text)


def dumps(value: Any, **options: Any) -> str:
    """`json.dumps(value, ensure_ascii=False, **options)` whose result UTF-8 can always encode."""
    return escape_surrogates(json.dumps(value, ensure_ascii=False, **options))
