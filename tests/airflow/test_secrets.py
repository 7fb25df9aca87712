"""The API key stays in the connection, and downloads stay in the destination the user gave.

The DAGs run with a recognisable key against a server that accepts only that key; then
everything they left behind is searched for it: task output, XComs, rendered template fields,
triggers (serialized and stored), every file under the Airflow home (the metadata database, logs)
and the storage they wrote to, and the text of the errors a user sees.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import traceback
from pathlib import Path
from typing import Any

import openai
import pytest
from dag_runs import AIRFLOW_V_3, EXAMPLE_DAGS, run_dag

from airflow_provider_kimi.exceptions import KimiConnectionError
from airflow_provider_kimi.hooks.kimi import KimiBatchHook
from airflow_provider_kimi.operators import KimiDownloadResultsOperator
from airflow_provider_kimi.operators.download import result_file_name
from airflow_provider_kimi.triggers.kimi import KimiBatchTrigger

pytestmark = pytest.mark.timeout(180)

KEY = "sk-SECRET-kimi-test-0123456789"
# A shortened or reformatted key still gives it away.
TELLTALE = "SECRET-kimi-test"


def assert_no_key(where: str, text: str) -> None:
    assert TELLTALE not in text, f"the API key shows in {where}"


def use_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, host: str, **extra: Any) -> None:
    conn = {"conn_type": "kimi", "host": host, "password": KEY, "extra": extra}
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


def dead_endpoint() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def error_texts(err: BaseException) -> str:
    """Everything an error shows: its message, its repr, and the traceback with its causes."""
    return "\n".join([str(err), repr(err), *traceback.format_exception(err)])


def trigger_events(trigger: KimiBatchTrigger) -> list[dict[str, Any]]:
    async def collect() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    return asyncio.run(collect())


def rendered_fields(dag_ids: set[str]) -> list[dict[str, Any]]:
    """The rendered template fields Airflow stored for these DAGs' task instances."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields as Rendered
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(select(Rendered).where(Rendered.dag_id.in_(dag_ids)))
        return [
            {"task_id": r.task_id, "rendered_fields": r.rendered_fields, "k8s_pod_yaml": r.k8s_pod_yaml} for r in rows
        ]


