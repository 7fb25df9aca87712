"""Bad inputs at every entry point: each is refused with an error naming what and where.

Files, rows, connection settings, operator arguments, ids that do not exist and an unreachable
endpoint, all against a real local Kimi server: after every refusal the server has received no
upload and created no batch, so nothing is left running or billing.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from airflow.providers.common.compat.sdk import AirflowNotFoundException
from dag_runs import run_dag
from odd_server import OddServer, batch

from airflow_provider_kimi.batch.builders import ForbiddenParameterError, prompt_requests
from airflow_provider_kimi.batch.identity import UnexpectedBatchError
from airflow_provider_kimi.batch.media import UnsupportedMediaError, inline_part
from airflow_provider_kimi.batch.results import MAX_RESULT_LINE_BYTES
from airflow_provider_kimi.batch.status import UnknownBatchStatusError
from airflow_provider_kimi.batch.validator import InvalidBatchInputError, ensure_valid
from airflow_provider_kimi.batch.writer import DuplicateCustomIdError, InputTooLargeError, write_requests
from airflow_provider_kimi.cli.main import main
from airflow_provider_kimi.exceptions import KimiConnectionError
from airflow_provider_kimi.hooks.kimi import KimiBatchHook
from airflow_provider_kimi.operators import (
    KimiCancelBatchOperator,
    KimiCreateBatchOperator,
    KimiDownloadResultsOperator,
    KimiUploadFileOperator,
)
from airflow_provider_kimi.sensors.kimi import KimiBatchSensor
from airflow_provider_kimi.triggers.kimi import KimiBatchTrigger

pytestmark = pytest.mark.timeout(120)

BODY = {"model": "kimi-k2.5", "messages": [{"role": "user", "content": "hi"}]}
GOOD = {"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": BODY}


def line(**changes: Any) -> dict[str, Any]:
    """The good request line with top-level fields (or ``body_<name>`` body fields) changed."""
    request = json.loads(json.dumps(GOOD))
    for name, value in changes.items():
        if name.startswith("body_"):
            request["body"][name.removeprefix("body_")] = value
        else:
            request[name] = value
    return request


def image_line(url: str) -> dict[str, Any]:
    return line(body_messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}])


@dataclass
class Bench:
    """What a row needs: a folder for files, the server, and a way to define connections."""

    folder: Path
    kimi: Any
    monkeypatch: pytest.MonkeyPatch
    dead: str = ""

    def file(self, lines: list[Any], name: str = "requests.jsonl") -> Path:
        path = self.folder / name
        path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
        return path

    def connection(self, conn_id: str, **fields: Any) -> str:
        value = {"conn_type": "kimi", "host": self.kimi.base_url, "password": self.kimi.api_key, **fields}
        self.monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(value))
        return conn_id

    def dead_endpoint(self) -> str:
        """A base URL on a port of 127.0.0.1 where nothing listens."""
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        self.dead = f"http://127.0.0.1:{port}/v1"
        return self.dead

    def upload(self, path: Path | str, **kwargs: Any) -> Any:
        return KimiUploadFileOperator(task_id="upload", file_path=str(path), **kwargs).execute(context())

    def create(self, **kwargs: Any) -> Any:
        return KimiCreateBatchOperator(task_id="create", **{"input_file_id": "file-x", **kwargs}).execute(context())

    def cancel(self, batch_id: str = "batch-x", **kwargs: Any) -> Any:
        return KimiCancelBatchOperator(task_id="cancel", batch_id=batch_id, **kwargs).execute(context())

    def http(self, method: str, path: str, body: bytes | Iterator[bytes] = b"", key: str | None = "right") -> None:
        """A raw call to the server; an answer other than 2xx is raised with its status and message."""
        headers = {"Authorization": f"Bearer {self.kimi.api_key}"} if key else {}
        if path == "/v1/files":
            headers["Content-Type"] = "multipart/form-data; boundary=b"
        response = httpx.request(method, self.kimi.url + path, content=body, headers=headers, timeout=60)
        if response.status_code >= 300:
            raise RuntimeError(f"HTTP {response.status_code}: {response.json()['error']['message']}")

    def cli(self, *args: str) -> None:
        """``kimi-batch ARGS``; a non-zero exit is raised with what it printed on stderr."""
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main([arg.replace("{folder}", str(self.folder)) for arg in args])
        if code:
            raise RuntimeError(f"exit {code}: {err.getvalue()}")

    def odd(self, answer: dict[str, Any], call: Callable[[], Any]) -> Any:
        """``call`` with the connection ``kimi_odd`` pointing at a server that answers ``answer``."""
        server = OddServer()
        server.answer = answer
        self.connection("kimi_odd", host=server.base_url, extra={"max_retries": 0})
        try:
            return call()
        finally:
            server.close()


def context() -> dict[str, Any]:
    """The part of a task's context the Kimi operators read: the task instance, for run keys and XCom."""
    ti = SimpleNamespace(
        dag_id="kimi_bad_inputs", task_id="task", run_id="manual__bad", map_index=-1, xcom_push=lambda **_: None
    )
    return {"ti": ti, "dag_run": None}


