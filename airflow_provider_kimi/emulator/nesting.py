"""The server's bound on JSON nesting, judged on the raw bytes before anything parses them.

Python's ``json`` decoder recurses once per level and raises ``RecursionError`` (not
``ValueError``) around a thousand levels. The emulator measures the depth first, with a scan that
skips over strings and never recurses, and refuses a deeper body or line before decoding it.
"""

from __future__ import annotations

import re

# A JSON string (escapes included) or a bracket: brackets inside strings do not count.
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
_OPEN = frozenset(b"[{")


def exceeds_depth(raw: bytes, limit: int) -> bool:
    """True when ``raw`` nests objects and arrays more than ``limit`` levels deep."""
    if raw.count(b"{") + raw.count(b"[") <= limit:
        return False
    depth = 0
    for match in _TOKEN.finditer(raw):
        first = raw[match.start()]
        if first in _OPEN:
            depth += 1
            if depth > limit:
                return True
        elif first != 0x22:
            depth -= 1
    return False
