"""The server's own rules: upload limits, batch-create parameters and the input file's lines.

Written for the server alone (not shared with the client-side validator), so a bug in one side
shows up as a disagreement instead of hiding in both.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from airflow_provider_kimi.emulator.errors import bad_request
from airflow_provider_kimi.emulator.message_checks import message_problems, thinking_problems
from airflow_provider_kimi.emulator.nesting import exceeds_depth
from airflow_provider_kimi.emulator.settings import EmulatorSettings

UPLOAD_PURPOSES = frozenset({"batch", "image", "video", "file-extract"})
BATCH_ENDPOINT = "/v1/chat/completions"
LINE_FIELDS = frozenset({"custom_id", "method", "url", "body"})
MIN_WINDOW_SECONDS = 12 * 3600
MAX_WINDOW_SECONDS = 7 * 86400
MAX_METADATA_PAIRS = 16
MAX_METADATA_KEY = 64
MAX_METADATA_VALUE = 512
_WINDOW = re.compile(r"^([1-9][0-9]*)([hd])$")
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


# -- uploads ----------------------------------------------------------------------------------
def check_upload_params(filename: str, purpose: str) -> None:
    """Refuse an upload by its name and purpose, before its bytes are stored."""
    if purpose not in UPLOAD_PURPOSES:
        raise bad_request(f"purpose must be one of {sorted(UPLOAD_PURPOSES)}, got {purpose!r}")
    if purpose == "batch" and not filename.endswith(".jsonl"):
        raise bad_request(f"a batch input file must be a .jsonl file, got {filename!r}")


def check_upload_size(size: int, purpose: str, settings: EmulatorSettings) -> None:
    """Refuse any file above the size limit."""
    if size > settings.max_file_bytes:
        raise bad_request(f"file is {size} bytes; the limit is {settings.max_file_bytes} bytes")


# -- batch create -----------------------------------------------------------------------------
def window_seconds(window: Any) -> int:
    """Seconds in a completion window such as ``24h`` or ``3d``; 400 outside 12h..7d."""
    match = _WINDOW.match(window) if isinstance(window, str) else None
    if match is None:
        raise bad_request(f"completion_window must look like '24h' or '3d', got {window!r}")
    seconds = int(match[1]) * (3600 if match[2] == "h" else 86400)
    if not MIN_WINDOW_SECONDS <= seconds <= MAX_WINDOW_SECONDS:
        raise bad_request(f"completion_window must be between 12h and 7d, got {window!r}")
    return seconds


def check_metadata(metadata: Any) -> dict[str, str] | None:
    """At most 16 string pairs, keys up to 64 chars, values up to 512."""
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise bad_request("metadata must be an object of string pairs")
    if len(metadata) > MAX_METADATA_PAIRS:
        raise bad_request(f"metadata holds {len(metadata)} pairs; at most {MAX_METADATA_PAIRS} allowed")
    for key, value in metadata.items():
        if len(key) > MAX_METADATA_KEY:
            raise bad_request(f"metadata key {key[:20]!r}... is longer than {MAX_METADATA_KEY} characters")
        if not isinstance(value, str):
            raise bad_request(f"metadata value of {key!r} must be a string")
        if len(value) > MAX_METADATA_VALUE:
            raise bad_request(f"metadata value of {key!r} is longer than {MAX_METADATA_VALUE} characters")
    return dict(metadata)


@dataclass(frozen=True)
class BatchRequest:
    """A batch-create body that passed its checks."""

    input_file_id: str
    endpoint: str
    completion_window: str
    window_seconds: int
    metadata: dict[str, str] | None


def check_batch_create(body: Any) -> BatchRequest:
    """Check a ``POST /v1/batches`` body (the input file itself is checked at ``validating``)."""
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    input_file_id = body.get("input_file_id")
    if not isinstance(input_file_id, str) or not input_file_id:
        raise bad_request("input_file_id is required")
    endpoint = body.get("endpoint")
    if endpoint != BATCH_ENDPOINT:
        raise bad_request(f"endpoint must be {BATCH_ENDPOINT!r}, got {endpoint!r}")
    window = body.get("completion_window")
    seconds = window_seconds(window)
    return BatchRequest(input_file_id, endpoint, str(window), seconds, check_metadata(body.get("metadata")))


# -- input lines ------------------------------------------------------------------------------
@dataclass(frozen=True)
class InputProblem:
    """One broken rule of the input file, in OpenAI's ``errors.data[]`` shape."""

    code: str
    message: str
    line: int | None = None
    param: str | None = None

    def to_api(self) -> dict[str, Any]:
        return {"code": self.code, "line": self.line, "param": self.param, "message": self.message}


@dataclass(frozen=True)
class InputReport:
    """What validating found: the number of requests, and the problems (none means valid)."""

    total: int
    problems: list[InputProblem]


def iter_input_lines(path: Path, start_offset: int = 0) -> Iterator[tuple[int, bytes]]:
    """Yield ``(offset after the line, line bytes)`` for each non-blank line, reading as it goes.

    Blank lines (a trailing newline, an empty last line) are skipped rather than refused.
    """
    with path.open("rb") as handle:
        handle.seek(start_offset)
        offset = start_offset
        for raw in handle:
            offset += len(raw)
            if raw.strip():
                yield offset, raw


def decode_json_line(raw: bytes) -> Any:
    """One line as strict JSON: UTF-8 without a byte-order mark, no ``NaN``/``Infinity``, no number
    too large for a double, no unpaired surrogate; ``ValueError`` otherwise.

    Python's ``json`` accepts each of these, but they are not JSON (RFC 8259) and Kimi's parser
    need not take them, so the emulator takes the strict reading.
    """
    value = json.loads(raw.decode("utf-8"), parse_constant=_not_json, parse_float=_finite)
    if _SURROGATE_ESCAPE.search(raw):
        json.dumps(value, ensure_ascii=False).encode("utf-8")  # UnicodeEncodeError on a lone surrogate
    return value


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    number = float(text)
    if number in (math.inf, -math.inf):
        raise ValueError(f"{text} is too large for a number")
    return number


