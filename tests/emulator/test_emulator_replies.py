"""Replies shaped like Kimi's, read back from a finished batch's output file."""

from __future__ import annotations

import json
from typing import Any

from emulator_helpers import client_for, read_jsonl, request_line, start_batch, wait_until

CLASSIFY = {
    "type": "function",
    "function": {
        "name": "classify",
        "parameters": {
            "type": "object",
            "properties": {"label": {"type": "string", "enum": ["Sports", "Food"]}, "sure": {"type": "boolean"}},
            "required": ["label"],
        },
    },
}


def replies(client, lines: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    batch = wait_until(client, start_batch(client, lines))
    assert batch.status == "completed"
    return {line["custom_id"]: line["response"]["body"] for line in read_jsonl(client, batch.output_file_id)}


def test_thinking_is_on_by_default_and_off_when_disabled(client):
    bodies = replies(
        client,
        [
            request_line("default", "Who won the football match?"),
            request_line("off", "Who won the football match?", thinking={"type": "disabled"}),
        ],
    )
    thinking, plain = bodies["default"], bodies["off"]
    message = thinking["choices"][0]["message"]
    assert message["reasoning_content"]
    assert message["content"]
    assert "reasoning_content" not in plain["choices"][0]["message"]
    # Same answer, but the reasoning's tokens are billed as completion tokens.
    assert message["content"] == plain["choices"][0]["message"]["content"]
    assert thinking["usage"]["completion_tokens"] > plain["usage"]["completion_tokens"]
    for body in bodies.values():
        usage = body["usage"]
        assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_json_mode_answers_a_json_object(client):
    [body] = replies(
        client, [request_line("j", "Classify: a recipe", response_format={"type": "json_object"})]
    ).values()
    assert isinstance(json.loads(body["choices"][0]["message"]["content"]), dict)
    assert body["choices"][0]["finish_reason"] == "stop"


def test_small_max_tokens_truncates_with_finish_reason_length(client):
    off = {"type": "disabled"}
    bodies = replies(
        client,
        [
            request_line("cut", "Tell me a long story about the sea", max_tokens=3, thinking=off),
            request_line("cut-thinking", "Tell me a long story about the sea", max_tokens=3),
            request_line("room", "Tell me a long story about the sea", max_tokens=4000),
        ],
    )
    cut, full = bodies["cut"]["choices"][0], bodies["room"]["choices"][0]
    assert cut["finish_reason"] == "length"
    assert len(cut["message"]["content"]) < len(full["message"]["content"])
    assert full["message"]["content"].startswith(cut["message"]["content"])
    assert bodies["cut"]["usage"]["completion_tokens"] <= 3
    # With thinking on, the reasoning spends the cap first and the content is left empty.
    thinking = bodies["cut-thinking"]["choices"][0]
    assert (thinking["finish_reason"], thinking["message"]["content"]) == ("length", "")
    assert bodies["cut-thinking"]["usage"]["completion_tokens"] == 3
    assert full["finish_reason"] == "stop"


def test_tool_choice_naming_a_function_answers_tool_calls(client):
    choice = {"type": "function", "function": {"name": "classify"}}
    [body] = replies(
        client, [request_line("t", "The football team won", tools=[CLASSIFY], tool_choice=choice)]
    ).values()
    answer = body["choices"][0]
    assert answer["finish_reason"] == "tool_calls"
    [call] = answer["message"]["tool_calls"]
    assert call["type"] == "function"
    assert call["function"]["name"] == "classify"
    assert json.loads(call["function"]["arguments"]) == {"label": "Sports", "sure": True}


def test_repeated_prefix_in_a_batch_reports_cached_tokens(client):
    system = "You are a careful classifier. " * 20
    lines = [{**request_line(f"r{i}", f"text number {i}")} for i in range(3)]
    for line in lines:
        line["body"]["messages"][0]["content"] = system
    bodies = replies(client, lines)
    cached = sorted(body["usage"].get("prompt_tokens_details", {}).get("cached_tokens", 0) for body in bodies.values())
    # The first request to run pays for the system prompt; the others find it cached.
    assert cached[0] == 0
    assert cached[1] == cached[2] == len(system) // 4
    assert all(body["usage"]["prompt_tokens"] > len(system) // 4 for body in bodies.values())


def test_todays_batch_models_are_served_and_think_by_default(make_emulator):
    emu = make_emulator()
    line = request_line("code", "Who won the match?")
    line["body"]["model"] = "kimi-k2.7-code"
    [body] = replies(client_for(emu), [line]).values()
    assert body["model"] == "kimi-k2.7-code"
    assert body["choices"][0]["message"]["reasoning_content"]


def test_which_models_think_is_a_setting(make_emulator):
    emu = make_emulator(thinking_models=frozenset())
    [body] = replies(client_for(emu), [request_line("quiet", "Who won the match?")]).values()
    assert "reasoning_content" not in body["choices"][0]["message"]
