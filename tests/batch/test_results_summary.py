"""The summary of a batch's results, and the cost arithmetic behind it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from airflow_provider_kimi.batch import summary as summary_module
from airflow_provider_kimi.batch.pricing import (
    BATCH_DISCOUNT,
    KIMI_K2_5_BATCH_PRICES,
    KIMI_K2_5_LIST_PRICES,
    Prices,
    estimate_cost,
)
from airflow_provider_kimi.batch.results import ResultsFileError, iter_results
from airflow_provider_kimi.batch.summary import (
    DISPLAY_LIMIT,
    OTHER_ERRORS,
    ErrorCount,
    SummaryBuilder,
    summarize,
)


def success(custom_id: str, prompt: int = 10, completion: int = 5, cached: int | None = None) -> dict:
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if cached is not None:
        usage["prompt_tokens_details"] = {"cached_tokens": cached}
    return {
        "id": f"batch_req_{custom_id}",
        "custom_id": custom_id,
        "response": {
            "status_code": 200,
            "request_id": "",
            "body": {
                "object": "chat.completion",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
                "usage": usage,
            },
        },
        "error": None,
    }


def http_error(custom_id: str, status: int, kind: str, message: str) -> dict:
    return {
        "id": f"batch_req_{custom_id}",
        "custom_id": custom_id,
        "response": {"status_code": status, "request_id": "", "body": {"error": {"type": kind, "message": message}}},
        "error": None,
    }


def not_run(custom_id: str, code: str, message: str) -> dict:
    return {
        "id": f"batch_req_{custom_id}",
        "custom_id": custom_id,
        "response": None,
        "error": {"code": code, "message": message},
    }


def input_line(custom_id: str) -> dict:
    return {
        "custom_id": custom_id,
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "kimi-k2.5", "messages": [{"role": "user", "content": f"text {custom_id}"}]},
    }


def write_jsonl(path: Path, lines: list[dict]) -> Path:
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    return path


def write_input(path: Path, ids: list[str]) -> Path:
    return write_jsonl(path, [input_line(i) for i in ids])


EXPIRED_MESSAGE = "This request could not be executed before the completion window expired."


# Pricing


def test_default_prices() -> None:
    assert Prices(input_cache_miss=0.60, input_cache_hit=0.10, output=3.00) == KIMI_K2_5_LIST_PRICES
    assert BATCH_DISCOUNT == 0.40
    assert Prices(input_cache_miss=0.36, input_cache_hit=0.06, output=1.80) == KIMI_K2_5_BATCH_PRICES


def test_estimate_cost_exact() -> None:
    # 2M prompt of which 1M cached, 0.5M completion: 1M x 0.36 + 1M x 0.06 + 0.5M x 1.80 per 1M.
    assert estimate_cost(2_000_000, 1_000_000, 500_000, KIMI_K2_5_BATCH_PRICES) == 1.32
    assert estimate_cost(2_000_000, 1_000_000, 500_000, KIMI_K2_5_LIST_PRICES) == 2.2
    assert estimate_cost(1, 0, 1, KIMI_K2_5_BATCH_PRICES) == 0.00000216
    assert estimate_cost(0, 0, 0, KIMI_K2_5_BATCH_PRICES) == 0.0


def test_cached_tokens_are_clamped_to_the_prompt() -> None:
    assert estimate_cost(100, 500, 0, Prices(1.0, 0.5, 0.0)) == 0.00005


def test_price_validation() -> None:
    with pytest.raises(ValueError, match="negative"):
        Prices(-1.0, 0.1, 1.0)
    with pytest.raises(ValueError, match="discount"):
        KIMI_K2_5_LIST_PRICES.discounted(1.5)
    with pytest.raises(ValueError, match="negative"):
        estimate_cost(-1, 0, 0, KIMI_K2_5_LIST_PRICES)
    assert Prices(1.0, 0.5, 2.0).discounted(0.25) == Prices(0.75, 0.375, 1.5)


# Summary


def test_mixed_batch(tmp_path: Path) -> None:
    output = write_jsonl(
        tmp_path / "output.jsonl",
        [
            success("a", prompt=1_000_000, completion=500_000),
            success("c", prompt=1_000_000, completion=0, cached=1_000_000),
        ],
    )
    error = write_jsonl(
        tmp_path / "error.jsonl",
        [
            http_error("b", 400, "invalid_request_error", "bad request"),
            http_error("d", 500, "server_error", "boom"),
            http_error("e", 400, "invalid_request_error", "bad request"),
        ],
    )
    inputs = write_input(tmp_path / "input.jsonl", ["a", "b", "c", "d", "e", "f"])
    summary = summarize(output, error, inputs)
    assert (summary.succeeded, summary.failed, summary.expired, summary.cancelled, summary.timeout) == (2, 3, 0, 0, 0)
    assert summary.missing == 1
    assert summary.missing_custom_ids == ("f",)
    assert summary.unexpected == 0
    assert (summary.results, summary.total, summary.unsuccessful) == (5, 6, 4)
    assert (summary.prompt_tokens, summary.cached_tokens, summary.completion_tokens, summary.total_tokens) == (
        2_000_000,
        1_000_000,
        500_000,
        2_500_000,
    )
    assert summary.estimated_cost_usd == 1.32
    assert summary.realtime_cost_usd == 2.2
    assert summary.saving_usd == 0.88
    assert summary.top_errors == (
        ErrorCount("HTTP 400 invalid_request_error: bad request", 2),
        ErrorCount("HTTP 500 server_error: boom", 1),
    )


def test_custom_prices(tmp_path: Path) -> None:
    output = write_jsonl(tmp_path / "o.jsonl", [success("a", prompt=2_000_000, completion=500_000, cached=1_000_000)])
    summary = summarize(output, prices=Prices(1.0, 0.5, 2.0), realtime_prices=Prices(2.0, 1.0, 4.0))
    assert summary.estimated_cost_usd == 2.5
    assert summary.realtime_cost_usd == 5.0
    assert summary.saving_usd == 2.5
    assert summary.to_dict()["prices_per_million_tokens"] == {
        "batch": {"input_cache_miss": 1.0, "input_cache_hit": 0.5, "output": 2.0},
        "realtime": {"input_cache_miss": 2.0, "input_cache_hit": 1.0, "output": 4.0},
    }


def test_all_failed_batch_without_output_file(tmp_path: Path) -> None:
    error = write_jsonl(
        tmp_path / "error.jsonl",
        [http_error(i, 429, "rate_limit_reached_error", "too many requests") for i in ("a", "b", "c")],
    )
    inputs = write_input(tmp_path / "input.jsonl", ["a", "b", "c"])
    summary = summarize(None, error, inputs)
    assert (summary.succeeded, summary.failed, summary.missing) == (0, 3, 0)
    assert summary.estimated_cost_usd == 0.0
    assert summary.top_errors == (ErrorCount("HTTP 429 rate_limit_reached_error: too many requests", 3),)


@pytest.mark.parametrize(("code", "field"), [("batch_expired", "expired"), ("batch_cancelled", "cancelled")])
def test_expired_or_cancelled_batch_keeps_partial_results(tmp_path: Path, code: str, field: str) -> None:
    output = write_jsonl(tmp_path / "output.jsonl", [success("b"), success("a")])
    error = write_jsonl(
        tmp_path / "error.jsonl", [not_run("d", code, EXPIRED_MESSAGE), not_run("c", code, EXPIRED_MESSAGE)]
    )
    inputs = write_input(tmp_path / "input.jsonl", ["a", "b", "c", "d"])
    summary = summarize(output, error, inputs)
    assert summary.succeeded == 2
    assert getattr(summary, field) == 2
    assert summary.failed == 0
    assert summary.missing == 0
    assert (summary.prompt_tokens, summary.completion_tokens) == (20, 10)
    assert summary.top_errors == (ErrorCount(f"{code}: {EXPIRED_MESSAGE}", 2),)


def test_request_timeout_lines(tmp_path: Path) -> None:
    error = write_jsonl(tmp_path / "error.jsonl", [not_run("a", "request_timeout", "timed out")])
    summary = summarize(None, error)
    assert summary.timeout == 1
    assert summary.unsuccessful == 1


def test_missing_are_counted_in_full_and_listed_in_input_order(tmp_path: Path) -> None:
    ids = [f"req-{n:03d}" for n in range(30)]
    output = write_jsonl(tmp_path / "output.jsonl", [success(i) for i in ids[:5]])
    summary = summarize(output, None, write_input(tmp_path / "input.jsonl", ids))
    assert summary.missing == 25
    assert summary.missing_custom_ids == tuple(ids[5 : 5 + DISPLAY_LIMIT])
    assert f"{', '.join(ids[5:25])} and 5 more" in summary.format()


def test_results_not_in_the_input_are_unexpected(tmp_path: Path) -> None:
    output = write_jsonl(tmp_path / "output.jsonl", [success("a"), success("zz")])
    summary = summarize(output, None, write_input(tmp_path / "input.jsonl", ["a", "b"]))
    assert (summary.missing, summary.unexpected) == (1, 1)


def test_without_input_missing_is_unknown(tmp_path: Path) -> None:
    summary = summarize(write_jsonl(tmp_path / "o.jsonl", [success("a")]))
    assert summary.missing is None
    assert summary.unexpected is None
    assert summary.to_dict()["missing"] is None
    assert "missing" not in summary.format()


def test_duplicates_are_reported_not_double_counted(tmp_path: Path) -> None:
    output = write_jsonl(tmp_path / "output.jsonl", [success("a"), success("b"), success("b")])
    error = write_jsonl(tmp_path / "error.jsonl", [http_error("a", 500, "server_error", "boom")])
    summary = summarize(output, error, write_input(tmp_path / "input.jsonl", ["a", "b"]))
    assert (summary.succeeded, summary.failed, summary.missing) == (2, 0, 0)
    assert summary.duplicates == 2
    assert summary.duplicate_custom_ids == ("b", "a")
    # Every line that ran was billed: the repeated success's tokens are in the sums.
    assert (summary.prompt_tokens, summary.completion_tokens) == (30, 15)
    assert summary.top_errors == ()
    assert "Duplicates: 2 lines repeat a custom_id already read: b, a" in summary.format()


def test_to_dict_keys_and_json(tmp_path: Path) -> None:
    output = write_jsonl(tmp_path / "o.jsonl", [success("a", prompt=100, completion=50)])
    data = summarize(output, None, write_input(tmp_path / "i.jsonl", ["a"])).to_dict()
    assert {
        "succeeded": 1,
        "failed": 0,
        "expired": 0,
        "cancelled": 0,
        "missing": 0,
        "prompt_tokens": 100,
        "completion_tokens": 50,
        "estimated_cost_usd": 0.000126,
    }.items() <= data.items()
    assert orjson.loads(orjson.dumps(data)) == data


def test_format(tmp_path: Path) -> None:
    output = write_jsonl(tmp_path / "o.jsonl", [success("a", prompt=2_000_000, completion=500_000, cached=1_000_000)])
    error = write_jsonl(tmp_path / "e.jsonl", [not_run("b", "batch_expired", "window closed")])
    text = summarize(output, error, write_input(tmp_path / "i.jsonl", ["a", "b", "c"])).format()
    assert text.splitlines() == [
        "3 requests: 1 succeeded, 0 failed, 1 expired, 1 missing",
        "Tokens: 2,000,000 prompt (1,000,000 cached), 500,000 completion, 2,500,000 total",
        "Estimated cost: $1.32 at batch prices, $2.20 in real time ($0.88 saved)",
        "Missing (in the input, no result): c",
        "Top errors:",
        "  1 x batch_expired: window closed",
    ]


def test_builder_in_one_pass(tmp_path: Path) -> None:
    output = write_jsonl(tmp_path / "o.jsonl", [success("a"), success("b")])
    written = []
    builder = SummaryBuilder()
    for result in iter_results(output):
        written.append(result.custom_id)
        builder.add(result)
    assert written == ["a", "b"]
    assert builder.build(["a", "b", "c"]).missing == 1


def test_distinct_error_messages_are_bounded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(summary_module, "MAX_ERROR_GROUPS", 3)
    lines = [http_error(f"r{n}", 400, "invalid_request_error", f"bad id {n}") for n in range(10)]
    summary = summarize(None, write_jsonl(tmp_path / "e.jsonl", lines))
    assert len(summary.top_errors) == 4
    assert summary.top_errors[0] == ErrorCount(OTHER_ERRORS, 7)
    assert sum(e.count for e in summary.top_errors) == 10


def test_malformed_input_line_names_the_input_file(tmp_path: Path) -> None:
    output = write_jsonl(tmp_path / "o.jsonl", [success("a")])
    inputs = tmp_path / "input.jsonl"
    inputs.write_bytes(orjson.dumps(input_line("a")) + b'\n{"method": "POST"}\n')
    with pytest.raises(ResultsFileError, match=r"input\.jsonl:2: input line has no string custom_id"):
        summarize(output, None, inputs)


def test_answers_cut_at_max_tokens_are_counted_and_named(tmp_path: Path) -> None:
    lines = [success("a"), success("b"), success("c")]
    for line in lines[:2]:
        line["response"]["body"]["choices"][0]["finish_reason"] = "length"
    path = tmp_path / "output.jsonl"
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    summary = summarize(path)
    assert (summary.succeeded, summary.truncated, summary.truncated_custom_ids) == (3, 2, ("a", "b"))
    assert summary.to_dict()["truncated"] == 2
    assert "Truncated: 2 answers stopped at max_tokens (finish_reason 'length')" in summary.format()
    assert summarize(None).truncation_warning() == ""
