"""``replies``: the user's function answers every request of a batch, with how often it answered."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from emulator_helpers import client_for, read_jsonl, request_line, start_batch, wait_until

from airflow_provider_kimi.emulator import EmulatorSettings, KimiEmulator

SCRIPT = """
CALLS = []


def reply(body, custom_id, answered):
    CALLS.append((custom_id, answered, body["messages"][-1]["content"]))
    if custom_id == "flaky" and answered == 0:
        return {"status_code": 503, "content": "try again later"}
    if custom_id == "thinker":
        return {"content": "42", "reasoning_content": "six times seven", "finish_reason": "length"}
    if custom_id == "tool":
        call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        return {"tool_calls": [call]}
    if custom_id == "broken":
        raise RuntimeError("no reply for this one")
    if custom_id == "odd":
        return 42
    if custom_id == "extra":
        return {"content": "x", "mood": "happy"}
    return f"{custom_id} answered {answered} times before"
"""


@pytest.fixture
def script(tmp_path, monkeypatch, request) -> str:
    """A replies module on the import path; its ``module:function`` spec."""
    name = f"scripted_{request.node.name.replace('[', '_').replace(']', '_').replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(SCRIPT))
    monkeypatch.syspath_prepend(str(tmp_path))
    return f"{name}:reply"


def results(emu: KimiEmulator, custom_ids: list[str]) -> dict[str, dict[str, Any]]:
    client = client_for(emu)
    batch = wait_until(client, start_batch(client, [request_line(c, f"question {c}") for c in custom_ids]))
    lines = read_jsonl(client, batch.output_file_id) if batch.output_file_id else []
    lines += read_jsonl(client, batch.error_file_id) if batch.error_file_id else []
    return {line["custom_id"]: line["response"] for line in lines}


def message(response: dict[str, Any]) -> dict[str, Any]:
    return response["body"]["choices"][0]["message"]


def test_the_function_gets_body_custom_id_and_the_answers_before(make_emulator, script):
    emu = make_emulator(replies=script)
    first = results(emu, ["a", "b"])
    assert message(first["a"])["content"] == "a answered 0 times before"
    again = results(emu, ["a"])
    assert message(again["a"])["content"] == "a answered 1 times before"
    calls = sys.modules[script.partition(":")[0]].CALLS
    assert sorted(calls) == [("a", 0, "question a"), ("a", 1, "question a"), ("b", 0, "question b")]
    usage = first["a"]["body"]["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"] > 0


def test_a_status_code_puts_the_line_in_the_error_file_until_it_succeeds(make_emulator, script):
    emu = make_emulator(replies=script)
    client = client_for(emu)
    batch = wait_until(client, start_batch(client, [request_line("flaky", "hi")]))
    assert batch.output_file_id is None
    [line] = read_jsonl(client, batch.error_file_id)
    assert line["response"]["status_code"] == 503
    assert line["response"]["body"]["error"]["message"] == "try again later"
    assert line["response"]["body"]["error"]["type"] == "server_error"
    assert message(results(emu, ["flaky"])["flaky"])["content"] == "flaky answered 1 times before"


def test_message_fields_come_back_as_given(make_emulator, script):
    emu = make_emulator(replies=script)
    replies = results(emu, ["thinker", "tool"])
    thinker = replies["thinker"]["body"]["choices"][0]
    assert thinker["message"]["reasoning_content"] == "six times seven"
    assert (thinker["message"]["content"], thinker["finish_reason"]) == ("42", "length")
    tool = replies["tool"]["body"]["choices"][0]
    assert tool["finish_reason"] == "tool_calls"
    assert tool["message"]["tool_calls"][0]["function"]["name"] == "f"


def test_a_failing_function_gives_its_line_a_500_naming_it(make_emulator, script, caplog):
    emu = make_emulator(replies=script)
    with caplog.at_level(logging.ERROR, logger="airflow_provider_kimi.emulator.scripted"):
        replies = results(emu, ["broken", "odd", "extra", "fine"])
    for custom_id, problem in [("broken", "RuntimeError"), ("odd", "int"), ("extra", "mood")]:
        assert replies[custom_id]["status_code"] == 500
        error = replies[custom_id]["body"]["error"]["message"]
        assert script in error
        assert problem in error
    assert replies["fine"]["status_code"] == 200
    logged = " ".join(record.getMessage() for record in caplog.records)
    assert all(custom_id in logged for custom_id in ("broken", "odd", "extra"))


def test_a_function_object_works_too(make_emulator):
    def shout(body: dict[str, Any], custom_id: str, answered: int) -> str:
        return body["messages"][-1]["content"].upper()

    emu = make_emulator(replies=shout)
    assert message(results(emu, ["x"])["x"])["content"] == "QUESTION X"


def test_replies_that_cannot_be_loaded_are_refused_when_the_server_starts(tmp_path):
    with pytest.raises(ValueError, match="cannot import module 'no_such_module_here'"):
        KimiEmulator(EmulatorSettings(replies="no_such_module_here:reply"))
    with pytest.raises(ValueError, match="has no attribute 'nope'"):
        KimiEmulator(EmulatorSettings(replies="json:nope"))
    with pytest.raises(ValueError, match="MODULE:FUNCTION"):
        EmulatorSettings(replies="just-a-name")


def test_cli_takes_replies_from_a_module_beside_the_user(tmp_path):
    (tmp_path / "myreplies.py").write_text("def reply(body, custom_id, answered):\n    return 'scripted'\n")
    command = [sys.executable, "-m", "airflow_provider_kimi.cli.main", "emulator", "--port", "0", "--quiet"]
    bad = subprocess.run([*command, "--replies", "myreplies:missing"], cwd=tmp_path, capture_output=True, text=True)
    assert bad.returncode == 2
    # The module was found in the working folder; only its function is missing.
    assert "'myreplies' has no attribute 'missing'" in bad.stderr
