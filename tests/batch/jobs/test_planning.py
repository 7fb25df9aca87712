"""The job's bill counts every result line of every round, by its part's model."""

from __future__ import annotations

from airflow_provider_kimi.batch.jobs.planning import billed_tokens, part_spec


def download(prompt: int, cached: int, completion: int) -> dict:
    summary = {"prompt_tokens": prompt, "cached_tokens": cached, "completion_tokens": completion}
    return {"batch_id": "b", "status": "completed", "output_path": None, "error_path": None, "summary": summary}


def test_every_round_is_billed():
    first = [part_spec("/p1", 10, 100, "kimi-k2.5"), part_spec("/p2", 10, 100, "kimi-k2.6")]
    second = [part_spec("/r1", 2, 20, "kimi-k2.5")]
    billed = billed_tokens([(first, [download(100, 10, 50), download(7, 0, 3)]), (second, [download(20, 0, 10)])])
    assert billed.to_dict() == {
        "kimi-k2.5": {"prompt_tokens": 120, "cached_tokens": 10, "completion_tokens": 60},
        "kimi-k2.6": {"prompt_tokens": 7, "cached_tokens": 0, "completion_tokens": 3},
    }
