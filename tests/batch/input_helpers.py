"""Small valid requests and files for the input-side tests."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson

PNG_DATA = "iVBORw0KGgo="


def request(custom_id: str = "r1", **body: Any) -> dict[str, Any]:
    line: dict[str, Any] = {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "kimi-k2.5", "messages": [{"role": "user", "content": "hello"}]},
    }
    line["body"].update(body)
    return copy.deepcopy(line)


def write_lines(path: Path, lines: list[Any]) -> Path:
    with path.open("wb") as handle:
        for line in lines:
            handle.write(line if isinstance(line, bytes) else orjson.dumps(line))
            handle.write(b"\n")
    return path
