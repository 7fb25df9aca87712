"""JSON Mode answers like a model would: valid under the schema the system message carries."""

from __future__ import annotations

import enum
import json
from typing import Literal

import jsonschema
import pytest
from emulator_helpers import INSTRUCTION, JSON_MODE, Ticket, client_for, contents, request_line, schema_line
from pydantic import BaseModel, Field

from airflow_provider_kimi.emulator.schema_values import value_for


class Priority(enum.Enum):
    LOW = "low"
    HIGH = "high"


class Address(BaseModel):
    city: str = Field(min_length=2, max_length=12)
    zip_code: int = Field(ge=10000, le=99999)


class Node(BaseModel):
    name: str
    children: list[Node] = Field(default_factory=list)


class Everything(BaseModel):
    label: Literal["billing", "bug", "feature", "other"]
    kind: Literal["ticket"]
    priority: Priority
    urgency: int = Field(gt=0, lt=6)
    score: float = Field(gt=0.0, lt=1.0)
    ratio: float = Field(ge=-2.5, le=-2.5)
    steps: int = Field(multiple_of=5, ge=12, le=40)
    code: str = Field(min_length=30, max_length=40)
    short: str = Field(max_length=3)
    urgent: bool
    tags: list[str] = Field(min_length=2, max_length=3)
    levels: list[Literal["a", "b", "c"]] = Field(min_length=3, json_schema_extra={"uniqueItems": True})
    address: Address
    previous: Address | None = None
    note: str | None
    either: int | str
    counts: dict[str, int]
    tree: Node
    pair: tuple[int, str]


def test_a_pydantic_schema_gets_answers_that_validate(client):
    schema = Ticket.model_json_schema()
    texts = [f"Ticket {i}: my invoice was charged twice, please refund" for i in range(20)]
    answers = contents(client, [schema_line(f"t{i}", text, schema) for i, text in enumerate(texts)])
    tickets = [Ticket.model_validate_json(answer) for answer in answers.values()]
    assert len(tickets) == 20
    assert {ticket.urgency for ticket in tickets} <= {1, 2, 3, 4, 5}
    # Values are chosen per request, not one fixed answer for all.
    assert len({(t.label, t.urgency) for t in tickets}) > 1


def test_every_keyword_pydantic_emits_is_honoured(client):
    schema = Everything.model_json_schema()
    assert "$defs" in schema
    answers = contents(client, [schema_line(f"e{i}", f"request number {i}", schema) for i in range(10)])
    for answer in answers.values():
        value = json.loads(answer)
        jsonschema.Draft202012Validator(schema).validate(value)
        parsed = Everything.model_validate(value)
        assert parsed.tree.name
        assert len(set(parsed.levels)) == len(parsed.levels)


def test_enum_values_are_chosen_like_category_replies(client):
    schema = {
        "type": "object",
        "properties": {"topic": {"enum": ["sports", "food", "technology"]}},
        "required": ["topic"],
    }
    answers = contents(
        client,
        [
            schema_line("match", "Who won the football match and the league?", schema),
            schema_line("dish", "This pork dish is delicious, what recipe is it?", schema),
            schema_line("chip", "The new AI chip in the iphone runs software fast", schema),
        ],
    )
    topics = {key: json.loads(value)["topic"] for key, value in answers.items()}
    assert topics == {"match": "sports", "dish": "food", "chip": "technology"}


def test_the_same_request_gets_the_same_answer(client):
    schema = Everything.model_json_schema()
    lines = [schema_line("same", "the same question", schema)]
    assert contents(client, lines) == contents(client, lines)


def test_without_a_schema_json_mode_answers_a_small_object(client):
    plain = request_line("plain", "Classify: a recipe", response_format=JSON_MODE)
    wrong_fence = schema_line("fence", "hello", Ticket.model_json_schema())
    wrong_fence["body"]["messages"][0]["content"] = f"{INSTRUCTION}\n```\n{{}}\n```\n"
    answers = contents(client, [plain, wrong_fence])
    for answer in answers.values():
        value = json.loads(answer)
        assert set(value) == {"answer"}
        assert isinstance(value["answer"], str)


