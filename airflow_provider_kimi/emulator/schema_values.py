"""A value valid under a JSON Schema, chosen from the request the way a model would answer it.

Covers what pydantic's ``model_json_schema()`` emits and what hand-written schemas commonly use:
``$ref`` into ``$defs``/``definitions`` (cycles included), ``allOf``, ``anyOf``/``oneOf`` (a non-null
branch preferred), ``enum``/``const``, ``type`` (or a list of types), integers and numbers with
``minimum``/``maximum``/``exclusiveMinimum``/``exclusiveMaximum``/``multipleOf``, strings with
``minLength``/``maxLength`` and common ``format``s, booleans, ``null``, arrays with ``items``/
``prefixItems``/``minItems``/``maxItems``/``uniqueItems``, objects with ``properties``/``required``/
``additionalProperties``/``minProperties``/``maxProperties``. ``pattern`` is not honoured.

Every choice is a hash of the request's seed and the value's place in the document, so the same
request always gets the same value; enum values are chosen like category replies (the option the
user's words point at, ties broken by hash). A schema nothing can satisfy still gets a value (it
just fails validation, as a model's answer would).
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from collections.abc import Callable
from typing import Any, TypeGuard, TypeVar
from urllib.parse import unquote

from airflow_provider_kimi.emulator.responder import choose_category

MAX_DEPTH = 8
"""Below this depth only what the schema requires is filled in (recursive models end)."""
HARD_DEPTH = 32
# A schema asking for more than a model would write is answered at these sizes (and fails).
MAX_ITEMS = 1000
MAX_STRING = 100_000
MAX_REF_HOPS = 32
UNIQUE_TRIES = 16
NUMERIC_KEYS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
STRING_KEYS = ("minLength", "maxLength", "pattern", "format")
ARRAY_KEYS = ("items", "prefixItems", "minItems", "maxItems", "uniqueItems")
OBJECT_KEYS = ("properties", "required", "additionalProperties", "minProperties", "maxProperties")

_FORMATS: dict[str, Callable[[str], str]] = {
    "date-time": lambda h: f"2026-{int(h[:2], 16) % 12 + 1:02d}-{int(h[2:4], 16) % 28 + 1:02d}T12:00:00Z",
    "date": lambda h: f"2026-{int(h[:2], 16) % 12 + 1:02d}-{int(h[2:4], 16) % 28 + 1:02d}",
    "time": lambda h: f"{int(h[:2], 16) % 24:02d}:{int(h[2:4], 16) % 60:02d}:00Z",
    "duration": lambda h: f"P{int(h[:2], 16) % 9 + 1}D",
    "email": lambda h: f"user.{h[:6]}@example.com",
    "uuid": lambda h: str(uuid.UUID(hex=h[:32])),
    "uri": lambda h: f"https://example.com/{h[:8]}",
    "hostname": lambda h: f"host-{h[:6]}.example.com",
    "ipv4": lambda h: f"192.0.2.{int(h[:2], 16) % 254 + 1}",
    "ipv6": lambda h: f"2001:db8::{h[:4]}",
}
_FORMATS["uri-reference"] = _FORMATS["iri"] = _FORMATS["url"] = _FORMATS["uri"]


def _number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _size(schema: dict[str, Any], key: str) -> int | None:
    value = schema.get(key)
    if _number(value) and value >= 0:
        return int(value)
    return None


def _pointer(root: Any, ref: Any) -> Any:
    """The part of the document a local ``$ref`` (``#/$defs/Name``) points at; ``{}`` if none."""
    if not isinstance(ref, str) or not ref.startswith("#"):
        return {}
    target = root
    for raw in filter(None, unquote(ref[1:]).split("/")):
        key = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(target, dict) and key in target:
            target = target[key]
        elif isinstance(target, list) and key.isdigit() and int(key) < len(target):
            target = target[int(key)]
        else:
            return {}
    return target


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Two schemas that both apply, as one (their properties and required lists joined)."""
    merged = {**base, **extra}
    if isinstance(base.get("properties"), dict) and isinstance(extra.get("properties"), dict):
        merged["properties"] = {**base["properties"], **extra["properties"]}
    if isinstance(base.get("required"), list) and isinstance(extra.get("required"), list):
        merged["required"] = list(dict.fromkeys([*base["required"], *extra["required"]]))
    return merged


def resolve(schema: Any, root: Any) -> Any:
    """The schema with its ``$ref`` chain and ``allOf`` folded in (siblings of ``$ref`` kept)."""
    for _ in range(MAX_REF_HOPS):
        if not (isinstance(schema, dict) and "$ref" in schema):
            break
        target = _pointer(root, schema["$ref"])
        siblings = {key: value for key, value in schema.items() if key != "$ref"}
        schema = _merge(target, siblings) if isinstance(target, dict) else siblings
    else:
        return {}
    if isinstance(schema, dict) and isinstance(schema.get("allOf"), list):
        merged = {key: value for key, value in schema.items() if key != "allOf"}
        for part in schema["allOf"]:
            part = resolve(part, root)
            if isinstance(part, dict):
                merged = _merge(merged, part)
        schema = merged
    return schema


def properties_of(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema's ``properties`` (empty when missing or not an object)."""
    properties = schema.get("properties")
    return properties if isinstance(properties, dict) else {}


def _is_null(schema: Any) -> bool:
    return isinstance(schema, dict) and (schema.get("type") == "null" or schema.get("const", 0) is None)


def kind_of(schema: dict[str, Any]) -> str:
    """The JSON type a value of this schema takes: its ``type`` (the first non-null of a list), or
    the type its keywords imply, or ``string``."""
    declared = schema.get("type")
    if isinstance(declared, list):
        concrete = [str(kind) for kind in declared if kind != "null"]
        declared = concrete[0] if concrete else "null"
    if isinstance(declared, str):
        return declared
    for kind, keys in (("object", OBJECT_KEYS), ("array", ARRAY_KEYS), ("number", NUMERIC_KEYS)):
        if any(key in schema for key in keys):
            return kind
    return "string"


def bounds(schema: dict[str, Any]) -> tuple[float | None, bool, float | None, bool]:
    """``(low, low is exclusive, high, high is exclusive)``; draft 4's boolean exclusives included."""
    low = schema.get("minimum") if _number(schema.get("minimum")) else None
    high = schema.get("maximum") if _number(schema.get("maximum")) else None
    low_open = high_open = False
    ex_low, ex_high = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if isinstance(ex_low, bool):
        low_open = ex_low and low is not None
    elif _number(ex_low) and (low is None or ex_low >= low):
        low, low_open = ex_low, True
    if isinstance(ex_high, bool):
        high_open = ex_high and high is not None
    elif _number(ex_high) and (high is None or ex_high <= high):
        high, high_open = ex_high, True
    return low, low_open, high, high_open


Number = TypeVar("Number", int, float)


def _filled(low: Number | None, high: Number | None, default: tuple[Number, Number]) -> tuple[Number, Number]:
    """Both ends of a range, a missing one 100 away from the other (from 0 where that fits)."""
    if high is None:
        return default if low is None else (low, low + 100)
    if low is None:
        return (high - high if high >= 0 else high - 100), high
    return low, high


class SchemaValues:
    """Builds values for one request: its seed, the user's words (for enums), its plain answer."""

    def __init__(self, root: Any, seed: str, words: str, answer: str) -> None:
        self.root = root
        self.seed = seed
        self.words = words
        self.answer = answer or "answer"

    def _hash(self, path: str) -> str:
        return hashlib.sha256(f"{self.seed}|{path}".encode()).hexdigest()

    def _pick(self, path: str, count: int) -> int:
        return int(self._hash(path)[:12], 16) % max(1, count)

    def value(self, schema: Any, path: str = "$", depth: int = 0) -> Any:
        """A value valid under ``schema`` (as far as the schema can be satisfied)."""
        schema = resolve(schema, self.root)
        if schema is False or depth > HARD_DEPTH:
            return None
        if not isinstance(schema, dict):
            return self.answer
        if "const" in schema:
            return schema["const"]
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return self._enum(schema["enum"], path)
        for key in ("anyOf", "oneOf"):
            if isinstance(schema.get(key), list) and schema[key]:
                return self._branch(schema, key, path, depth)
        kind = kind_of(schema)
        if kind == "boolean":
            return self._pick(path, 2) == 0
        if kind == "null":
            return None
        build: Callable[[dict[str, Any], str, int], Any] = {
            "object": self._object,
            "array": self._array,
            "integer": self._integer,
            "number": self._float,
        }.get(kind, self._string)
        return build(schema, path, depth)

    def _enum(self, options: list[Any], path: str) -> Any:
        names = [option if isinstance(option, str) else json.dumps(option) for option in options]
        chosen = choose_category(names, self.words, self._hash(path))
        return options[names.index(chosen)]

    def _branch(self, schema: dict[str, Any], key: str, path: str, depth: int) -> Any:
        siblings = {name: value for name, value in schema.items() if name not in ("anyOf", "oneOf")}
        branches = [resolve(branch, self.root) for branch in schema[key]]
        concrete = [branch for branch in branches if not _is_null(branch) and branch is not False]
        if not concrete or (depth >= MAX_DEPTH and len(concrete) < len(branches)):
            return None
        branch = concrete[self._pick(f"{path}#{key}", len(concrete))]
        merged = _merge(siblings, branch) if isinstance(branch, dict) else siblings
        return self.value(merged, path, depth)

    def _integer(self, schema: dict[str, Any], path: str, depth: int) -> int:
        low, low_open, high, high_open = bounds(schema)
        first = None if low is None else (math.floor(low) + 1 if low_open else math.ceil(low))
        last = None if high is None else (math.ceil(high) - 1 if high_open else math.floor(high))
        first, last = _filled(first, last, (1, 100))
        step = schema.get("multipleOf")
        step = int(step) if _number(step) and step >= 1 and float(step).is_integer() else 1
        lowest, highest = math.ceil(first / step), math.floor(last / step)
        if lowest > highest:
            return first
        return (lowest + self._pick(path, min(highest - lowest + 1, 10**9))) * step

    def _float(self, schema: dict[str, Any], path: str, depth: int) -> float:
        low, low_open, high, high_open = bounds(schema)
        low, high = _filled(low, high, (0.0, 100.0))
        step = schema.get("multipleOf")
        if _number(step) and step > 0:
            lowest, highest = math.ceil(low / step), math.floor(high / step)
            lowest += 1 if low_open and lowest * step <= low else 0
            highest -= 1 if high_open and highest * step >= high else 0
            if lowest <= highest:
                return float((lowest + self._pick(path, min(highest - lowest + 1, 10**9))) * step)
        if low >= high:
            return float(low)
        share = 0.1 + 0.8 * self._pick(path, 1001) / 1000
        exact = low * (1 - share) + high * share
        rounded = round(exact, 2)
        return rounded if low < rounded < high else exact

    def _string(self, schema: dict[str, Any], path: str, depth: int) -> str:
        fmt = schema.get("format")
        text = _FORMATS[fmt](self._hash(path)) if isinstance(fmt, str) and fmt in _FORMATS else self.answer
        shortest, longest = min(_size(schema, "minLength") or 0, MAX_STRING), _size(schema, "maxLength")
        if longest is not None and len(text) > longest:
            text = text[:longest]
        if len(text) < shortest:
            while len(text) < shortest:
                text = f"{text} {self.answer}"
            text = text[:shortest]
        return text

    def _array(self, schema: dict[str, Any], path: str, depth: int) -> list[Any]:
        prefix = schema.get("prefixItems")
        items = schema.get("items")
        if isinstance(items, list):  # draft 7's tuple form
            prefix, items = items, schema.get("additionalItems")
        prefix = prefix if isinstance(prefix, list) else []
        fewest, most = min(_size(schema, "minItems") or 0, MAX_ITEMS), _size(schema, "maxItems")
        count = max(fewest, len(prefix), 0 if depth >= MAX_DEPTH else 1)
        if items is False:
            count = min(count, len(prefix))
        if most is not None:
            count = min(count, most)
        unique = schema.get("uniqueItems") is True
        values: list[Any] = []
        for index in range(count):
            item = prefix[index] if index < len(prefix) else (items if items is not None else {})
            values.append(self._item(item, f"{path}[{index}]", depth, values if unique else None))
        return values

    def _item(self, schema: Any, path: str, depth: int, taken: list[Any] | None) -> Any:
        """One array item; with ``taken`` (``uniqueItems``), one not among the items so far."""
        value = self.value(schema, path, depth + 1)
        if taken is None or value not in taken:
            return value
        for attempt in range(1, UNIQUE_TRIES):
            value = self.value(schema, f"{path}~{attempt}", depth + 1)
            if value not in taken:
                return value
        resolved = resolve(schema, self.root)
        options = resolved.get("enum") if isinstance(resolved, dict) else None
        unused = [option for option in options or [] if option not in taken]
        return unused[0] if unused else value

    def _object(self, schema: dict[str, Any], path: str, depth: int) -> dict[str, Any]:
        properties = properties_of(schema)
        required = [name for name in schema.get("required") or [] if isinstance(name, str)]
        extra = schema.get("additionalProperties")
        shallow = depth >= MAX_DEPTH
        value: dict[str, Any] = {}
        for name, sub in properties.items():
            if not shallow or name in required:
                value[name] = self.value(sub, f"{path}.{name}", depth + 1)
        for name in required:
            if name not in value:
                value[name] = self.value(extra if isinstance(extra, dict) else {}, f"{path}.{name}", depth + 1)
        fewest = min(_size(schema, "minProperties") or 0, MAX_ITEMS)
        if isinstance(extra, dict) and not properties and not shallow:
            fewest = max(fewest, 1)
        index = 0
        while len(value) < fewest and extra is not False:
            index += 1
            name = f"key_{index}"
            if name not in value:
                value[name] = self.value(extra if isinstance(extra, dict) else {}, f"{path}.{name}", depth + 1)
        most = _size(schema, "maxProperties")
        if most is not None and len(value) > most:
            optional = [name for name in value if name not in required]
            for name in optional[: len(value) - most]:
                del value[name]
        return value


def value_for(schema: dict[str, Any], seed: str, words: str, answer: str) -> Any:
    """A value valid under ``schema`` for the request with this seed, user words and plain answer."""
    return SchemaValues(schema, seed, words, answer).value(schema)
