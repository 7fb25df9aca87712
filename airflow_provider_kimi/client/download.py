"""A file's content streamed to storage a chunk at a time: memory stays flat whatever its size."""

from __future__ import annotations

from collections.abc import Callable

from openai import OpenAI

from airflow_provider_kimi.batch._paths import PathArg, as_path

DOWNLOAD_CHUNK_BYTES = 1 << 20

ChunkCounter = Callable[[bytes], None]
SizeHeard = Callable[[int | None], ChunkCounter | None]
"""Given the file's size (``None`` when the server does not say), what each chunk is fed to."""


def stream_file(
    client: OpenAI,
    file_id: str,
    destination: PathArg,
    on_chunk: ChunkCounter | None = None,
    on_size: SizeHeard | None = None,
) -> int:
    """Copy a file's content to a local path or ``ObjectStoragePath``; return the bytes written.

    ``on_chunk`` sees each chunk as it is written, so a caller can read the file in the same pass;
    ``on_size`` hears the size first (from ``Content-Length``) and may return one more chunk
    counter, such as a progress bar.
    """
    target = as_path(destination)
    written = 0
    with client.files.with_streaming_response.content(file_id) as response, target.open("wb") as out:
        counters = [counter for counter in (on_chunk,) if counter is not None]
        if on_size is not None:
            length = response.headers.get("content-length")
            bar = on_size(int(length) if length and length.isdigit() else None)
            if bar is not None:
                counters.append(bar)
        for chunk in response.iter_bytes(DOWNLOAD_CHUNK_BYTES):
            out.write(chunk)
            written += len(chunk)
            for counter in counters:
                counter(chunk)
    return written
