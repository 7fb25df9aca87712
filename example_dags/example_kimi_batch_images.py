"""Classify images with Kimi's Batch API, each image inline in its request as a base64 data URL.

make_images -> build_input -> upload -> create -> wait (deferred to the triggerer) -> download -> report

Inline images need no extra upload and suit small pictures; base64 makes them a third larger, and
the whole input file must stay under Kimi's 100 MB limit (for big or reused images, upload them
and refer to them as ``ms://<file_id>``: see ``example_kimi_batch_videos``).

The images come from the folder in the ``images`` param (default ``KIMI_EXAMPLE_IMAGES``: any
``ObjectStoragePath`` URL holding .png, .jpg, .webp or .gif files). Left empty, the DAG draws a
few small sample PNGs into its run folder, so it runs anywhere. Files live under
``KIMI_EXAMPLE_STORAGE``; the connection is ``kimi_default``.
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import ObjectStoragePath, Param, dag, task

from airflow_provider_kimi.batch.builders import vision_requests
from airflow_provider_kimi.batch.limits import IMAGE_MIME_TYPES
from airflow_provider_kimi.batch.results import format_table, iter_results
from airflow_provider_kimi.batch.writer import write_requests
from airflow_provider_kimi.operators import (
    KimiCreateBatchOperator,
    KimiDownloadResultsOperator,
    KimiUploadFileOperator,
)
from airflow_provider_kimi.sensors.kimi import KimiBatchSensor

STORAGE = os.environ.get("KIMI_EXAMPLE_STORAGE", "file:///tmp/kimi_batch_examples")
IMAGES = os.environ.get("KIMI_EXAMPLE_IMAGES", "")
POLL_SECONDS = float(os.environ.get("KIMI_EXAMPLE_POLL_SECONDS", "30"))
MODEL = os.environ.get("KIMI_EXAMPLE_MODEL", "kimi-k2.5")

SYSTEM_PROMPT = "You are an image classification assistant."
PROMPT = "Classify this image: Landscape/Portrait/Food/Architecture/Other"

RGB = tuple[int, int, int]
# Sample pictures: a name and the colours of its top and bottom halves.
SAMPLE_IMAGES: dict[str, tuple[RGB, RGB]] = {
    "meadow.png": ((135, 206, 235), (34, 139, 34)),
    "beach.png": ((0, 191, 255), (238, 214, 175)),
    "tomato_soup.png": ((178, 34, 34), (205, 92, 92)),
    "brick_wall.png": ((156, 66, 33), (128, 128, 128)),
}


def run_folder(run_id: str) -> ObjectStoragePath:
    """One folder per DAG run, so reruns never mix their files."""
    folder = ObjectStoragePath(STORAGE) / "images" / re.sub(r"[^A-Za-z0-9_.-]", "_", run_id)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def png(width: int, height: int, top: RGB, bottom: RGB) -> bytes:
    """A valid RGB PNG: the top half one colour, the bottom half another."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    # Each row starts with filter type 0 (none), then one RGB triple per pixel.
    rows = [b"\x00" + bytes(top if y < height // 2 else bottom) * width for y in range(height)]
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


@dag(
    dag_id="example_kimi_batch_images",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["kimi", "example"],
    params={
        "images": Param(
            IMAGES,
            type="string",
            description="Folder URL of the images to classify; empty draws sample images.",
        ),
    },
)
def example_kimi_batch_images() -> None:
    @task
    def make_images(params: dict[str, Any] | None = None, run_id: str | None = None) -> list[str]:
        """The URLs of the images to classify: the ``images`` folder's, or freshly drawn samples."""
        source = params["images"] if params else IMAGES
        if source:
            files = ObjectStoragePath(source).iterdir()
            images = sorted(str(path) for path in files if path.suffix.lower() in IMAGE_MIME_TYPES)
            if not images:
                raise ValueError(f"No images ({', '.join(IMAGE_MIME_TYPES)}) in {source}")
            return images
        folder = run_folder(str(run_id)) / "samples"
        folder.mkdir(parents=True, exist_ok=True)
        for name, (top, bottom) in SAMPLE_IMAGES.items():
            (folder / name).write_bytes(png(64, 48, top, bottom))
        return [str(folder / name) for name in SAMPLE_IMAGES]

    @task(multiple_outputs=True)
    def build_input(images: list[str], run_id: str | None = None) -> dict[str, str]:
        """Write one request per image, the image inline; the file name is the ``custom_id``."""
        path = run_folder(str(run_id)) / "image_requests.jsonl"
        rows = [{"id": ObjectStoragePath(url).name, "image": ObjectStoragePath(url)} for url in images]
        requests = vision_requests(
            rows,
            media_column="image",
            prompt=PROMPT,
            system_prompt=SYSTEM_PROMPT,
            kind="image",
            custom_id_column="id",
            model=MODEL,
        )
        written = write_requests(requests, path)
        print(f"Wrote {written.lines} requests ({written.bytes} bytes) to {path}")
        return {"input": str(path), "results": str(path.parent / "results")}

    @task
    def report(manifest: dict[str, Any]) -> dict[str, int]:
        """Log each image with its answer."""
        paths = [ObjectStoragePath(manifest[key]) for key in ("output_path", "error_path") if manifest[key]]
        results = sorted(iter_results(*paths), key=lambda r: r.custom_id)
        print(format_table(results, limit=None))
        return {"results": len(results), "succeeded": sum(r.succeeded for r in results)}

    built = build_input(make_images())
    file_id = KimiUploadFileOperator(task_id="upload", file_path=built["input"]).output
    batch_id = KimiCreateBatchOperator(task_id="create", input_file_id=file_id, completion_window="24h").output
    wait = KimiBatchSensor(task_id="wait", batch_id=batch_id, deferrable=True, poke_interval=POLL_SECONDS)
    report(KimiDownloadResultsOperator(task_id="download", batch=wait.output, destination=built["results"]).output)


example_kimi_batch_images()
