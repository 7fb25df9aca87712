"""Cut a batch input file of any size into numbered parts that each fit Kimi's limits.

Lines are copied as bytes, never re-serialised, so a part is byte-for-byte a slice of the input
and the parts concatenated give the input back. A line is never cut. ``custom_id`` must stay
unique across all parts (results are joined on it), so the splitter reads each line's id and
refuses a duplicate, naming both lines. It does not check the rest of a line: that is the
validator's job (``validate_file`` on each part, or on the input first).

A DAG globs or lists the parts, so a folder must never mix two splits: a non-empty folder is
refused unless ``overwrite`` is given, parts are written under temporary names and renamed only
once the whole split has succeeded, and a prefix can only name files inside the folder.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

from airflow_provider_kimi.batch._paths import PathArg, as_path, display_name, folder_entries, open_read, open_write
from airflow_provider_kimi.batch.errors import KimiValueError
from airflow_provider_kimi.batch.limits import MAX_FILE_BYTES, MAX_LINES

PART_SUFFIX = ".jsonl"
PARTIAL_SUFFIX = ".partial"
_ID_PREFIX = b'{"custom_id":'
_ID_OPENING = _ID_PREFIX + b'"'
_QUOTE = 0x22
_SPACE = 0x20


class SplitError(KimiValueError):
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
    overwrite: bool = False,
) -> list[SplitPart]:
    """Write ``path`` as numbered parts of at most ``max_bytes`` bytes and ``max_lines`` lines.

    ``output_dir`` is a local directory (created if missing) or an object-storage path that
    supports ``/``, ``.open("wb")``, ``.iterdir()``, ``.rename()`` and ``.unlink()``. Parts are
    named after ``prefix`` (default: the input's name without ``.jsonl``), a plain file name.
    A folder that holds anything is refused unless ``overwrite``, which removes the earlier parts
    of the same prefix (and nothing else) once the new ones are complete. On error nothing in the
    folder has changed and :class:`SplitError` says why.
    """
    if max_bytes < 1:
        raise KimiValueError(f"max_bytes must be at least 1, got {max_bytes}")
    if max_lines is not None and max_lines < 1:
        raise KimiValueError(f"max_lines must be at least 1, got {max_lines}")
    source = as_path(path)
    stem = prefix if prefix is not None else _stem(source.name)
    _check_prefix(stem)
    target = _as_directory(output_dir)
    earlier = _earlier_parts(target, stem, overwrite)
    written: list[Any] = []
    try:
        parts = _split(source, target, stem, max_bytes, max_lines, written)
    except BaseException:
        for part_path in written:
            _remove(part_path)
        raise
    for old_part in earlier:
        _remove(old_part)
    return [_publish(target, part) for part in parts]


def _check_prefix(stem: str) -> None:
    """A prefix is a file name: no folder, no way out of the output folder."""
    if not stem or stem in (".", "..") or any(sep in stem for sep in ("/", "\\", "\0")) or os.path.isabs(stem):
        raise KimiValueError(f"prefix must be a plain file name (no '/', '\\' or '..'), got {stem!r}")


def _earlier_parts(target: Any, stem: str, overwrite: bool) -> list[Any]:
    """The folder's earlier parts of ``stem``; refuses a folder holding anything without ``overwrite``."""
    try:
        entries = folder_entries(target)
    except (AttributeError, NotImplementedError):
        return []
    if entries and not overwrite:
        shown = ", ".join(sorted(str(entry.name) for entry in entries)[:3])
        more = f" and {len(entries) - 3} more" if len(entries) > 3 else ""
        raise SplitError(
            f"{target}: the output folder is not empty ({shown}{more}); a DAG reading it would mix "
            f"two splits. Use an empty folder, or overwrite (--overwrite) to replace the parts of {stem!r}"
        )
    own = re.compile(rf"^\.?{re.escape(stem)}\.part-\d{{4,}}{re.escape(PART_SUFFIX)}({re.escape(PARTIAL_SUFFIX)})?$")
    return [entry for entry in entries if own.match(str(entry.name))]


def _publish(target: Any, part: SplitPart) -> SplitPart:
    """Give a complete part its final name."""
    final = target / str(part.path.name)[1 : -len(PARTIAL_SUFFIX)]
    part.path.rename(final)
    return SplitPart(final, part.lines, part.bytes, part.first_custom_id, part.last_custom_id)


def _split(
    source: Any, target: Any, stem: str, max_bytes: int, max_lines: int | None, written: list[Any]
) -> list[SplitPart]:
    """Copy lines into parts. Per line only the ``custom_id`` is read; the loop keeps its
    counters in locals because this is the whole per-line cost of splitting."""
    file = display_name(source)
    line_limit = max_lines if max_lines is not None else -1
    first_line_of: Any = {}.setdefault
    id_start = len(_ID_OPENING)
    parts: list[SplitPart] = []
    out: IO[bytes] | None = None
    part_lines = part_bytes = 0
    first_id = last_id = b""
    try:
        with open_read(source) as handle:
            for number, line in enumerate(handle, start=1):
                size = len(line)
                if size > max_bytes:
                    raise SplitError(
                        f"{file}:{number}: $: line is {size} bytes, over the part limit of {max_bytes} bytes"
                    )
                close = line.find(b'"', id_start) if line.startswith(_ID_OPENING) else -1
                if close > id_start and line.find(b"\\", id_start, close) == -1:
                    custom_id = line[id_start:close]
                else:
                    custom_id = _custom_id(line, file, number)
                first = first_line_of(custom_id, number)
                if first != number:
                    shown = orjson.dumps(custom_id.decode("utf-8", "replace")).decode()
                    raise SplitError(f"{file}:{number}: custom_id: duplicate {shown}, first used on line {first}")
                if out is not None and (part_bytes + size > max_bytes or part_lines == line_limit):
                    out.close()
                    out = None
                    parts.append(_part(written[-1], part_lines, part_bytes, first_id, last_id))
                if out is None:
                    part_path = target / f".{part_name(stem, len(parts) + 1)}{PARTIAL_SUFFIX}"
                    written.append(part_path)
                    out = open_write(part_path)
                    part_lines = part_bytes = 0
                    first_id = custom_id
                out.write(line)
                part_lines += 1
                part_bytes += size
                last_id = custom_id
        if out is not None:
            out.close()
            out = None
            parts.append(_part(written[-1], part_lines, part_bytes, first_id, last_id))
    finally:
        if out is not None:
            out.close()
    if not parts:
        raise SplitError(f"{file}:0: file: file is empty; nothing to split")
    return parts


def _custom_id(line: bytes, file: str, number: int) -> bytes:
    """The line's ``custom_id`` as UTF-8 bytes when it does not open the line plainly.

    Lines written by this package (and most others) start with ``{"custom_id":"...``, which
    the splitting loop reads without parsing; this handles spaces, escapes, other key orders.
    """
    if line.startswith(_ID_PREFIX):
        begin = len(_ID_PREFIX)
        while begin < len(line) and line[begin] == _SPACE:
            begin += 1
        if begin < len(line) and line[begin] == _QUOTE:
            close = line.find(b'"', begin + 1)
            if close > begin + 1 and line.find(b"\\", begin + 1, close) == -1:
                return line[begin + 1 : close]
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