def run_trigger(trigger: KimiBatchTrigger) -> list[dict[str, Any]]:
    async def collect() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    return asyncio.run(collect())


def trigger_error(bench: Bench, conn_id: str) -> None:
    """The trigger's one event, raised as an error when it is one (the resumed task does the same)."""
    events = run_trigger(KimiBatchTrigger("batch-x", conn_id, poll_interval=0.01, timeout=10, max_consecutive_errors=0))
    assert len(events) == 1, events
    if events[0]["status"] != "success":
        raise RuntimeError(events[0]["message"])


def over_16_pairs() -> dict[str, str]:
    return {f"k{i}": "v" for i in range(17)}


def nested(depth: int) -> str:
    """A request line whose ``tools`` nests ``depth`` arrays deep (two levels more in all)."""
    return json.dumps(line(body_tools="@")).replace('"@"', "[" * depth + "]" * depth)


def chunked_upload(file_bytes: int) -> Iterator[bytes]:
    """A multipart upload without a Content-Length, of ``file_bytes`` bytes of content."""
    yield (
        b'--b\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nbatch\r\n'
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="in.jsonl"\r\n\r\n'
    )
    piece = b"x" * (1 << 20)
    for _ in range(file_bytes >> 20):
        yield piece
    yield b"\r\n--b--\r\n"


def used_folder(bench: Bench) -> None:
    source = bench.file([GOOD, line(custom_id="b")])
    bench.cli("split", str(source), "--output-dir", "{folder}/parts", "--max-lines", "1")
    bench.cli("split", str(source), "--output-dir", "{folder}/parts", "--max-lines", "1")


def named_pipe(bench: Bench) -> None:
    os.mkfifo(bench.folder / "pipe.jsonl")
    bench.cli("validate", "{folder}/pipe.jsonl")


def over_long_result(bench: Bench) -> None:
    (bench.folder / "out.jsonl").write_bytes(b'{"custom_id": "' + b"x" * MAX_RESULT_LINE_BYTES + b'"}\n')
    bench.cli("results", "{folder}/out.jsonl")


@dataclass(frozen=True)
class Row:
    """One bad input: how to feed it, the error it must raise, and the fragments its message must hold."""

    name: str
    feed: Callable[[Bench], Any]
    error: type[BaseException] | tuple[type[BaseException], ...]
    fragments: tuple[str, ...]


def fragments_of(*parts: str) -> tuple[str, ...]:
    return parts


