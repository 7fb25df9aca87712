"""Finding the JSON Schema a request carries in its system message, by the instruction's text.

Kimi documents JSON Mode only, so a schema travels in the prompt. The server recognises the
provider's instruction by its words alone (it imports nothing of the client): a system message
holding ``SCHEMA_INSTRUCTION``, then a fenced block opened by a line "```json", the schema as
JSON, and a closing line "```".
"""

from __future__ import annotations

import json
import re
from typing import Any

SCHEMA_INSTRUCTION = "Reply with one JSON object and nothing else. It must be valid under this JSON Schema:"
"""The sentence that opens the provider's schema instruction; it mirrors the provider's own
instruction text word for word (a change on either side must be made on both)."""

_FENCED_SCHEMA = re.compile(r"\s*```json[ \t]*\r?\n(?P<schema>.*?)\r?\n```[ \t]*(?=\r?\n|$)", re.DOTALL)


def _instruction(text: str) -> re.Match[str] | None:
    """The fenced block right after the instruction in ``text``, if the text carries one."""
    at = text.find(SCHEMA_INSTRUCTION)
    if at < 0:
        return None
    return _FENCED_SCHEMA.match(text, at + len(SCHEMA_INSTRUCTION))


def schema_in(system_texts: list[str]) -> dict[str, Any] | None:
    """The JSON Schema of the first system text carrying the instruction (``None`` without one,
    or when its block is not a JSON object: a schema the server cannot read is no schema)."""
    for text in system_texts:
        match = _instruction(text)
        if match is None:
            continue
        try:
            schema = json.loads(match["schema"])
        except ValueError:
            return None
        return schema if isinstance(schema, dict) else None
    return None


def without_instruction(text: str) -> str:
    """The text with the instruction and its schema cut out (so the schema's own words, such as
    ``#/$defs/Ticket``, are not read as a list of categories)."""
    match = _instruction(text)
    if match is None:
        return text
    return text[: text.find(SCHEMA_INSTRUCTION)] + text[match.end() :]
