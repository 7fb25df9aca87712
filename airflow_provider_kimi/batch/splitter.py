"""Cut a batch input file of any size into numbered parts that each fit Kimi's limits.

Lines are copied as bytes, never re-serialised, so a part is byte-for-byte a slice of the input
and the parts concatenated give the input back. A line is never cut. ``custom_id`` must stay
unique across all parts (results are joined on it), so the splitter reads each line's id and
refuses a duplicate, naming both lines. It does not check the rest of a line: that is the
validator's job (``validate_file`` on each part, or on the input first).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from airflow_provider_kimi.batch._paths import PathArg, as_path, display_name, open_read, open_write
from airflow_provider_kimi.batch.limits import MAX_FILE_BYTES, MAX_LINES

PART_SUFFIX = ".jsonl"
_ID_PREFIX = b'{"custom_id":'
_QUOTE = 0x22
_SPACE = 0x20
_CHUNK_BYTES = 1 << 22


class SplitError(ValueError):
    """The input cannot be split into valid parts; the message names file and line."""


@dataclass(frozen=True, slots=True)
class SplitPart:
    """One written part: where it is, how much it holds, which ids open and close it."""

    path: Any
    lines: int
    bytes: int
    first_custom_id: str
    last_custom_id: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "lines": self.lines,
            "bytes": self.bytes,
            "first_custom_id": self.first_custom_id,
            "last_custom_id": self.last_custom_id,
        }


def part_name(stem: str, number: int) -> str:
    """``NAME.part-0001.jsonl``: sorts in order and keeps the ``.jsonl`` Kimi requires."""
    return f"{stem}.part-{number:04d}{PART_SUFFIX}"


def split_file(
    path: PathArg,
    output_dir: PathArg,
    *,
    max_bytes: int = MAX_FILE_BYTES,
    max_lines: int | None = MAX_LINES,
    prefix: str | None = None,
) -> list[SplitPart]:
    """Write ``path`` as numbered parts of at most ``max_bytes`` bytes and ``max_lines`` lines.

    ``output_dir`` is a local directory (created if missing) or an object-storage path that
    supports ``/`` and ``.open("wb")``. Parts are named after ``prefix`` (default: the input's
    name without ``.jsonl``). On error no part is left behind and :class:`SplitError` says why.
    """
    if max_bytes < 1:
        raise ValueError(f"max_bytes must be at least 1, got {max_bytes}")
    if max_lines is not None and max_lines < 1:
        raise ValueError(f"max_lines must be at least 1, got {max_lines}")
    source = as_path(path)
    target = _as_directory(output_dir)
    stem = prefix if prefix is not None else _stem(source.name)
    written: list[Any] = []
    try:
        return _split(source, target, stem, max_bytes, max_lines, written)
    except BaseException:
        for part_path in written:
            _remove(part_path)
        raise


def _split(
    source: Any, target: Any, stem: str, max_bytes: int, max_lines: int | None, written: list[Any]
) -> list[SplitPart]:
    with open_read(source) as handle:
        splitter = _Splitter(display_name(source), target, stem, max_bytes, max_lines, written)
        try:
            splitter.run(handle)
        finally:
            splitter.close_part()
    if not splitter.parts:
        raise SplitError(f"{splitter.file}:0: file: file is empty; nothing to split")
    return splitter.parts


class _Splitter:
    """Reads large chunks, finds line ends with ``find``, and writes runs of whole lines as
    slices of the chunk: per line, only its ``custom_id`` is looked at."""

    def __init__(
        self, file: str, target: Any, stem: str, max_bytes: int, max_lines: int | None, written: list[Any]
    ) -> None:
        self.file = file
        self.target = target
        self.stem = stem
        self.max_bytes = max_bytes
        self.line_limit = max_lines if max_lines is not None else -1
        self.written = written
        self.parts: list[SplitPart] = []
        self.seen: dict[bytes, int] = {}
        self.out: IO[bytes] | None = None
        self.part_lines = 0
        self.part_bytes = 0
        self.first_id = b""
        self.last_id = b""
        self.number = 0

    def run(self, handle: IO[bytes]) -> None:
        pending = b""
        while chunk := handle.read(_CHUNK_BYTES):
            data = pending + chunk if pending else chunk
            end = data.rfind(b"\n") + 1
            if end:
                self.take(data, end)
            pending = data[end:]
            if len(pending) > self.max_bytes:
                self.refuse_long_line(handle, len(pending))
        if pending:
            self.take(pending, len(pending))

    def take(self, data: bytes, end: int) -> None:
        """Route the whole lines in ``data[:end]`` to parts, writing each run in one call."""
        max_bytes = self.max_bytes
        seen = self.seen
        view = memoryview(data)
        run_start = position = 0
        while position < end:
            newline = data.find(b"\n", position, end)
            following = newline + 1 if newline != -1 else end
            size = following - position
            self.number += 1
            if size > max_bytes:
                raise SplitError(
                    f"{self.file}:{self.number}: $: line is {size} bytes, over the part limit of {max_bytes} bytes"
                )
            custom_id = _custom_id(data, position, following, self.file, self.number)
            first = seen.setdefault(custom_id, self.number)
            if first != self.number:
                shown = orjson.dumps(custom_id.decode("utf-8", "replace")).decode()
                raise SplitError(f"{self.file}:{self.number}: custom_id: duplicate {shown}, first used on line {first}")
            if self.out is not None and (self.part_bytes + size > max_bytes or self.part_lines == self.line_limit):
                self.out.write(view[run_start:position])
                self.close_part()
            if self.out is None:
                self.open_part(custom_id)
                run_start = position
            self.part_lines += 1
            self.part_bytes += size
            self.last_id = custom_id
            position = following
        if self.out is not None and run_start < end:
            self.out.write(view[run_start:end])

    def open_part(self, first_id: bytes) -> None:
        part_path = self.target / part_name(self.stem, len(self.parts) + 1)
        self.written.append(part_path)
        self.out = open_write(part_path)
        self.part_lines = self.part_bytes = 0
        self.first_id = first_id

    def close_part(self) -> None:
        if self.out is None:
            return
        self.out.close()
        self.out = None
        self.parts.append(_part(self.written[-1], self.part_lines, self.part_bytes, self.first_id, self.last_id))

    def refuse_long_line(self, handle: IO[bytes], size: int) -> None:
        """Measure the rest of a line already too long for any part, without keeping it."""
        while chunk := handle.read(_CHUNK_BYTES):
            newline = chunk.find(b"\n")
            if newline != -1:
                size += newline + 1
                break
            size += len(chunk)
        raise SplitError(
            f"{self.file}:{self.number + 1}: $: line is {size} bytes, over the part limit of {self.max_bytes} bytes"
        )


def _custom_id(data: bytes, start: int, stop: int, file: str, number: int) -> bytes:
    """The ``custom_id`` of the line ``data[start:stop]`` as UTF-8 bytes, read without parsing
    the line when possible.

    Lines written by this package (and most others) start with ``{"custom_id":"...``: the id is
    then the bytes up to the next quote, provided they hold no escape. Anything else is parsed.
    """
    if data.startswith(_ID_PREFIX, start, stop):
        begin = start + len(_ID_PREFIX)
        while begin < stop and data[begin] == _SPACE:
            begin += 1
        if begin < stop and data[begin] == _QUOTE:
            close = data.find(b'"', begin + 1, stop)
            if close > begin + 1 and data.find(b"\\", begin + 1, close) == -1:
                return data[begin + 1 : close]
    line = data[start:stop]
    try:
        request = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        what = "blank line" if not line.strip() else f"invalid JSON: {error}"
        raise SplitError(f"{file}:{number}: $: {what}") from None
    custom_id = request.get("custom_id") if isinstance(request, dict) else None
    if not isinstance(custom_id, str) or not custom_id:
        raise SplitError(f"{file}:{number}: custom_id: missing; every line needs a non-empty string custom_id")
    return custom_id.encode()


def _part(path: Any, lines: int, size: int, first_id: bytes, last_id: bytes) -> SplitPart:
    return SplitPart(path, lines, size, first_id.decode(), last_id.decode())


def _stem(name: str) -> str:
    return name[: -len(PART_SUFFIX)] if name.endswith(PART_SUFFIX) else name


def _as_directory(output_dir: PathArg) -> Any:
    if isinstance(output_dir, str | os.PathLike) and not hasattr(output_dir, "open"):
        output_dir = Path(os.fspath(output_dir))
    if isinstance(output_dir, Path):
        output_dir.mkdir(parents=True, exist_ok=True)
    return output_dir


def _remove(path: Any) -> None:
    with contextlib.suppress(OSError, AttributeError, NotImplementedError):
        path.unlink()