def test_the_instruction_outside_json_mode_gets_a_plain_answer(client):
    line = schema_line("text", "hello there", Ticket.model_json_schema())
    del line["body"]["response_format"]
    [answer] = contents(client, [line]).values()
    with pytest.raises(json.JSONDecodeError):
        json.loads(answer)


def test_the_schema_words_are_not_read_as_categories(client):
    schema = Everything.model_json_schema()
    line = schema_line("words", "hello there", schema)
    del line["body"]["response_format"]
    [answer] = contents(client, [line]).values()
    assert "category" not in answer


HAND_WRITTEN = [
    {"type": "object", "properties": {"n": {"type": "integer", "exclusiveMinimum": 3, "exclusiveMaximum": 5}}},
    {"type": "object", "properties": {"x": {"type": "number", "exclusiveMinimum": 0.5, "maximum": 0.5000001}}},
    {"type": "object", "properties": {"x": {"type": "number", "minimum": 7}}, "required": ["x"]},
    {"type": "object", "properties": {"x": {"type": "integer", "maximum": -40}}, "required": ["x"]},
    {"type": "object", "properties": {"s": {"type": ["string", "null"], "minLength": 500}}},
    {"type": "object", "properties": {"s": {"type": "string", "format": "date-time"}}},
    {"type": "object", "properties": {"u": {"type": "string", "format": "uuid"}}},
    {"type": "object", "properties": {"c": {"const": 42}, "e": {"enum": [1, 2.5, None]}}},
    {"type": "object", "properties": {"p": {"type": "integer"}}, "required": ["p"], "additionalProperties": False},
    {"type": "object", "additionalProperties": {"type": "boolean"}, "minProperties": 3},
    {"type": "object", "properties": {"a": {}, "b": {}, "c": {}}, "maxProperties": 1, "required": ["b"]},
    {"type": "object", "properties": {"l": {"type": "array", "items": {"type": "integer"}, "maxItems": 0}}},
    {"type": "object", "properties": {"l": {"type": "array", "prefixItems": [{"type": "null"}], "items": False}}},
    {"allOf": [{"properties": {"a": {"type": "integer"}}, "required": ["a"]}, {"required": ["b"]}]},
    {"$ref": "#/definitions/Root", "definitions": {"Root": {"type": "object", "required": ["r"]}}},
    {"type": "object", "properties": {"o": {"oneOf": [{"type": "null"}, {"type": "object", "required": ["k"]}]}}},
    {"type": "object", "properties": {"e": {"type": "array", "items": {"enum": ["x", "y"]}, "uniqueItems": True}}},
]
SEEDS = ("0" * 64, "f" * 64, "1234abcd" * 8)


@pytest.mark.parametrize("schema", HAND_WRITTEN, ids=range(len(HAND_WRITTEN)))
def test_hand_written_schemas_get_valid_values(schema):
    for seed in SEEDS:
        value = value_for(schema, seed, "some words", "An answer.")
        jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(value)


@pytest.mark.parametrize(
    "schema",
    [
        {"$defs": {"Loop": {"$ref": "#/$defs/Loop"}}, "type": "object", "properties": {"x": {"$ref": "#/$defs/Loop"}}},
        {"$defs": {"T": {"properties": {"next": {"$ref": "#/$defs/T"}}, "required": ["next"]}}, "$ref": "#/$defs/T"},
        {"type": "object", "properties": {"r": {"$ref": "#/nowhere"}, "l": {"type": "array", "minItems": 10**9}}},
    ],
)
def test_schemas_without_end_still_get_a_finite_value(schema):
    for seed in SEEDS:
        value = value_for(schema, seed, "some words", "An answer.")
        assert isinstance(value, dict)
        assert len(json.dumps(value)) < 1_000_000


def test_a_schema_nothing_satisfies_still_gets_an_answer(make_emulator):
    emu = make_emulator()
    impossible = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 5, "maximum": 1}}}
    [answer] = contents(client_for(emu), [schema_line("no", "hello", impossible)]).values()
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(json.loads(answer), impossible)
