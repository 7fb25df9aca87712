"""The example DAGs, run whole through ``dag.test()`` against a local Kimi server."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from dag_runs import EXAMPLE_DAGS, DagRunResult, run_dag

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def example_env(storage: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Where the examples keep their files, and a quick poll (the DAG files read both when parsed)."""
    monkeypatch.setenv("KIMI_EXAMPLE_STORAGE", f"file://{storage}")
    monkeypatch.setenv("KIMI_EXAMPLE_POLL_SECONDS", "0.1")
    monkeypatch.delenv("KIMI_EXAMPLE_IMAGES", raising=False)
    monkeypatch.delenv("KIMI_EXAMPLE_VIDEOS", raising=False)
    return storage


def run_example(dag_id: str, conf: dict[str, Any] | None = None) -> DagRunResult:
    result = run_dag(dag_id, conf, folder=EXAMPLE_DAGS)
    assert result.state == "success", result.task_states
    return result


def read_lines(url: str) -> list[dict[str, Any]]:
    path = url.removeprefix("file://")
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def assert_one_batch_ran(result: DagRunResult) -> dict[str, Any]:
    """upload -> create -> wait passed the file id and the batch id along; return the ended batch."""
    batch = result.xcom("wait")
    assert batch["id"] == result.xcom("create")
    assert batch["input_file_id"] == result.xcom("upload")
    assert batch["status"] == "completed"
    return batch


def test_classification_example(kimi, example_env):
    result = run_example("example_kimi_batch_classification")
    batch = assert_one_batch_ran(result)
    assert batch["request_counts"] == {"total": 5, "completed": 5, "failed": 0}
    assert result.xcom("read_results") == {"results": 5, "succeeded": 5}
    assert kimi.stats()["batches_created"] == 1


def test_images_example_sends_each_image_inline(kimi, example_env):
    result = run_example("example_kimi_batch_images")
    images = result.xcom("make_images")
    assert len(images) >= 3
    lines = read_lines(result.xcom("build_input"))
    assert [line["custom_id"] for line in lines] == [url.rsplit("/", 1)[1] for url in images]
    for line in lines:
        image_part, text_part = line["body"]["messages"][-1]["content"]
        header, data = image_part["image_url"]["url"].split(",", 1)
        assert header == "data:image/png;base64"
        assert base64.b64decode(data).startswith(b"\x89PNG\r\n\x1a\n")
        assert text_part["type"] == "text"
    batch = assert_one_batch_ran(result)
    assert batch["request_counts"]["completed"] == len(images)
    assert result.xcom("read_results") == {"results": len(images), "succeeded": len(images)}
    # The batch input only: inline images need no upload of their own.
    assert kimi.stats()["uploads"] == 1