ROWS = [
    # -- files, through the upload operator (validation runs before any request) --------------
    Row(
        "file: a line that is not JSON",
        lambda b: b.upload(b.file([GOOD, "{not json"])),
        InvalidBatchInputError,
        fragments_of("requests.jsonl:2: $: invalid JSON"),
    ),
    Row(
        "file: a model Kimi does not batch",
        lambda b: b.upload(b.file([line(body_model="gpt-4o")])),
        InvalidBatchInputError,
        fragments_of('requests.jsonl:1: body.model: "gpt-4o" is not a batch model'),
    ),
    Row(
        "file: a fixed parameter (temperature)",
        lambda b: b.upload(b.file([line(body_temperature=0.2)])),
        InvalidBatchInputError,
        fragments_of("requests.jsonl:1: body.temperature: fixed for Kimi's batch models"),
    ),
    Row(
        "file: a fixed parameter (top_p) on the second line",
        lambda b: b.upload(b.file([GOOD, line(custom_id="b", body_top_p=0.9)])),
        InvalidBatchInputError,
        fragments_of("requests.jsonl:2: body.top_p: fixed for Kimi's batch models"),
    ),
    Row(
        "file: stream",
        lambda b: b.upload(b.file([line(body_stream=True)])),
        InvalidBatchInputError,
        fragments_of("requests.jsonl:1: body.stream: a batch request cannot stream"),
    ),
    Row(
        "file: duplicate custom_id",
        lambda b: b.upload(b.file([GOOD, line(custom_id="b"), GOOD])),
        InvalidBatchInputError,
        fragments_of('requests.jsonl:3: custom_id: duplicate "a", first used on line 1'),
    ),
    Row(
        "file: no custom_id",
        lambda b: b.upload(b.file([{k: v for k, v in GOOD.items() if k != "custom_id"}])),
        InvalidBatchInputError,
        fragments_of("requests.jsonl:1: custom_id: missing required field"),
    ),
    Row(
        "file: another endpoint",
        lambda b: b.upload(b.file([line(url="/v1/embeddings")])),
        InvalidBatchInputError,
        fragments_of('requests.jsonl:1: url: must be "/v1/chat/completions", got "/v1/embeddings"'),
    ),
    Row(
        "file: an unknown role",
        lambda b: b.upload(b.file([line(body_messages=[{"role": "robot", "content": "x"}])])),
        InvalidBatchInputError,
        fragments_of('requests.jsonl:1: body.messages[0].role: unknown role "robot"'),
    ),
    Row(
        "file: a blank line",
        lambda b: b.upload(b.file([GOOD, "", line(custom_id="b")])),
        InvalidBatchInputError,
        fragments_of("requests.jsonl:2: $: blank line"),
    ),
    Row(
        "file: an image that is not base64",
        lambda b: b.upload(b.file([image_line("data:image/png;base64,@@@@")])),
        InvalidBatchInputError,
        fragments_of("requests.jsonl:1: body.messages[0].content[0].image_url.url: data URL is not valid base64"),
    ),
    Row(
        "file: a reference to a media file not uploaded",
        lambda b: b.upload(b.file([image_line("ms://file-unknown")]), known_file_ids=["file-known"]),
        InvalidBatchInputError,
        fragments_of("requests.jsonl:1: body.messages[0].content[0].image_url.url:", "file-unknown"),
    ),
    Row(
        "file: empty",
        lambda b: b.upload(b.file([])),
        InvalidBatchInputError,
        fragments_of("requests.jsonl:0: file: file is empty"),
    ),
    Row(
        "file: not named .jsonl",
        lambda b: b.upload(b.file([GOOD], name="requests.json")),
        InvalidBatchInputError,
        fragments_of('requests.json:0: file: name "requests.json" must end in .jsonl'),
    ),
    Row(
        "file: missing",
        lambda b: b.upload(b.folder / "nowhere.jsonl"),
        FileNotFoundError,
        fragments_of("nowhere.jsonl"),
    ),
    Row(
        "file: over the size limit",
        lambda b: ensure_valid(b.file([GOOD, line(custom_id="b")]), max_bytes=200),
        InvalidBatchInputError,
        fragments_of("requests.jsonl:0: file: file is 298 bytes, over the limit of 200 bytes"),
    ),
    Row(
        "file: a line nested 1,000 deep",
        lambda b: b.upload(b.file([GOOD, nested(1000)])),
        InvalidBatchInputError,
        fragments_of("requests.jsonl:2: $: nested 1002 levels deep, over the limit of 64 levels"),
    ),
    # -- the server, called as any client might ------------------------------------------------
    Row(
        "server: a create body nested 5,000 deep",
        lambda b: b.http("POST", "/v1/batches", b'{"metadata": ' + b"[" * 5000 + b"]" * 5000 + b"}"),
        RuntimeError,
        fragments_of("HTTP 400", "the request body nests deeper than 64 levels"),
    ),
    Row(
        "server: a chunked upload over the size limit",
        lambda b: b.http("POST", "/v1/files", chunked_upload(b.kimi.settings.max_file_bytes + (2 << 20))),
        RuntimeError,
        fragments_of("HTTP 400", "file is larger than the limit of"),
    ),
    Row(
        "server: an admin route without the key",
        lambda b: b.http("GET", "/_emulator/stats", key=None),
        RuntimeError,
        fragments_of("HTTP 401", "Invalid Authentication"),
    ),
    # -- the command line ------------------------------------------------------------------------
    Row(
        "cli: split into a folder that holds an earlier split",
        used_folder,
        RuntimeError,
        fragments_of("exit 1", "the output folder is not empty", "--overwrite"),
    ),
    Row(
        "cli: split with a prefix leading out of the folder",
        lambda b: b.cli("split", str(b.file([GOOD])), "--output-dir", "{folder}/parts", "--prefix", "../.."),
        RuntimeError,
        fragments_of("exit 2", "prefix must be a plain file name", "'../..'"),
    ),
    Row(
        "cli: validate a named pipe",
        named_pipe,
        RuntimeError,
        fragments_of("exit 2", "pipe.jsonl: not a regular file"),
    ),
    Row(
        "cli: results with a line over the length limit",
        over_long_result,
        RuntimeError,
        fragments_of("exit 2", f"out.jsonl:1: line is longer than {MAX_RESULT_LINE_BYTES} bytes"),
    ),
    # -- the hook and the operators, against a server whose answers cannot be taken -------------
    Row(
        "hook: an answer about another batch",
        lambda b: b.odd(batch("batch-other", "completed"), lambda: KimiBatchHook("kimi_odd").get_batch("batch-x")),
        UnexpectedBatchError,
        fragments_of("Asked for batch 'batch-x' but the server answered about batch 'batch-other'"),
    ),
    Row(
        "hook: a batch status newer than the provider",
        lambda b: b.odd(
            batch("batch-x", "paused"),
            lambda: KimiBatchHook("kimi_odd").wait_for_batch("batch-x", poll_interval=0.01, timeout=5),
        ),
        UnknownBatchStatusError,
        fragments_of("batch status 'paused'", "update the provider"),
    ),
    Row(
        "operator: download a batch the server answers another batch for",
        lambda b: b.odd(
            batch("batch-other", "completed"),
            lambda: KimiDownloadResultsOperator(
                task_id="d", batch="batch-x", destination=str(b.folder), kimi_conn_id="kimi_odd"
            ).execute(context()),
        ),
        UnexpectedBatchError,
        fragments_of("Asked for batch 'batch-x'"),
    ),
    # -- rows, through the builders and the writer ----------------------------------------------
    Row(
        "rows: temperature",
        lambda b: prompt_requests(["x"], body_params={"temperature": 0.3}),
        ForbiddenParameterError,
        fragments_of("'temperature' is fixed for Kimi's batch models"),
    ),
    Row(
        "rows: stream",
        lambda b: prompt_requests(["x"], body_params={"stream": True}),
        ForbiddenParameterError,
        fragments_of("'stream' is not allowed in a batch request"),
    ),
    Row(
        "rows: a media type Kimi does not read",
        lambda b: inline_part(b"plain text", filename="notes.txt"),
        UnsupportedMediaError,
        fragments_of('"notes.txt": unsupported media format'),
    ),
    Row(
        "rows: a video where an image is wanted",
        lambda b: inline_part(b"\x00\x00\x00\x18ftypmp42", filename="clip.mp4", kind="image"),
        UnsupportedMediaError,
        fragments_of('"clip.mp4" is a video, not an image'),
    ),
    Row(
        "rows: no custom_id column",
        lambda b: list(prompt_requests([{"text": "x"}], custom_id_column="id")),
        KeyError,
        fragments_of("row 1 has no 'id' column for custom_id"),
    ),
    Row(
        "rows: duplicate custom_id when written",
        lambda b: write_requests(prompt_requests([{"id": "a", "text": "x"}] * 2, custom_id_column="id"), b.file([])),
        DuplicateCustomIdError,
        fragments_of("requests.jsonl:2: custom_id: duplicate 'a', first used on line 1"),
    ),
    Row(
        "rows: over the size limit when written",
        lambda b: write_requests(prompt_requests(["a", "b", "c"]), b.file([]), max_bytes=300),
        InputTooLargeError,
        fragments_of("requests.jsonl:3: the input passes 300 bytes here"),
    ),
    # -- connection settings ------------------------------------------------------------------
    Row(
        "connection: no key",
        lambda b: b.cancel(kimi_conn_id=b.connection("kimi_no_key", password="")),
        KimiConnectionError,
        fragments_of("No Kimi API key: connection 'kimi_no_key' has no password"),
    ),
    Row(
        "connection: timeout is not a number",
        lambda b: b.cancel(kimi_conn_id=b.connection("kimi_bad_timeout", extra={"timeout": "soon"})),
        KimiConnectionError,
        fragments_of("Connection 'kimi_bad_timeout': extra 'timeout' must be a number of seconds", "'soon'"),
    ),
    Row(
        "connection: timeout of zero",
        lambda b: b.cancel(kimi_conn_id=b.connection("kimi_zero_timeout", extra={"timeout": 0})),
        KimiConnectionError,
        fragments_of("Connection 'kimi_zero_timeout': extra 'timeout' must be > 0"),
    ),
    Row(
        "connection: max_retries is not a whole number",
        lambda b: b.cancel(kimi_conn_id=b.connection("kimi_bad_retries", extra={"max_retries": "many"})),
        KimiConnectionError,
        fragments_of("Connection 'kimi_bad_retries':", "'max_retries' a whole number", "'many'"),
    ),
    Row(
        "connection: negative max_retries",
        lambda b: b.cancel(kimi_conn_id=b.connection("kimi_neg_retries", extra={"max_retries": -1})),
        KimiConnectionError,
        fragments_of("Connection 'kimi_neg_retries':", "'max_retries' >= 0"),
    ),
    Row(
        "connection: negative max_requests_per_minute",
        lambda b: b.cancel(kimi_conn_id=b.connection("kimi_bad_budget", extra={"max_requests_per_minute": -5})),
        KimiConnectionError,
        fragments_of("Connection 'kimi_bad_budget': extra 'max_requests_per_minute' must be a number >= 0", "-5"),
    ),
    Row(
        "connection: not defined",
        lambda b: b.cancel(kimi_conn_id="kimi_nowhere"),
        AirflowNotFoundException,
        fragments_of("kimi_nowhere"),
    ),
    Row(
        "connection: a wrong key",
        lambda b: b.cancel(kimi_conn_id=b.connection("kimi_wrong_key", password="sk-wrong", extra={"max_retries": 0})),
        Exception,
        fragments_of("401", "kimi_wrong_key"),
    ),
    Row(
        "connection: a host where nothing listens",
        lambda b: b.cancel(kimi_conn_id=b.connection("kimi_down", host=b.dead_endpoint(), extra={"max_retries": 0})),
        Exception,
        fragments_of("kimi_down", "{dead}"),
    ),
    Row(
        "unreachable endpoint: a deferred wait",
        lambda b: trigger_error(b, b.connection("kimi_down_wait", host=b.dead_endpoint(), extra={"max_retries": 0})),
        RuntimeError,
        fragments_of("batch-x", "kimi_down_wait", "{dead}"),
    ),
    # -- operator arguments -------------------------------------------------------------------
    Row(
        "argument: completion_window 2h",
        lambda b: b.create(completion_window="2h"),
        ValueError,
        fragments_of("completion_window '2h' is outside Kimi's range of 12h to 7d"),
    ),
    Row(
        "argument: completion_window 8d",
        lambda b: b.create(completion_window="8d"),
        ValueError,
        fragments_of("completion_window '8d' is outside Kimi's range of 12h to 7d"),
    ),
    Row(
        "argument: completion_window soon",
        lambda b: b.create(completion_window="soon"),
        ValueError,
        fragments_of("completion_window 'soon' is not a duration like '24h' or '3d'"),
    ),
    Row(
        "argument: metadata with 17 pairs",
        lambda b: b.create(metadata=over_16_pairs()),
        ValueError,
        fragments_of("metadata has 17 pairs; Kimi allows at most 16"),
    ),
    Row(
        "argument: metadata with 15 pairs, two more taken by reattach",
        lambda b: b.create(metadata={f"k{i}": "v" for i in range(15)}),
        ValueError,
        fragments_of("metadata has 15 pairs", "at most 14", "reattach"),
    ),
    Row(
        "argument: metadata key of 65 characters",
        lambda b: b.create(metadata={"k" * 65: "v"}),
        ValueError,
        fragments_of("metadata key 'kkkkkkkkkkkkkkkkkkkk'... is 65 characters; the limit is 64"),
    ),
    Row(
        "argument: metadata value that is not a string",
        lambda b: b.create(metadata={"priority": 3}),
        ValueError,
        fragments_of("metadata['priority'] must be a string, got int"),
    ),
    Row(
        "argument: metadata key the operator reserves",
        lambda b: b.create(metadata={"airflow_run_key": "mine"}),
        ValueError,
        fragments_of("metadata keys ['airflow_run_key'] are set by the operator when reattach=True"),
    ),
    Row(
        "argument: sensor succeed_on in_progress",
        lambda b: KimiBatchSensor(task_id="wait", batch_id="batch-x", succeed_on=("completed", "in_progress")),
        ValueError,
        fragments_of("succeed_on=['completed', 'in_progress']: each entry must be one of cancelled, completed"),
    ),
    Row(
        "argument: create succeed_on in_progress",
        lambda b: KimiCreateBatchOperator(task_id="create", input_file_id="file-x", succeed_on=["in_progress"]),
        ValueError,
        fragments_of("succeed_on=['in_progress']: each entry must be one of"),
    ),
    Row(
        "argument: max_failed_ratio 2",
        lambda b: KimiDownloadResultsOperator(task_id="download", batch="b", destination="/x", max_failed_ratio=2),
        ValueError,
        fragments_of("max_failed_ratio must be between 0 and 1, got 2"),
    ),
    Row(
        "argument: negative max_failed_count",
        lambda b: KimiDownloadResultsOperator(task_id="download", batch="b", destination="/x", max_failed_count=-1),
        ValueError,
        fragments_of("max_failed_count must not be negative, got -1"),
    ),
    Row(
        "argument: an empty batch id",
        lambda b: b.cancel(batch_id=" "),
        ValueError,
        fragments_of("Expected a Kimi batch id", "' '"),
    ),
    # -- ids that do not exist ----------------------------------------------------------------
    Row(
        "unknown id: wait for a batch",
        lambda b: KimiBatchSensor(task_id="wait", batch_id="batch-nope", deferrable=True).execute(context()),
        Exception,
        fragments_of("404", "batch-nope"),
    ),
    Row(
        "unknown id: cancel a batch",
        lambda b: b.cancel(batch_id="batch-nope"),
        Exception,
        fragments_of("404", "batch-nope"),
    ),
    Row(
        "unknown id: download a batch",
        lambda b: KimiDownloadResultsOperator(task_id="d", batch="batch-nope", destination=str(b.folder)).execute(
            context()
        ),
        Exception,
        fragments_of("404", "batch-nope"),
    ),
    Row(
        "unknown id: create from a file never uploaded",
        lambda b: b.create(input_file_id="file-nope"),
        Exception,
        fragments_of("404", "file-nope"),
    ),
]