def record_deferrals(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    """Collect each trigger the runs deferred to, serialized as the task handed it over."""
    # dag.test() runs a deferred task's trigger in line: Airflow 3 from its SDK's DAG module,
    # Airflow 2 from the models' one (without the task instance).
    if AIRFLOW_V_3:
        import airflow.sdk.definitions.dag as dag_module
    else:
        import airflow.models.dag as dag_module

    deferred: list[tuple[str, dict[str, Any]]] = []
    run_inline = dag_module._run_inline_trigger

    def recording(trigger: Any, *args: Any) -> Any:
        deferred.append(trigger.serialize())
        return run_inline(trigger, *args)

    monkeypatch.setattr(dag_module, "_run_inline_trigger", recording)
    return deferred


def stored_trigger_rows(deferred: list[tuple[str, dict[str, Any]]]) -> str:
    """The ``trigger`` table rows the scheduler makes of these deferrals, read back from the database."""
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session
    from sqlalchemy import select, text

    with create_session() as session:
        rows = [Trigger(classpath=classpath, kwargs=kwargs) for classpath, kwargs in deferred]
        session.add_all(rows)
        session.flush()
        ids = [row.id for row in rows]
        session.expunge_all()
        stored = session.scalars(select(Trigger).where(Trigger.id.in_(ids))).all()
        raw = session.execute(text("SELECT classpath, kwargs FROM trigger")).all()
        texts = [f"{t.classpath} {t.kwargs!r}" for t in stored] + [f"{c} {k}" for c, k in raw]
        session.rollback()
    return "\n".join(texts)


def files_under_roots(*roots: Path) -> dict[str, bytes]:
    """Every file under these folders, as bytes: the metadata database, log files, inputs, results."""
    return {str(p): p.read_bytes() for root in roots for p in root.rglob("*") if p.is_file()}


def test_the_key_shows_nowhere_the_dags_wrote(make_kimi, storage, monkeypatch, task_output):
    # Slow enough that the example's sensor finds its batch still running and defers.
    kimi = make_kimi(api_key=KEY, time_scale=0.4)
    monkeypatch.setenv("KIMI_EXAMPLE_STORAGE", f"file://{storage}")
    monkeypatch.setenv("KIMI_EXAMPLE_POLL_SECONDS", "0.1")
    deferred = record_deferrals(monkeypatch)
    # The server takes no other key, so every call of these runs carried it.
    succeeded = run_dag("example_kimi_batch_classification", folder=EXAMPLE_DAGS)
    assert succeeded.state == "success", succeeded.task_states
    rejected = run_dag("kimi_rejected_input", {"model": "gpt-4o"})
    assert rejected.task_states["wait"] == "failed"
    assert kimi.stats()["batches_created"] == 2

    output = task_output()
    assert f"Batch {rejected.xcom('create')} failed" in output
    assert_no_key("the task output", output)
    written = files_under_roots(Path(os.environ["AIRFLOW_HOME"]), storage)
    # SQLite may still hold recent pages in its write-ahead log or journal beside the main file.
    database = b"".join(content for name, content in written.items() if Path(name).name.startswith("airflow.db"))
    # What the runs stored is readable in the database's bytes, so a key stored there would be too.
    assert succeeded.xcom("create").encode() in database
    assert any(name.endswith(".output.jsonl") for name in written)
    for name, content in written.items():
        assert TELLTALE.encode() not in content, f"the API key shows in {name}"
    for result in (succeeded, rejected):
        assert_no_key("XCom", json.dumps({"|".join(k): v for k, v in result.xcoms.items()}, default=str))

    rendered = rendered_fields({"example_kimi_batch_classification", "kimi_rejected_input"})
    assert {r["task_id"] for r in rendered} >= {"upload", "create", "wait", "download"}
    assert_no_key("the rendered template fields", json.dumps(rendered, default=str))

    assert "airflow_provider_kimi.triggers.kimi.KimiBatchTrigger" in {classpath for classpath, _ in deferred}
    triggers = stored_trigger_rows(deferred)
    assert "'conn_id': 'kimi_default'" in triggers
    assert_no_key("the trigger table", triggers)


def test_a_serialized_trigger_holds_the_connection_id_not_the_key(make_kimi):
    make_kimi(api_key=KEY)
    classpath, kwargs = KimiBatchTrigger("batch-1", "kimi_default", poll_interval=5, timeout=60).serialize()
    assert kwargs["conn_id"] == "kimi_default"
    assert_no_key("a serialized trigger", f"{classpath} {kwargs!r}")


def test_a_refused_key_is_not_repeated_in_the_error(make_kimi, monkeypatch):
    kimi = make_kimi(api_key="sk-the-right-key")
    use_connection(monkeypatch, "kimi_default", kimi.base_url, max_retries=0)
    with pytest.raises(openai.AuthenticationError) as raised:
        KimiBatchHook().get_batch("batch-1")
    assert "401" in str(raised.value)
    assert_no_key("a 401 error", error_texts(raised.value))
    ok, message = KimiBatchHook().test_connection()
    assert not ok
    assert_no_key("test_connection's message", message)
    [event] = trigger_events(KimiBatchTrigger("batch-1", poll_interval=0.01, timeout=10))
    assert event["status"] == "error"
    assert "401" in event["message"]
    assert_no_key("the trigger's error event", json.dumps(event))


def test_an_unreachable_endpoint_does_not_show_the_key(monkeypatch):
    use_connection(monkeypatch, "kimi_default", dead_endpoint(), max_retries=0)
    with pytest.raises(openai.APIConnectionError) as raised:
        KimiBatchHook().get_batch("batch-1")
    assert_no_key("a connection error", error_texts(raised.value))
    [event] = trigger_events(KimiBatchTrigger("batch-1", poll_interval=0.01, timeout=10, max_consecutive_errors=0))
    assert event["status"] == "error"
    assert_no_key("the trigger's error event", json.dumps(event))


def test_a_bad_connection_extra_does_not_show_the_key(monkeypatch):
    use_connection(monkeypatch, "kimi_default", "http://127.0.0.1:9/v1", timeout="soon")
    with pytest.raises(KimiConnectionError) as raised:
        KimiBatchHook().get_batch("batch-1")
    assert_no_key("a connection settings error", error_texts(raised.value))
    assert_no_key("the hook's settings", repr(KimiBatchHook().__dict__))


# -- downloads stay in the destination -------------------------------------------------------


def ended_batch(kimi: Any) -> str:
    """A finished batch with one answer and one failure, so it has an output and an error file."""
    hook = KimiBatchHook()
    body = {"model": "kimi-k2.5", "messages": [{"role": "user", "content": "hello"}]}
    failing = {"model": "kimi-k2.5", "messages": [{"role": "user", "content": "no [[fail:400]]"}]}
    lines = [
        {"custom_id": "ok", "method": "POST", "url": "/v1/chat/completions", "body": body},
        {"custom_id": "bad", "method": "POST", "url": "/v1/chat/completions", "body": failing},
    ]
    data = "".join(json.dumps(line) + "\n" for line in lines).encode()
    file_id = hook.upload_file(data, filename="requests.jsonl").id
    snapshot = hook.wait_for_batch(hook.create_batch(file_id).id, poll_interval=0.05, timeout=60)
    assert snapshot["output_file_id"]
    assert snapshot["error_file_id"]
    return str(snapshot["id"])


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_a_download_writes_exactly_two_files_into_the_destination(kimi, tmp_path):
    batch_id = ended_batch(kimi)
    destination = tmp_path / "results" / "today"
    manifest = KimiDownloadResultsOperator(task_id="download", batch=batch_id, destination=str(destination)).execute({})
    assert files_under(tmp_path) == [
        f"results/today/{batch_id}.error.jsonl",
        f"results/today/{batch_id}.output.jsonl",
    ]
    assert (manifest["output_path"], manifest["error_path"]) == (
        str(destination / f"{batch_id}.output.jsonl"),
        str(destination / f"{batch_id}.error.jsonl"),
    )


BAD_IDS = ["../escape", "../../etc/passwd", "a/b", "..", "/tmp/x", "..\\escape", "batch\x00id"]


@pytest.mark.parametrize("batch_id", BAD_IDS)
def test_a_batch_id_that_is_not_a_plain_id_is_refused_before_any_request(kimi, tmp_path, monkeypatch, batch_id):
    asked: list[str] = []
    real_get_batch = KimiBatchHook.get_batch

    def spy(hook: KimiBatchHook, requested: str) -> Any:
        asked.append(requested)
        return real_get_batch(hook, requested)

    monkeypatch.setattr(KimiBatchHook, "get_batch", spy)
    destination = tmp_path / "results"
    operator = KimiDownloadResultsOperator(task_id="download", batch=batch_id, destination=str(destination))
    with pytest.raises(ValueError, match="not a plain Kimi id") as raised:
        operator.execute({})
    assert repr(batch_id) in str(raised.value)
    assert asked == []
    assert files_under(tmp_path) == []


@pytest.mark.parametrize("batch_id", BAD_IDS)
def test_a_batch_whose_id_is_not_a_plain_id_is_never_written_to_a_path(kimi, tmp_path, monkeypatch, batch_id):
    real_id = ended_batch(kimi)
    real_get_batch = KimiBatchHook.get_batch
    monkeypatch.setattr(
        KimiBatchHook, "get_batch", lambda hook, _: real_get_batch(hook, real_id).model_copy(update={"id": batch_id})
    )
    destination = tmp_path / "deep" / "results"
    with pytest.raises(ValueError, match="not a plain Kimi id"):
        KimiDownloadResultsOperator(task_id="download", batch="batch-1", destination=str(destination)).execute({})
    assert files_under(tmp_path) == []
    with pytest.raises(ValueError, match="not a plain Kimi id"):
        result_file_name(batch_id, "output")
