"""The job planning in ``batch/jobs``: what is sent again, the merged table, costs by model."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import orjson
import pytest

from airflow_provider_kimi.batch.jobs.lines import line_custom_id
from airflow_provider_kimi.batch.jobs.merge import BatchFiles, JobPart, merge_job
from airflow_provider_kimi.batch.jobs.outcomes import resubmission_reason
from airflow_provider_kimi.batch.jobs.rounds import RanPart, plan_resubmission
from airflow_provider_kimi.batch.jobs.table import JsonlTableWriter, answered_row, result_row
from airflow_provider_kimi.batch.pricing import TokensByModel, account_currency, batch_prices, estimate
from airflow_provider_kimi.batch.results import parse_result_line, read_results_table


def request(custom_id: str, max_tokens: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "kimi-k2.5", "messages": [{"role": "user", "content": custom_id}]}
    if max_tokens is not None:
        body["max_tokens"] = max_tokens
    return {"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body}


def answer(custom_id: str, text: str = "ok", **message: Any) -> dict[str, Any]:
    body = {
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text, **message}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }
    return {"id": custom_id, "custom_id": custom_id, "response": {"status_code": 200, "body": body}, "error": None}


def http_error(custom_id: str, status: int) -> dict[str, Any]:
    body = {"error": {"type": "server_error" if status >= 500 else "invalid_request_error", "message": "no"}}
    return {"id": custom_id, "custom_id": custom_id, "response": {"status_code": status, "body": body}, "error": None}


def not_run(custom_id: str, code: str) -> dict[str, Any]:
    return {"id": custom_id, "custom_id": custom_id, "response": None, "error": {"code": code, "message": "not run"}}


def write_lines(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    return path


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (answer("a"), None),
        (not_run("a", "batch_expired"), "expired"),
        (not_run("a", "request_timeout"), "request_timeout"),
        (not_run("a", "batch_cancelled"), None),
        (http_error("a", 500), "HTTP 500"),
        (http_error("a", 503), "HTTP 503"),
        (http_error("a", 429), "HTTP 429"),
        (http_error("a", 408), "HTTP 408"),
        (http_error("a", 400), None),
    ],
)
def test_only_outcomes_that_can_change_are_sent_again(line, reason):
    assert resubmission_reason(parse_result_line(line)) == reason


def test_a_content_filter_refusal_is_final():
    line = http_error("a", 400)
    line["response"]["body"]["error"]["type"] = "content_filter"
    assert resubmission_reason(parse_result_line(line)) is None


def test_plan_copies_the_requests_worth_sending_again_byte_for_byte(tmp_path):
    ids = [f"r{n}" for n in range(6)]
    source = write_lines(tmp_path / "in.jsonl", [request(i, max_tokens=100) for i in ids])
    results = write_lines(
        tmp_path / "out.jsonl",
        [answer("r0"), http_error("r1", 500), http_error("r2", 400), not_run("r3", "batch_expired"), answer("r5")],
    )  # r4 left no line at all
    target = tmp_path / "next.jsonl"
    plan = plan_resubmission(
        [RanPart(source, "kimi-k2.5", "b1", "expired", (results,))], lambda model: target.open("wb")
    )
    assert plan.requests == 3
    assert dict(plan.reasons) == {"HTTP 500": 1, "expired": 1, "missing from both files": 1}
    originals = source.read_bytes().splitlines(keepends=True)
    assert target.read_bytes() == originals[1] + originals[3] + originals[4]
    assert plan.worst_case.models["kimi-k2.5"].completion == 300
    assert plan.spent.models["kimi-k2.5"].prompt == 20


def test_a_cancelled_batch_stops_resubmission(tmp_path):
    source = write_lines(tmp_path / "in.jsonl", [request("a"), request("b")])
    results = write_lines(tmp_path / "out.jsonl", [answer("a"), not_run("b", "batch_cancelled")])
    plan = plan_resubmission([RanPart(source, "kimi-k2.5", "b1", "cancelled", (results,))], lambda m: 1 / 0)
    assert plan.requests == 0
    assert plan.stopped == "batch b1 was cancelled; its requests stay cancelled"


def test_merge_writes_one_row_per_request_in_input_order_whatever_the_result_order(tmp_path):
    ids = [f"r{n:03d}" for n in range(200)]
    parts, later_lines = [], []
    for number, chunk in enumerate((ids[:120], ids[120:])):
        source = write_lines(tmp_path / f"part{number}.jsonl", [request(i) for i in chunk])
        lines = [not_run(i, "batch_expired") if i.endswith("7") else answer(i, f"answer {i}") for i in chunk]
        lines = [line for line in lines if line["custom_id"] != "r150"]  # left no line at all
        random.Random(number).shuffle(lines)
        output = write_lines(tmp_path / f"out{number}.jsonl", lines)
        parts.append(JobPart(source, "kimi-k2.5", BatchFiles(1, f"b{number}", (output,))))
        later_lines += [answer(i, f"again {i}") for i in chunk if i.endswith("7")]
    random.Random(9).shuffle(later_lines)
    later = BatchFiles(2, "b2", (write_lines(tmp_path / "round2.jsonl", later_lines),))

    table = tmp_path / "results.jsonl"
    writer = JsonlTableWriter(table)
    stats = merge_job(parts, [later], writer)
    writer.close()

    rows = list(read_results_table(table))
    assert [row["custom_id"] for row in rows] == ids
    assert stats.rows == 200
    assert dict(stats.counts) == {"succeeded": 199, "failed": 1}
    assert rows[7] == {
        "custom_id": "r007",
        "status": "succeeded",
        "content": "again r007",
        "reasoning_content": None,
        "finish_reason": "stop",
        "tool_calls": None,
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "cached_tokens": 0},
        "error": None,
        "batch_id": "b2",
        "round": 2,
    }
    assert rows[150]["error"]["code"] == "no_result"
    assert rows[150]["batch_id"] == "b1"


@pytest.mark.parametrize(
    "line",
    [
        answer("a"),
        answer("a", reasoning_content="thinking", tool_calls=[{"id": "t", "type": "function"}]),
        answer("a", text=None),
        http_error("a", 500),
        not_run("a", "batch_expired"),
    ],
)
def test_the_fast_row_is_the_row_the_reader_gives(line):
    full = result_row("a", parse_result_line(line), "b", 1)
    fast = answered_row(line, "a", "b", 1)
    assert fast is None or fast == full
    if line["response"] and line["response"]["status_code"] == 200:
        assert fast == full


def test_line_custom_id_reads_the_top_level_key_only():
    assert line_custom_id(b'{"id":"x","custom_id":"abc","response":{}}') == b"abc"
    assert line_custom_id(b'{"body":{"custom_id":"inner"},"custom_id":"outer"}') == b"outer"
    assert line_custom_id(b'{"custom_id": "sp ace"}') == b"sp ace"
    with pytest.raises(ValueError, match="no string custom_id"):
        line_custom_id(b'{"id": 1}')


def test_costs_by_model_and_when_there_is_no_figure():
    tokens = TokensByModel()
    tokens.for_model("kimi-k2.5").add(1_000_000, 0, 1_000_000)
    tokens.for_model("kimi-k2.6").add(1_000_000, 0, 0)
    assert estimate(tokens, batch_prices()).usd == pytest.approx(0.36 + 1.80 + 0.57)
    overridden = estimate(tokens, batch_prices({"kimi-k2.6": batch_prices()["kimi-k2.5"]}))
    assert overridden.usd == pytest.approx(0.36 + 1.80 + 0.36)
    tokens.for_model("kimi-k3").add(10, 0, 10)
    unknown = estimate(tokens, batch_prices())
    assert unknown.usd is None
    assert "no price for model 'kimi-k3'" in (unknown.reason or "")
    cny = estimate(TokensByModel(), batch_prices(), account_currency("https://api.moonshot.cn/v1"))
    assert cny.usd is None
    assert "billed in CNY" in (cny.reason or "")
    assert account_currency("https://api.moonshot.ai/v1") == "USD"
