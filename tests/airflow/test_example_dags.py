"""The example DAGs, run whole through ``dag.test()`` against a local Kimi server."""

from __future__ import annotations

import base64
import json
import os
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
    assert batch["output_file_id"]
    assert kimi.stats()["batches_created"] == 1


def test_images_example_sends_each_image_inline(kimi, example_env):
    result = run_example("example_kimi_batch_images")
    images = result.xcom("make_images")
    assert len(images) >= 3
    lines = read_lines(result.xcom("build_input", "input"))
    assert [line["custom_id"] for line in lines] == [url.rsplit("/", 1)[1] for url in images]
    for line in lines:
        image_part, text_part = line["body"]["messages"][-1]["content"]
        header, data = image_part["image_url"]["url"].split(",", 1)
        assert header == "data:image/png;base64"
        assert base64.b64decode(data).startswith(b"\x89PNG\r\n\x1a\n")
        assert text_part["type"] == "text"
    batch = assert_one_batch_ran(result)
    assert batch["request_counts"]["completed"] == len(images)
    assert result.xcom("report") == {"results": len(images), "succeeded": len(images)}
    # The batch input only: inline images need no upload of their own.
    assert kimi.stats()["uploads"] == 1


def test_images_example_reads_the_images_of_a_given_folder(kimi, example_env, tmp_path):
    folder = tmp_path / "my_images"
    folder.mkdir()
    (folder / "sunset.png").write_bytes(b"\x89PNG\r\n\x1a\n placeholder")
    (folder / "portrait.JPG").write_bytes(b"\xff\xd8\xff placeholder \xff\xd9")
    (folder / "notes.txt").write_text("not an image")
    result = run_example("example_kimi_batch_images", {"images": f"file://{folder}"})
    lines = read_lines(result.xcom("build_input", "input"))
    urls = {line["custom_id"]: line["body"]["messages"][-1]["content"][0]["image_url"]["url"] for line in lines}
    assert {custom_id: url.split(",")[0] for custom_id, url in urls.items()} == {
        "portrait.JPG": "data:image/jpeg;base64",
        "sunset.png": "data:image/png;base64",
    }
    assert result.xcom("report") == {"results": 2, "succeeded": 2}


def test_videos_example_uploads_each_video_once_and_refers_to_it(kimi, example_env):
    result = run_example("example_kimi_batch_videos")
    videos = result.xcom("make_videos")
    video_ids = result.xcom("build_input", "video_file_ids")
    assert len(videos) == len(video_ids) >= 2
    lines = read_lines(result.xcom("build_input", "input"))
    references = [line["body"]["messages"][-1]["content"][0]["video_url"]["url"] for line in lines]
    # Every video is asked two questions, each pointing at the one upload of that video.
    assert sorted(references) == sorted(f"ms://{file_id}" for file_id in video_ids for _ in range(2))
    assert len({line["custom_id"] for line in lines}) == len(lines) == 2 * len(videos)
    # One upload per distinct video, plus the batch input.
    assert kimi.stats()["uploads"] == len(videos) + 1
    batch = assert_one_batch_ran(result)
    assert batch["request_counts"]["completed"] == len(lines)
    assert result.xcom("report") == {"results": len(lines), "succeeded": len(lines)}


def test_kimi_fails_a_batch_that_refers_to_an_unknown_video(make_kimi):
    from airflow_provider_kimi.batch.builders import request_line
    from airflow_provider_kimi.batch.media import reference_part
    from airflow_provider_kimi.hooks.kimi import KimiBatchHook

    make_kimi(report_validation_errors=True)
    hook = KimiBatchHook()
    known = hook.upload_file(b"\x00\x00\x00\x18ftypmp42 placeholder", purpose="video", filename="known.mp4").id
    question = {"type": "text", "text": "Summarize the main content of this video."}
    lines = [
        request_line("known", [{"role": "user", "content": [reference_part(known, "video"), question]}]),
        request_line(
            "unknown", [{"role": "user", "content": [reference_part("file-never-uploaded", "video"), question]}]
        ),
    ]
    data = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
    input_id = hook.upload_file(data, filename="requests.jsonl").id
    batch = hook.wait_for_batch(hook.create_batch(input_id).id, poll_interval=0.05, timeout=30)
    assert batch["status"] == "failed"
    assert batch["request_counts"]["completed"] == 0
    assert batch["errors"] == [
        "line 2, body.messages[0].content[0].video_url.url: "
        "ms://file-never-uploaded is not a file uploaded with purpose 'video'"
    ]


def test_large_dataset_example_runs_one_batch_per_part_and_accounts_for_every_row(make_kimi, example_env):
    kimi = make_kimi(time_scale=0.01)
    rows = 400
    result = run_example("example_kimi_batch_large_dataset", {"rows": rows, "max_part_bytes": 40_000})
    parts = result.xcom("split_input")
    assert len(parts) > 1
    assert all(os.path.getsize(url.removeprefix("file://")) <= 40_000 for url in parts)
    part_ids = [line["custom_id"] for url in parts for line in read_lines(url)]
    assert part_ids == [line["custom_id"] for line in read_lines(result.xcom("build_input"))]
    assert len(part_ids) == rows
    # One upload, one batch and one wait per part, each passing its ids to the next.
    file_ids = result.mapped[("upload", "return_value")]
    batch_ids = result.mapped[("create", "return_value")]
    batches = result.mapped[("wait", "return_value")]
    assert len(file_ids) == len(batch_ids) == len(batches) == len(parts)
    assert [batch["input_file_id"] for batch in batches] == file_ids
    assert [batch["id"] for batch in batches] == batch_ids
    assert kimi.stats()["batches_created"] == len(parts)
    # Each part's results were streamed into storage beside the input.
    manifests = result.mapped[("download", "return_value")]
    assert [m["batch_id"] for m in manifests] == batch_ids
    for manifest in manifests:
        assert manifest["output_path"].endswith(f"-results/{manifest['batch_id']}.output.jsonl")
        assert manifest["summary"]["succeeded"] == manifest["summary"]["total"] > 0
    summary = result.xcom("join")
    assert summary["batches"] == len(parts)
    assert summary["succeeded"] == summary["total"] == rows
    assert summary["missing"] == summary["unexpected"] == summary["duplicates"] == 0
    assert summary["total_tokens"] > 0
    assert summary["estimated_cost_usd"] > 0


def test_batch_job_example_classifies_5000_texts_in_several_parts(make_kimi, example_env):
    kimi = make_kimi(time_scale=0)
    result = run_example("example_kimi_batch_job")
    manifest = result.xcom("classify.cleanup")
    assert manifest["parts"] == 3  # 5,000 rows in parts of 2,000
    assert manifest["rows"] == 5000
    assert manifest["counts"]["succeeded"] == 5000
    categories = result.xcom("join_answers")
    assert sum(categories.values()) == 5000
    assert set(categories) <= {"Literature", "News", "Academic", "Technology", "Lifestyle"}
    assert len(manifest["deleted_files"]) == 6  # three inputs, three outputs
    assert kimi.stats()["batches_created"] == 3