def test_the_table_covers_every_entry_point():
    kinds = {row.name.split(":")[0] for row in ROWS}
    assert kinds == {
        *("file", "rows", "connection", "unreachable endpoint", "argument", "unknown id"),
        *("server", "cli", "hook", "operator"),
    }
    assert len(ROWS) >= 30


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_a_bad_input_is_refused_clearly_and_nothing_reaches_kimi(row, make_kimi, tmp_path, monkeypatch):
    kimi = make_kimi(api_key="sk-right-key")
    bench = Bench(tmp_path, kimi, monkeypatch)
    with pytest.raises(row.error) as raised:
        row.feed(bench)
    message = str(raised.value)
    for fragment in (f.replace("{dead}", bench.dead) for f in row.fragments):
        assert fragment in message, f"{row.name}: {fragment!r} not in the error:\n{message}"
    stats = kimi.stats()
    assert (stats["uploads"], stats["batches_created"]) == (0, 0), stats


def test_bad_arguments_and_unknown_ids_fail_their_tasks_in_a_dag_run(kimi, storage, task_output):
    results = storage / "results"
    conf = {
        "file_id": "file-nope",
        "window": "2h",
        "metadata": {"k" * 65: "v"},
        "batch_id": "batch-nope",
        "results": f"file://{results}",
    }
    result = run_dag("kimi_bad_runtime_arguments", conf)
    assert result.state == "failed"
    assert set(result.task_states.values()) == {"failed"}, result.task_states
    output = task_output()
    for message in [
        "completion_window '2h' is outside Kimi's range of 12h to 7d",
        "metadata key 'kkkkkkkkkkkkkkkkkkkk'... is 65 characters; the limit is 64",
        "file 'file-nope' not found",
    ]:
        assert message in output
    # The wait, the cancel and the download each name the batch that does not exist.
    assert output.count("batch 'batch-nope' not found") >= 3
    stats = kimi.stats()
    assert (stats["uploads"], stats["batches_created"]) == (0, 0)
    assert not results.exists()
