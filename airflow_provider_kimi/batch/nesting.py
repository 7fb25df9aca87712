"""How deeply a decoded JSON value nests, measured without recursion.

A line nested thousands of levels deep is valid JSON to ``orjson`` (up to 1,024) but exhausts the
stack of recursive code downstream (Python's ``json``, ``copy``, a server's own checks). The
validator refuses such lines; this module measures them, cheaply enough to run on every line.
"""

from __future__ import annotations

from typing import Any

_OPENERS = (b"{", b"[")


def nesting_depth(value: Any) -> int:
    """Levels of objects and arrays in ``value``: a scalar is 0, ``{}`` is 1, ``[{}]`` is 2."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if type(item) is dict:
            children: Any = item.values()
        elif type(item) is list:
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children if type(child) is dict or type(child) is list)
    return deepest


def may_nest_deeper(raw: bytes, limit: int) -> bool:
    """False when ``raw`` holds too few brackets to nest deeper than ``limit``: a C-speed test
    that spares the walk on ordinary lines."""
    return sum(raw.count(opener) for opener in _OPENERS) > limit
