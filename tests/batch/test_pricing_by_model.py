"""Every path prices tokens by the model that spent them, from one pricing module."""

from __future__ import annotations

import json
from pathlib import Path

from airflow_provider_kimi.batch.pricing import BATCH_PRICES_BY_MODEL, LIST_PRICES_BY_MODEL, cost_decimal
from airflow_provider_kimi.batch.summary import summarize
from airflow_provider_kimi.cli.main import main


def answer(custom_id: str, model: str | None, prompt: int, completion: int) -> dict:
    body: dict = {
        "choices": [{"message": {"content": "ok"}}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion},
    }
    if model is not None:
        body["model"] = model
    return {
        "id": f"r-{custom_id}",
        "custom_id": custom_id,
        "response": {"status_code": 200, "body": body},
        "error": None,
    }


def write(path: Path, lines: list[dict]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_a_batch_is_priced_by_the_model_its_answers_name(tmp_path: Path):
    output = write(tmp_path / "o.jsonl", [answer("a", "kimi-k2.6", 1_000_000, 1_000_000)])
    summary = summarize(output)
    expected = cost_decimal(1_000_000, 0, 1_000_000, BATCH_PRICES_BY_MODEL["kimi-k2.6"])
    assert summary.estimated_cost_usd == float(expected)
    assert summary.realtime_cost_usd == float(cost_decimal(1_000_000, 0, 1_000_000, LIST_PRICES_BY_MODEL["kimi-k2.6"]))
    assert summary.models == ("kimi-k2.6",)
    assert summary.prices == BATCH_PRICES_BY_MODEL["kimi-k2.6"]


def test_a_model_without_a_known_price_gives_no_figure_and_says_why(tmp_path: Path):
    summary = summarize(write(tmp_path / "o.jsonl", [answer("a", "kimi-k9", 10, 10)]))
    assert summary.estimated_cost_usd is None
    assert "no price for model 'kimi-k9'" in (summary.cost_note or "")
    assert "Estimated cost: unknown (no price for model 'kimi-k9'" in summary.format()


def test_the_command_line_prices_by_model_unless_prices_are_given(tmp_path: Path, capsys):
    output = write(tmp_path / "o.jsonl", [answer("a", "kimi-k2.6", 1_000_000, 0)])
    assert main(["results", str(output), "--json"]) == 0
    by_model = json.loads(capsys.readouterr().out)
    assert by_model["estimated_cost_usd"] == BATCH_PRICES_BY_MODEL["kimi-k2.6"].input_cache_miss
    assert main(["results", str(output), "--json", "--list-prices", "1,0.5,2"]) == 0
    assert json.loads(capsys.readouterr().out)["estimated_cost_usd"] == 0.6