def forbidden_params_in(body: dict[str, Any], settings: EmulatorSettings) -> list[str]:
    """The fixed-value parameters a line sets although the model does not allow changing them."""
    return sorted(name for name in body if name in settings.forbidden_params)


class _LineChecker:
    """Carries what one line's checks need to know about the lines before it."""

    def __init__(self, settings: EmulatorSettings, purpose_of: Callable[[str], str | None]) -> None:
        self.settings = settings
        self.purpose_of = purpose_of
        self.custom_ids: set[str] = set()
        self.model: str | None = None

    def check(self, line_no: int, raw: bytes) -> list[InputProblem]:
        limit = self.settings.max_json_depth
        if exceeds_depth(raw, limit):
            return [InputProblem("invalid_json_line", f"this line nests deeper than {limit} levels", line_no)]
        try:
            request = decode_json_line(raw)
        except (ValueError, RecursionError):
            return [InputProblem("invalid_json_line", "this line is not valid JSON", line_no)]
        if not isinstance(request, dict):
            return [InputProblem("invalid_json_line", "this line is not a JSON object", line_no)]
        problems = [
            InputProblem("missing_required_parameter", f"{name} is required", line_no, name)
            for name in sorted(LINE_FIELDS - request.keys())
        ]
        problems += [
            InputProblem("unknown_parameter", f"{name} is not a field of a batch request", line_no, name)
            for name in sorted(request.keys() - LINE_FIELDS)
        ]
        if "custom_id" in request:
            problems += self._check_custom_id(line_no, request["custom_id"])
        if "method" in request and request["method"] != "POST":
            problems.append(InputProblem("invalid_method", "method must be POST", line_no, "method"))
        if "url" in request and request["url"] != BATCH_ENDPOINT:
            problems.append(InputProblem("invalid_url", f"url must be {BATCH_ENDPOINT}", line_no, "url"))
        if "body" in request:
            problems += self._check_body(line_no, request["body"])
        return problems

    def _check_custom_id(self, line_no: int, custom_id: Any) -> list[InputProblem]:
        if not isinstance(custom_id, str) or not custom_id:
            return [InputProblem("invalid_custom_id", "custom_id must be a non-empty string", line_no)]
        if custom_id in self.custom_ids:
            return [InputProblem("duplicate_custom_id", f"custom_id {custom_id!r} appears twice", line_no, "custom_id")]
        self.custom_ids.add(custom_id)
        return []

    def _check_body(self, line_no: int, body: Any) -> list[InputProblem]:
        if not isinstance(body, dict):
            return [InputProblem("invalid_body", "body must be a JSON object", line_no, "body")]
        problems = self._check_model(line_no, body.get("model"))
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            problems.append(
                InputProblem(
                    "missing_required_parameter", "body.messages must be a non-empty list", line_no, "body.messages"
                )
            )
        if self.settings.forbidden_params_policy == "fail_batch":
            problems += [
                InputProblem(
                    "unsupported_parameter", f"{name} cannot be changed for this model", line_no, f"body.{name}"
                )
                for name in forbidden_params_in(body, self.settings)
            ]
        if "stream" in body and body["stream"] is not False:
            problems.append(
                InputProblem("streaming_unsupported", "stream is not supported in a batch", line_no, "body.stream")
            )
        found = thinking_problems(body)
        if isinstance(messages, list):
            found += message_problems(messages, self.purpose_of)
        problems += [InputProblem(code, message, line_no, param) for code, message, param in found]
        return problems

    def _check_model(self, line_no: int, model: Any) -> list[InputProblem]:
        if not isinstance(model, str) or not model:
            return [InputProblem("missing_required_parameter", "body.model is required", line_no, "body.model")]
        if model not in self.settings.allowed_models:
            return [
                InputProblem("model_not_found", f"model {model!r} is not available for batches", line_no, "body.model")
            ]
        if self.model is None:
            self.model = model
        elif model != self.model:
            return [
                InputProblem(
                    "model_mismatch",
                    f"every line must use the same model; line 1 uses {self.model!r}, this one {model!r}",
                    line_no,
                    "body.model",
                )
            ]
        return []


def validate_input(path: Path, settings: EmulatorSettings, purpose_of: Callable[[str], str | None]) -> InputReport:
    """Read the input file once, line by line, and report every broken rule (up to a cap).

    ``purpose_of`` answers the purpose of a held file id (``None`` if unknown), for ``ms://`` refs.
    """
    checker = _LineChecker(settings, purpose_of)
    problems: list[InputProblem] = []
    total = 0
    line_no = 0
    with path.open("rb") as handle:
        for raw in handle:
            line_no += 1
            if not raw.strip():
                continue
            total += 1
            if len(problems) < settings.max_validation_errors:
                problems += checker.check(line_no, raw)
    if total == 0:
        problems.append(InputProblem("empty_file", "the input file holds no requests"))
    return InputReport(total, problems[: settings.max_validation_errors])


def parse_json_body(raw: bytes, max_depth: int) -> Any:
    """Decode a JSON request body, or raise a 400 (also for one nested deeper than ``max_depth``)."""
    if exceeds_depth(raw, max_depth):
        raise bad_request(f"the request body nests deeper than {max_depth} levels")
    try:
        return json.loads(raw) if raw else None
    except (ValueError, RecursionError) as exc:
        raise bad_request("the request body is not valid JSON") from exc
