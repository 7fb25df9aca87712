"""Read a batch's output and error files one line at a time, as one stream of results.

The guide's ``client.files.content(...).text`` holds a whole output file in memory and never
looks at the error file. Here every line of both files becomes a ``BatchResult`` with its
outcome, so each request is accounted for, and nothing larger than one line is held at once.

A line's outcome is read from the line itself (its ``response.status_code`` or its top-level
``error.code``), not from the file it came from, so the order and naming of the files given
does not matter and the results of several batches can be read in one pass.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from typing import IO, Any, Protocol, TypeAlias

import orjson

from airflow_provider_kimi.batch._paths import iterable_lines
from airflow_provider_kimi.batch.errors import KimiMissingDependencyError, KimiValueError


class SupportsOpenBinary(Protocol):
    """Anything with ``open("rb")``: ``pathlib.Path``, Airflow's ``ObjectStoragePath``, fsspec paths."""

    def open(self, mode: str, /) -> IO[Any]: ...


FileSource: TypeAlias = "str | os.PathLike[str] | SupportsOpenBinary"
"""A local path, or an object that opens itself for binary reading (remote storage included)."""

MAX_RESULT_LINE_BYTES = 16 * 1024 * 1024
"""Longest result line read (16 MiB, newline not counted). A Kimi answer is a few kilobytes, a
long one a few hundred; a longer line is a corrupt or hostile file, refused before it fills memory."""


class ResultsFileError(KimiValueError):
    """A file that cannot be read, or a line that is not a result line; names file and line."""

    def __init__(self, file: str, line: int | None, reason: str) -> None:
        self.file = file
        self.line = line
        self.reason = reason
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {reason}")


class ResultStatus(str, Enum):
    """What became of one request of a batch."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    """The request ran and the model endpoint answered with an HTTP error."""
    EXPIRED = "expired"
    """Never run: the batch's completion window closed first (``batch_expired``)."""
    CANCELLED = "cancelled"
    """Never run: the batch was cancelled first (``batch_cancelled``)."""
    TIMEOUT = "timeout"
    """Never answered: the request timed out inside the batch (``request_timeout``)."""


NOT_RUN_CODES: dict[str, ResultStatus] = {
    "batch_expired": ResultStatus.EXPIRED,
    "batch_cancelled": ResultStatus.CANCELLED,
    "request_timeout": ResultStatus.TIMEOUT,
}
"""Top-level ``error.code`` values of lines that carry no response, and the outcome each means."""


@dataclass(slots=True)
class BatchResult:
    """One line of an output or error file, flattened.

    Token counts are 0 where the line reports no usage. ``cached_tokens`` is part of
    ``prompt_tokens`` (``usage.prompt_tokens_details.cached_tokens``); the tokens a thinking
    model spent on ``reasoning_content`` are part of ``completion_tokens``. ``finish_reason``
    ``"length"`` means the answer was cut at ``max_tokens``; ``"tool_calls"`` means the model
    answered with ``tool_calls`` (the OpenAI shape: ``id``, ``type``, ``function.name``,
    ``function.arguments``) rather than text. ``source`` and ``line_number`` say where the line was read, so a
    duplicate or an odd answer can be found again. One is built per line of files that run to
    millions of lines, so it is not frozen: a frozen dataclass takes three times as long to build.
    """

    custom_id: str
    status: ResultStatus
    status_code: int | None = None
    answer: str | None = None
    finish_reason: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_tokens: int = 0
    error_type: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    request_id: str | None = None
    model: str | None = None
    """The model the answer names (``response.body.model``): what the line is priced by."""
    source: str = ""
    line_number: int = 0

    @property
    def succeeded(self) -> bool:
        """True when the request ran and was answered."""
        return self.status is ResultStatus.SUCCEEDED

    @property
    def error_summary(self) -> str | None:
        """A one-line description of what went wrong, used to group failures; None on success."""
        if self.succeeded:
            return None
        head = f"HTTP {self.status_code}" if self.status_code is not None else None
        kind = self.error_code or self.error_type
        label = " ".join(part for part in (head, kind) if part) or self.status.value
        message = _one_line(self.error_message or "")
        return f"{label}: {message}" if message else label


def source_name(source: FileSource) -> str:
    """How a file is named in messages: its path or URL."""
    if isinstance(source, str):
        return source
    if isinstance(source, os.PathLike):
        return os.fspath(source)
    return str(source)


