"""The results table: one row per input request, written as JSON Lines or Parquet.

Columns: ``custom_id``, ``status`` (``succeeded``, ``failed``, ``expired``, ``cancelled``),
``content``, ``reasoning_content``, ``finish_reason``, ``tool_calls``, ``usage``
(``prompt_tokens``, ``completion_tokens``, ``cached_tokens``), ``error`` (``code``, ``message``,
``http_status``; null on success), ``batch_id`` and ``round``.
"""

from __future__ import annotations

from typing import IO, Any, Protocol

import orjson

from airflow_provider_kimi.batch._paths import PathArg, as_path, open_write
from airflow_provider_kimi.batch.errors import KimiMissingDependencyError, KimiValueError
from airflow_provider_kimi.batch.results import PARQUET_JSON_COLUMNS, BatchResult, ResultStatus

RESULTS_FORMATS = ("jsonl", "parquet")
NO_RESULT = "no_result"
"""The error code of a request that left no line in any result file of any round."""

_STATUS = {
    ResultStatus.SUCCEEDED: "succeeded",
    ResultStatus.FAILED: "failed",
    ResultStatus.EXPIRED: "expired",
    ResultStatus.CANCELLED: "cancelled",
    ResultStatus.TIMEOUT: "failed",
}


def result_row(custom_id: str, result: BatchResult | None, batch_id: str | None, round_number: int) -> dict[str, Any]:
    """The table row of one request; ``result`` is ``None`` when no round returned a line for it."""
    if result is None:
        return {
            "custom_id": custom_id,
            "status": "failed",
            "content": None,
            "reasoning_content": None,
            "finish_reason": None,
            "tool_calls": None,
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "cached_tokens": 0},
            "error": {"code": NO_RESULT, "message": "no line in the output or error file", "http_status": None},
            "batch_id": batch_id,
            "round": round_number,
        }
    succeeded = result.status is ResultStatus.SUCCEEDED
    error = (
        None
        if succeeded
        else {
            "code": result.error_code
            or result.error_type
            or (result.status.value if result.status_code is None else f"http_{result.status_code}"),
            "message": result.error_message,
            "http_status": result.status_code,
        }
    )
    return {
        "custom_id": custom_id,
        "status": _STATUS[result.status],
        "content": result.answer,
        "reasoning_content": result.reasoning_content,
        "finish_reason": result.finish_reason,
        "tool_calls": result.tool_calls,
        "usage": {
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
            "cached_tokens": result.cached_tokens,
        },
        "error": error,
        "batch_id": batch_id,
        "round": round_number,
    }


def answered_row(line: dict[str, Any], custom_id: str, batch_id: str, round_number: int) -> dict[str, Any] | None:
    """The row of a plain HTTP 200 answer, read straight from the decoded line; ``None`` otherwise.

    Merging a million results spends most of its time here, so the common shape skips building a
    ``BatchResult``; any line it does not recognise exactly is left to ``result_row`` (``None``).
    """
    try:
        response = line["response"]
        if response["status_code"] != 200:
            return None
        body = response["body"]
        choice = body["choices"][0]
        message = choice["message"]
        usage = body["usage"]
        prompt = usage["prompt_tokens"]
        completion = usage["completion_tokens"]
        details = usage.get("prompt_tokens_details")
        cached = details.get("cached_tokens", 0) if details else usage.get("cached_tokens", 0)
        content = message.get("content")
        reasoning = message.get("reasoning_content")
        finish = choice.get("finish_reason")
        calls = message.get("tool_calls")
    except (KeyError, IndexError, TypeError, AttributeError):
        return None
    if (
        type(content) not in _TEXT
        or type(reasoning) not in _TEXT
        or type(finish) not in _TEXT
        or not (type(prompt) is int is type(completion) is type(cached))
        or prompt < 0
        or completion < 0
        or cached < 0
        or (calls is not None and (type(calls) is not list or not all(type(call) is dict for call in calls)))
    ):
        return None
    return {
        "custom_id": custom_id,
        "status": "succeeded",
        "content": content,
        "reasoning_content": reasoning,
        "finish_reason": finish,
        "tool_calls": calls or None,
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "cached_tokens": cached},
        "error": None,
        "batch_id": batch_id,
        "round": round_number,
    }


_TEXT = frozenset({str, type(None)})


class TableWriter(Protocol):
    """Where rows go, one at a time."""

    def write(self, row: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


class JsonlTableWriter:
    """One JSON object per line."""

    def __init__(self, path: PathArg) -> None:
        self._handle: IO[bytes] = open_write(as_path(path))
        self._dumps = orjson.dumps
        self._option = orjson.OPT_APPEND_NEWLINE

    def write(self, row: dict[str, Any]) -> None:
        self._handle.write(self._dumps(row, option=self._option))

    def close(self) -> None:
        self._handle.close()


class ParquetTableWriter:
    """The same rows as Parquet, written in row groups so memory stays flat (needs ``pyarrow``)."""

    ROWS_PER_GROUP = 50_000

    def __init__(self, path: PathArg) -> None:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise KimiMissingDependencyError(
                'results_format="parquet" needs pyarrow: pip install "airflow-provider-kimi[parquet]"'
            ) from err
        usage = pa.struct([(name, pa.int64()) for name in ("prompt_tokens", "completion_tokens", "cached_tokens")])
        error = pa.struct([("code", pa.string()), ("message", pa.string()), ("http_status", pa.int64())])
        self._pa = pa
        self._schema = pa.schema(
            [
                ("custom_id", pa.string()),
                ("status", pa.string()),
                ("content", pa.string()),
                ("reasoning_content", pa.string()),
                ("finish_reason", pa.string()),
                ("tool_calls", pa.string()),  # JSON text: tool call arguments have no fixed shape
                ("usage", usage),
                ("error", error),
                ("batch_id", pa.string()),
                ("round", pa.int64()),
            ]
        )
        self._handle: IO[bytes] = open_write(as_path(path))
        self._writer = pq.ParquetWriter(self._handle, self._schema)
        self._rows: list[dict[str, Any]] = []

    def write(self, row: dict[str, Any]) -> None:
        for column in PARQUET_JSON_COLUMNS:
            if row[column] is not None:
                row = {**row, column: orjson.dumps(row[column]).decode()}
        self._rows.append(row)
        if len(self._rows) >= self.ROWS_PER_GROUP:
            self._flush()

    def _flush(self) -> None:
        if self._rows:
            self._writer.write_table(self._pa.Table.from_pylist(self._rows, schema=self._schema))
            self._rows = []

    def close(self) -> None:
        self._flush()
        self._writer.close()
        self._handle.close()


def table_writer(path: PathArg, results_format: str) -> TableWriter:
    """A writer for ``results_format`` (``jsonl`` or ``parquet``)."""
    if results_format == "jsonl":
        return JsonlTableWriter(path)
    if results_format == "parquet":
        return ParquetTableWriter(path)
    raise KimiValueError(f"results_format must be one of {RESULTS_FORMATS}, not {results_format!r}")


def count_rows(path: Any, results_format: str) -> int:
    """The rows a written table holds, read back from storage."""
    if results_format == "parquet":
        import pyarrow.parquet as pq

        with path.open("rb") as handle:
            return int(pq.ParquetFile(handle).metadata.num_rows)
    rows = 0
    last = b"\n"
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            rows += chunk.count(b"\n")
            last = chunk[-1:]
    return rows + (last != b"\n")
