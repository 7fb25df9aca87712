"""Ask Kimi's Batch API about videos uploaded once each and referred to as ``ms://<file_id>``.

make_videos -> build_input -> upload -> create -> wait (deferred to the triggerer) -> download -> report

Videos are too big to send inline, and one video is often asked several questions. So
``build_input`` uploads each distinct video once (purpose ``video``; the same content under two
names counts once) and writes one request per (video, question) pointing at the uploaded file.
The upload task checks the input against exactly those ids before it sends it (purpose ``batch``).

The videos come from the folder in the ``videos`` param (default ``KIMI_EXAMPLE_VIDEOS``: any
``ObjectStoragePath`` URL holding .mp4, .mov, .webm... files); real runs point it at real
videos. Left empty, the DAG writes a few small placeholder files named ``*.mp4``, enough for the
local Kimi server (``kimi-batch emulator``), which does not decode media; Kimi itself would
refuse them. Files live under ``KIMI_EXAMPLE_STORAGE``; the connection is ``kimi_default``.
"""

from __future__ import annotations

import os
import re
from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import ObjectStoragePath, Param, dag, task

from airflow_provider_kimi.batch.builders import vision_requests
from airflow_provider_kimi.batch.limits import VIDEO_MIME_TYPES
from airflow_provider_kimi.batch.media import MediaUploader
from airflow_provider_kimi.batch.results import format_table, iter_results
from airflow_provider_kimi.batch.writer import write_requests
from airflow_provider_kimi.hooks.kimi import KimiBatchHook
from airflow_provider_kimi.operators import (
    KimiCreateBatchOperator,
    KimiDownloadResultsOperator,
    KimiUploadFileOperator,
)
from airflow_provider_kimi.sensors.kimi import KimiBatchSensor

STORAGE = os.environ.get("KIMI_EXAMPLE_STORAGE", "file:///tmp/kimi_batch_examples")
VIDEOS = os.environ.get("KIMI_EXAMPLE_VIDEOS", "")
POLL_SECONDS = float(os.environ.get("KIMI_EXAMPLE_POLL_SECONDS", "30"))
MODEL = os.environ.get("KIMI_EXAMPLE_MODEL", "kimi-k2.5")

SYSTEM_PROMPT = "You are a video content analysis assistant."
QUESTIONS = {
    "summary": "Summarize the main content of this video.",
    "objects": "List the main objects that appear in this video.",
}
SAMPLE_VIDEOS = ("harbour.mp4", "kitchen.mp4", "traffic.mp4")
MP4_HEADER = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"


def run_folder(run_id: str) -> ObjectStoragePath:
    """One folder per DAG run, so reruns never mix their files."""
    folder = ObjectStoragePath(STORAGE) / "videos" / re.sub(r"[^A-Za-z0-9_.-]", "_", run_id)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dag(
    dag_id="example_kimi_batch_videos",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["kimi", "example"],
    params={
        "videos": Param(
            VIDEOS,
            type="string",
            description="Folder URL of the videos to ask about; empty writes placeholder files.",
        ),
    },
)
def example_kimi_batch_videos() -> None:
    @task
    def make_videos(params: dict[str, Any] | None = None, run_id: str | None = None) -> list[str]:
        """The URLs of the videos: the ``videos`` folder's, or placeholders for the local server."""
        source = params["videos"] if params else VIDEOS
        if source:
            files = ObjectStoragePath(source).iterdir()
            videos = sorted(str(path) for path in files if path.suffix.lower() in VIDEO_MIME_TYPES)
            if not videos:
                raise ValueError(f"No videos ({', '.join(VIDEO_MIME_TYPES)}) in {source}")
            return videos
        folder = run_folder(str(run_id)) / "samples"
        folder.mkdir(parents=True, exist_ok=True)
        for name in SAMPLE_VIDEOS:
            # An MP4 header (Kimi checks a video's format by its first bytes), then a placeholder.
            (folder / name).write_bytes(MP4_HEADER + f"placeholder video {name}\n".encode())
        return [str(folder / name) for name in SAMPLE_VIDEOS]

    @task(multiple_outputs=True)
    def build_input(videos: list[str], run_id: str | None = None) -> dict[str, Any]:
        """Upload each video once, write one request per (video, question), and check the file."""
        hook = KimiBatchHook()

        def upload(source: Any, filename: str, purpose: str) -> str:
            uploaded = hook.upload_file(source, purpose=purpose, filename=filename)
            print(f"Uploaded {filename} as {uploaded.id} ({purpose})")
            return uploaded.id

        uploader = MediaUploader(upload)
        rows = [
            {"id": f"{ObjectStoragePath(url).stem}-{topic}", "video": ObjectStoragePath(url), "question": question}
            for url in videos
            for topic, question in QUESTIONS.items()
        ]
        requests = vision_requests(
            rows,
            media_column="video",
            prompt_column="question",
            system_prompt=SYSTEM_PROMPT,
            kind="video",
            uploader=uploader,
            custom_id_column="id",
            model=MODEL,
        )
        path = run_folder(str(run_id)) / "video_requests.jsonl"
        written = write_requests(requests, path)
        print(f"Wrote {written.lines} requests ({written.bytes} bytes) to {path}")
        return {"input": str(path), "video_file_ids": sorted(uploader.file_ids), "results": str(path.parent)}

    @task
    def report(manifest: dict[str, Any]) -> dict[str, int]:
        """Log each question with its answer."""
        paths = [ObjectStoragePath(manifest[key]) for key in ("output_path", "error_path") if manifest[key]]
        results = sorted(iter_results(*paths), key=lambda r: r.custom_id)
        print(format_table(results, limit=None))
        return {"results": len(results), "succeeded": sum(r.succeeded for r in results)}

    built = build_input(make_videos())
    file_id = KimiUploadFileOperator(
        task_id="upload", file_path=built["input"], known_file_ids=built["video_file_ids"]
    ).output
    batch_id = KimiCreateBatchOperator(task_id="create", input_file_id=file_id, completion_window="24h").output
    wait = KimiBatchSensor(task_id="wait", batch_id=batch_id, deferrable=True, poke_interval=POLL_SECONDS)
    report(KimiDownloadResultsOperator(task_id="download", batch=wait.output, destination=built["results"]).output)


example_kimi_batch_videos()
