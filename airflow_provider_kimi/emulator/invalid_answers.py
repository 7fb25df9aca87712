"""Invalid JSON-Mode answers on purpose (``invalid_json_rate``), so re-asking can be tested offline.

Which custom_ids get one is a hash of the server's seed and the custom_id, so the same seed picks
the same ones whatever the batch, the order of its lines or the pace of the run; only a
custom_id's first answer is ever spoiled. Three kinds, chosen by hash among those the schema
allows: text that is not JSON, an object missing a required field, and an object with a value
out of range (an enum, bound, length or item count broken; a wrong type where the schema sets
no range).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from airflow_provider_kimi.emulator.schema_values import bounds, kind_of, properties_of, resolve

NOT_JSON = "not_json"
MISSING_FIELD = "missing_field"
OUT_OF_RANGE = "out_of_range"
INVALID_KINDS = (NOT_JSON, MISSING_FIELD, OUT_OF_RANGE)
_ROLL_DIGITS = 13


def spoils_first_answer(seed: int | None, custom_id: str, rate: float) -> bool:
    """Whether the first answer to ``custom_id`` is invalid, with probability ``rate`` (seeded)."""
    if rate <= 0:
        return False
    digest = hashlib.sha256(f"{seed or 0}:{custom_id}".encode()).hexdigest()
    roll: float = int(digest[:_ROLL_DIGITS], 16) / 16**_ROLL_DIGITS
    return roll < rate


def _out_of_range(schema: Any) -> tuple[bool, Any]:
    """A value this property schema refuses, if the server can think of one."""
    if not isinstance(schema, dict) or "anyOf" in schema or "oneOf" in schema:
        return False, None
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        unlisted = "unlisted"
        while unlisted in schema["enum"]:
            unlisted += "_value"
        return True, unlisted
    if "const" in schema:
        return True, f"not {schema['const']}"
    kind = kind_of(schema)
    if kind in ("integer", "number"):
        low, low_open, high, high_open = bounds(schema)
        if high is not None:
            return True, high if high_open else high + 1
        if low is not None:
            return True, low if low_open else low - 1
        return True, "a number out of range"
    if kind == "string":
        longest, shortest = schema.get("maxLength"), schema.get("minLength")
        if isinstance(longest, int) and not isinstance(longest, bool):
            return True, "x" * (longest + 1)
        if isinstance(shortest, int) and not isinstance(shortest, bool) and shortest > 0:
            return True, "x" * (shortest - 1)
        return True, 12345
    if kind == "array":
        most = schema.get("maxItems")
        if isinstance(most, int) and not isinstance(most, bool):
            return True, [None] * (most + 1)
        return True, "not a list"
    if kind == "boolean":
        return True, "maybe"
    if kind == "object":
        return True, "not an object"
    return False, None


def spoil(value: Any, schema: dict[str, Any] | None, seed: str) -> str:
    """The content of an invalid answer in place of ``value`` (the valid one), kind chosen by ``seed``."""
    text = json.dumps(value, ensure_ascii=False)
    options: list[tuple[str, Any]] = [(NOT_JSON, None)]
    root = resolve(schema, schema) if schema is not None else None
    if isinstance(value, dict) and isinstance(root, dict):
        required = [name for name in root.get("required") or [] if name in value]
        if required:
            options.append((MISSING_FIELD, required))
        properties = properties_of(root)
        breakable = []
        for name in value:
            found, bad = _out_of_range(resolve(properties.get(name), schema))
            if found:
                breakable.append((name, bad))
        if breakable:
            options.append((OUT_OF_RANGE, breakable))
    pick = int(seed[:12], 16)
    kind, detail = options[pick % len(options)]
    if kind == MISSING_FIELD:
        broken = dict(value)
        del broken[detail[pick // len(options) % len(detail)]]
        return json.dumps(broken, ensure_ascii=False)
    if kind == OUT_OF_RANGE:
        name, bad = detail[pick // len(options) % len(detail)]
        return json.dumps({**value, name: bad}, ensure_ascii=False)
    return f"Here is the JSON object you asked for:\n{text[: max(1, len(text) - 1)]}"
