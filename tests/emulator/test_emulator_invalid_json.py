"""``invalid_json_rate``: a seeded share of first JSON-Mode answers are invalid; re-asks are valid."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
from emulator_helpers import (
    JSON_MODE,
    Ticket,
    client_for,
    contents,
    read_jsonl,
    request_line,
    schema_line,
    start_batch,
    wait_until,
)

from airflow_provider_kimi.emulator import EmulatorSettings, KimiEmulator

SCHEMA = Ticket.model_json_schema()


def kind_of_invalid(answer: str) -> str | None:
    """How an answer fails the schema: not JSON, a required field missing, or a value refused."""
    try:
        value = json.loads(answer)
    except ValueError:
        return "not_json"
    errors = list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(value))
    if not errors:
        return None
    return "missing_field" if {e.validator for e in errors} == {"required"} else "out_of_range"


def ticket_lines(count: int, prefix: str = "t") -> list[dict[str, Any]]:
    return [schema_line(f"{prefix}{i}", f"Ticket {i}: the export button crashes", SCHEMA) for i in range(count)]


def test_every_first_answer_invalid_at_rate_one_then_valid_when_asked_again(make_emulator):
    emu = make_emulator(invalid_json_rate=1.0, seed=3)
    client = client_for(emu)
    first = contents(client, ticket_lines(60))
    kinds = {custom_id: kind_of_invalid(answer) for custom_id, answer in first.items()}
    assert None not in kinds.values()
    assert set(kinds.values()) == {"not_json", "missing_field", "out_of_range"}
    # Asked again (here: the same lines in a new batch), every custom_id gets a valid answer.
    second = contents(client, ticket_lines(60))
    assert all(kind_of_invalid(answer) is None for answer in second.values())
    assert len(second) == 60


def test_the_rate_is_a_seeded_share_of_custom_ids(make_emulator):
    def spoiled(seed: int) -> set[str]:
        answers = contents(client_for(make_emulator(invalid_json_rate=0.25, seed=seed)), ticket_lines(200))
        return {custom_id for custom_id, answer in answers.items() if kind_of_invalid(answer) is not None}

    seven = spoiled(7)
    assert 30 <= len(seven) <= 70
    assert spoiled(7) == seven
    assert spoiled(8) != seven


def test_only_json_mode_answers_are_spoiled(make_emulator):
    emu = make_emulator(invalid_json_rate=1.0)
    plain = [request_line(f"p{i}", "hello") for i in range(5)]
    batch = wait_until(client_for(emu), start_batch(client_for(emu), plain))
    lines = read_jsonl(client_for(emu), batch.output_file_id)
    assert all(line["response"]["body"]["choices"][0]["message"]["content"].startswith("Answer") for line in lines)


def test_without_a_schema_an_invalid_answer_is_not_json(make_emulator):
    emu = make_emulator(invalid_json_rate=1.0)
    lines = [request_line(f"j{i}", "hello", response_format=JSON_MODE) for i in range(5)]
    for answer in contents(client_for(emu), lines).values():
        assert kind_of_invalid(answer) == "not_json"


def test_the_answer_counts_survive_a_restart_with_a_state_dir(tmp_path):
    settings = EmulatorSettings(
        time_scale=0, access_log=False, log_level="warning", state_dir=tmp_path, invalid_json_rate=1.0
    )
    with KimiEmulator(settings) as emu:
        first = contents(client_for(emu), ticket_lines(6))
        assert all(kind_of_invalid(answer) for answer in first.values())
    assert json.loads((tmp_path / "state.json").read_text())["answer_counts"] == {f"t{i}": 1 for i in range(6)}
    with KimiEmulator(settings) as emu:
        again = contents(client_for(emu), ticket_lines(6))
        assert all(kind_of_invalid(answer) is None for answer in again.values())
        # A custom_id never answered before is still spoiled on its first request.
        assert all(kind_of_invalid(answer) for answer in contents(client_for(emu), ticket_lines(3, "new")).values())
