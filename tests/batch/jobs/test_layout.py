"""The job's folders are named in one place, the same for a templated URL and a path."""

from __future__ import annotations

from pathlib import Path

from airflow_provider_kimi.batch.jobs import layout


def test_a_url_and_a_path_get_the_same_layout(tmp_path: Path):
    url = "s3://bucket/{{ ds }}/job/"
    assert layout.results_folder(url, 2) == "s3://bucket/{{ ds }}/job/round-2/results"
    assert layout.inputs_folder(url, 1) == "s3://bucket/{{ ds }}/job/round-1/inputs"
    assert layout.results_folder(tmp_path, 2) == tmp_path / "round-2" / "results"
    assert layout.resubmit_file(tmp_path, 3, "kimi/k2.6") == tmp_path / "round-3" / "resubmit.kimi_k2.6.jsonl"
    assert layout.results_table(tmp_path, "parquet") == tmp_path / "results.parquet"
