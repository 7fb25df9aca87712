"""Write request lines to a JSONL file as they come, never holding them all.

The destination is a local path or anything with ``.open("wb")`` (Airflow's
``ObjectStoragePath``: ``s3://``, ``gs://``, ``file://``), or an already open binary file.
Each line is serialised with ``orjson`` and written at once, so memory does not grow with the
number of rows; only the ``custom_id``s are kept, to refuse a duplicate before Kimi does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import IO, Any

import orjson

from airflow_provider_kimi.batch._paths import PathArg, as_path, display_name, open_write
from airflow_provider_kimi.batch.errors import KimiValueError


class DuplicateCustomIdError(KimiValueError):
    """Two requests share a ``custom_id``; results could not be told apart."""


class InputTooLargeError(KimiValueError):
    """The requests do not fit in one input file of the allowed size."""


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What was written: where, how many request lines, how many bytes."""

    path: Any
    lines: int
    bytes: int


def write_requests(
    requests: Iterable[Mapping[str, Any]],
    destination: PathArg | IO[bytes],
    *,
    max_bytes: int | None = None,
) -> WriteResult:
    """Write ``requests`` one JSON line each and return the counts.

    With ``max_bytes``, raise :class:`InputTooLargeError` before writing the line that would
    pass it (write without a limit and use ``split_file`` to get parts that fit instead).
    """
    if isinstance(destination, IO) or hasattr(destination, "write"):
        handle: IO[bytes] = destination  # type: ignore[assignment]
        return _write(requests, handle, getattr(destination, "name", "<stream>"), max_bytes)
    target = as_path(destination)
    with open_write(target) as handle:
        result = _write(requests, handle, display_name(target), max_bytes)
    return WriteResult(target, result.lines, result.bytes)


def _write(requests: Iterable[Mapping[str, Any]], handle: IO[bytes], name: Any, max_bytes: int | None) -> WriteResult:
    dumps = orjson.dumps
    option = orjson.OPT_APPEND_NEWLINE
    write = handle.write
    limit = max_bytes if max_bytes is not None else -1
    seen: dict[str, int] = {}
    lines = size = 0
    for request in requests:
        line = dumps(request, option=option)
        lines += 1
        custom_id = request.get("custom_id")
        first = seen.setdefault(custom_id, lines) if isinstance(custom_id, str) else lines
        if first != lines:
            raise DuplicateCustomIdError(
                f"{name}:{lines}: custom_id: duplicate {custom_id!r}, first used on line {first}"
            )
        size += len(line)
        if limit >= 0 and size > limit:
            raise InputTooLargeError(
                f"{name}:{lines}: the input passes {max_bytes} bytes here; "
                "write it without max_bytes and split it with split_file"
            )
        write(line)
    return WriteResult(name, lines, size)