@contextmanager
def open_binary(source: FileSource) -> Iterator[IO[bytes]]:
    """Open a local path or a storage object for binary reading; a failure names the file."""
    name = source_name(source)
    try:
        handle: IO[bytes] = (
            open(source, "rb")  # noqa: SIM115 (closed below, after the caller is done)
            if isinstance(source, str) or (isinstance(source, os.PathLike) and not hasattr(source, "open"))
            else iterable_lines(source.open("rb"))
        )
    except OSError as exc:
        raise ResultsFileError(name, None, f"cannot read: {exc}") from exc
    with handle:
        yield handle


def decode_line(raw: bytes, name: str, line_number: int) -> dict[str, Any] | None:
    """One line's JSON object; ``None`` for a blank line; ``ResultsFileError`` for anything else."""
    if not raw.strip():
        return None
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ResultsFileError(name, line_number, f"not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise ResultsFileError(name, line_number, f"expected a JSON object, got {type(value).__name__}")
    return value


def iter_json_lines(
    source: FileSource, max_line_bytes: int = MAX_RESULT_LINE_BYTES
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for each non-blank line of a JSON Lines file, streaming.

    Line numbers count from 1 and include blank lines, so they match an editor's. A line longer
    than ``max_line_bytes`` raises ``ResultsFileError``.
    """
    name = source_name(source)
    with open_binary(source) as handle:
        line_number = 0
        try:
            for raw in handle:
                line_number += 1
                if len(raw) > max_line_bytes and len(raw.rstrip(b"\r\n")) > max_line_bytes:
                    raise line_too_long(name, line_number, max_line_bytes)
                value = decode_line(raw, name, line_number)
                if value is not None:
                    yield line_number, value
        except OSError as exc:
            raise ResultsFileError(name, line_number + 1, f"cannot read: {exc}") from exc


class ChunkedResultsReader:
    """Reads a results file from the chunks of its download as they arrive: one pass, not two.

    Each complete line is parsed and handed to ``sink``; ``close()`` takes the last line when the
    file does not end with a newline. Line numbers match the file's, as ``iter_json_lines`` counts.
    """

    def __init__(
        self, name: str, sink: Callable[[BatchResult], None], max_line_bytes: int = MAX_RESULT_LINE_BYTES
    ) -> None:
        self.name = name
        self.sink = sink
        self.max_line_bytes = max_line_bytes
        # The start of an unfinished line, as the chunks that hold it: joined once, when it ends,
        # so a line spread over many chunks costs its length, not its length times the chunks.
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._line_number = 0

    def feed(self, chunk: bytes) -> None:
        """Parse every line that ``chunk`` completes."""
        end = chunk.find(b"\n")
        if end == -1:
            self._hold(chunk)
            return
        start = 0
        if self._pending:
            self._hold(chunk[:end])
            self._line(b"".join(self._pending))
            self._pending.clear()
            self._pending_bytes = 0
            start = end + 1
        lines = chunk[start:].split(b"\n")
        rest = lines.pop()
        for raw in lines:
            self._line(raw)
        if rest:
            self._hold(rest)

    def close(self) -> None:
        """Parse the last line, when the file ended without a newline."""
        if self._pending:
            raw = b"".join(self._pending)
            self._pending.clear()
            self._pending_bytes = 0
            self._line(raw)

    def _hold(self, piece: bytes) -> None:
        self._pending_bytes += len(piece)
        if self._pending_bytes > self.max_line_bytes:
            raise line_too_long(self.name, self._line_number + 1, self.max_line_bytes)
        self._pending.append(piece)

    def _line(self, raw: bytes) -> None:
        if len(raw) > self.max_line_bytes:
            raise line_too_long(self.name, self._line_number + 1, self.max_line_bytes)
        self._line_number += 1
        value = decode_line(raw, self.name, self._line_number)
        if value is not None:
            self.sink(parse_result_line(value, source=self.name, line_number=self._line_number))


def line_too_long(name: str, line_number: int, limit: int) -> ResultsFileError:
    """The error for a line over the length limit, raised before the line is held whole."""
    return ResultsFileError(
        name, line_number, f"line is longer than {limit} bytes; a result line is far shorter, is this a results file?"
    )


def iter_results(output: FileSource | None, error: FileSource | None = None) -> Iterator[BatchResult]:
    """Every result of a batch: the output file's lines, then the error file's.

    Either file may be ``None``: a batch where every request failed has no output file, and
    one where none failed may have no error file.
    """
    return iter_result_files((output, error))


def iter_result_files(files: Iterable[FileSource | None]) -> Iterator[BatchResult]:
    """Every result line of ``files`` in order, skipping ``None`` entries."""
    for source in files:
        if source is None:
            continue
        name = source_name(source)
        for line_number, line in iter_json_lines(source):
            yield parse_result_line(line, source=name, line_number=line_number)


def parse_result_line(line: dict[str, Any], source: str = "", line_number: int = 0) -> BatchResult:
    """Turn one decoded output or error line into a ``BatchResult``.

    Raises ``ResultsFileError`` when the line lacks what decides its outcome: a string
    ``custom_id``, and either a ``response`` with an integer ``status_code`` or an ``error``.
    Optional parts (answer, usage) are read leniently: absent means ``None`` or 0.
    """
    # Runs once per line of files with millions of lines: exact type checks, few calls.
    custom_id = line.get("custom_id")
    if type(custom_id) is not str or not custom_id:
        raise _bad(source, line_number, "missing or non-string custom_id")
    response = line.get("response")
    error = line.get("error")

    if response is None:
        if type(error) is not dict:
            raise _bad(source, line_number, f"{custom_id}: neither a response nor an error object")
        code = _opt_str(error.get("code"))
        return BatchResult(
            custom_id=custom_id,
            status=NOT_RUN_CODES.get(code or "", _FAILED),
            error_code=code,
            error_message=_opt_str(error.get("message")),
            source=source,
            line_number=line_number,
        )

    if type(response) is not dict:
        raise _bad(source, line_number, f"{custom_id}: response is not an object")
    status_code = response.get("status_code")
    if type(status_code) is not int:
        raise _bad(source, line_number, f"{custom_id}: response.status_code is not an integer")
    body = response.get("body")
    try:
        prompt, completion, total, cached = _usage(body)
    except ValueError as exc:
        raise _bad(source, line_number, f"{custom_id}: {exc}") from None

    answer = finish_reason = reasoning = error_type = error_code = message = None
    tool_calls = None
    if 200 <= status_code < 300:
        status = _SUCCEEDED
        answer, finish_reason, reasoning, tool_calls = _first_choice(body)
    else:
        status = _FAILED
        body_error = body.get("error") if type(body) is dict else None
        detail = body_error if type(body_error) is dict else error if type(error) is dict else {}
        error_type = _opt_str(detail.get("type"))
        error_code = _opt_str(detail.get("code"))
        message = _opt_str(detail.get("message"))
        if message is None and type(body) is str and body:
            message = body
    return BatchResult(
        custom_id=custom_id,
        status=status,
        status_code=status_code,
        answer=answer,
        finish_reason=finish_reason,
        reasoning_content=reasoning,
        tool_calls=tool_calls,
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=total,
        cached_tokens=cached,
        error_type=error_type,
        error_code=error_code,
        error_message=message,
        request_id=_opt_str(response.get("request_id")) or None,
        model=_opt_str(body.get("model")) if type(body) is dict else None,
        source=source,
        line_number=line_number,
    )


_SUCCEEDED = ResultStatus.SUCCEEDED
_FAILED = ResultStatus.FAILED


def _bad(source: str, line_number: int, reason: str) -> ResultsFileError:
    return ResultsFileError(source or "<line>", line_number or None, reason)


TABLE_HEADER = ("custom_id", "status", "tokens", "answer / error")


def table_rows(
    results: Iterable[BatchResult], limit: int | None = 20, answer_width: int = 60
) -> list[tuple[str, str, str, str]]:
    """One row per result (custom_id, status, tokens, answer or error), at most ``limit`` of them."""
    rows: list[tuple[str, str, str, str]] = []
    for index, result in enumerate(results):
        if limit is not None and index >= limit:
            break
        tokens = f"{result.prompt_tokens}+{result.completion_tokens}" if result.total_tokens else "-"
        text = result.answer if result.succeeded else result.error_summary
        rows.append(
            (
                _truncate(result.custom_id, 32),
                result.status.value,
                tokens,
                _truncate(_one_line(text or ""), answer_width),
            )
        )
    return rows


def format_table(results: Iterable[BatchResult], limit: int | None = 20, answer_width: int = 60) -> str:
    """A plain-text table of results for logs: custom_id, status, tokens, answer or error.

    Reads at most ``limit`` results from ``results`` (all when ``None``).
    """
    rows = table_rows(results, limit, answer_width)
    widths = [max(len(row[i]) for row in [TABLE_HEADER, *rows]) for i in range(3)]
    lines = [
        f"{row[0]:<{widths[0]}}  {row[1]:<{widths[1]}}  {row[2]:>{widths[2]}}  {row[3]}".rstrip()
        for row in [TABLE_HEADER, *rows]
    ]
    return "\n".join(lines)


_NO_CHOICE: tuple[None, None, None, None] = (None, None, None, None)


def _first_choice(body: Any) -> tuple[str | None, str | None, str | None, list[dict[str, Any]] | None]:
    """The first choice's answer text, finish reason, reasoning and tool calls.

    Content given as parts is joined; tool calls that are not objects are dropped.
    """
    choices = body.get("choices") if type(body) is dict else None
    if type(choices) is not list or not choices or type(choices[0]) is not dict:
        return _NO_CHOICE
    choice = choices[0]
    message = choice.get("message")
    if type(message) is not dict:
        return None, _opt_str(choice.get("finish_reason")), None, None
    content = message.get("content")
    if type(content) is list:
        content = "".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
        )
    calls = message.get("tool_calls")
    tool_calls = [call for call in calls if type(call) is dict] if type(calls) is list and calls else None
    return (
        content if type(content) is str else None,
        _opt_str(choice.get("finish_reason")),
        _opt_str(message.get("reasoning_content")),
        tool_calls,
    )


def _usage(body: Any) -> tuple[int, int, int, int]:
    """``(prompt, completion, total, cached)`` from ``body.usage``; 0 where not reported.

    Cached tokens are read from ``prompt_tokens_details.cached_tokens`` or ``cached_tokens``,
    whichever the server sends. A count of the wrong type raises ``ValueError``: it would
    silently skew the cost otherwise.
    """
    usage = body.get("usage") if type(body) is dict else None
    if type(usage) is not dict:
        return 0, 0, 0, 0
    details = usage.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if type(details) is dict else None
    if cached is None:
        cached = usage.get("cached_tokens", 0)
    prompt = usage.get("prompt_tokens")
    completion = usage.get("completion_tokens")
    total = usage.get("total_tokens")
    if not (
        type(prompt) is int
        and type(completion) is int
        and type(total) is int
        and type(cached) is int
        and min(prompt, completion, total, cached) >= 0
    ):
        prompt, completion, total, cached = (
            _count(value, name) for value, name in zip((prompt, completion, total, cached), _USAGE_FIELDS, strict=True)
        )
    return prompt, completion, total or prompt + completion, cached


_USAGE_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens", "cached_tokens")


def _count(value: Any, name: str) -> int:
    if value is None:
        return 0
    if type(value) is not int or value < 0:
        raise KimiValueError(f"usage {name} is not a non-negative integer: {value!r}")
    return value


def _opt_str(value: Any) -> str | None:
    return value if type(value) is str else None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[: max(width - 3, 0)] + "..."


PARQUET_JSON_COLUMNS = ("tool_calls",)
"""Columns a Parquet results table stores as JSON text (their shape is not fixed)."""


def read_results_table(path: FileSource) -> Iterator[dict[str, Any]]:
    """Yield the rows of a job's results table (JSON Lines, or Parquet when named ``.parquet``).

    Rows come one at a time, in input order, as the table holds them: ``custom_id``, ``status``,
    ``content``, ``reasoning_content``, ``finish_reason``, ``tool_calls``, ``usage``, ``error``,
    ``batch_id``, ``round``.
    """
    if source_name(path).endswith(".parquet"):
        yield from _parquet_rows(path)
        return
    for _, row in iter_json_lines(path):
        yield row


def _parquet_rows(path: FileSource) -> Iterator[dict[str, Any]]:
    try:
        import pyarrow.parquet as pq
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise KimiMissingDependencyError(
            'Reading Parquet needs pyarrow: pip install "airflow-provider-kimi[parquet]"'
        ) from err
    with open_binary(path) as handle:
        for batch in pq.ParquetFile(handle).iter_batches():
            for row in batch.to_pylist():
                for column in PARQUET_JSON_COLUMNS:
                    if row.get(column) is not None:
                        row[column] = orjson.loads(row[column])
                yield row
