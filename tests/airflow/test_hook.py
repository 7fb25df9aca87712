"""KimiBatchHook against a real local Kimi server over HTTP, through the openai SDK."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import openai
import pytest
from airflow.providers.common.compat.sdk import ObjectStoragePath

from airflow_provider_kimi.client.endpoints import CHINA_BASE_URL, INTERNATIONAL_BASE_URL
from airflow_provider_kimi.client.settings import resolve_client_settings
from airflow_provider_kimi.client.translate import explained_errors
from airflow_provider_kimi.exceptions import KimiConnectionError, KimiNotFoundError, KimiWaitTimeout
from airflow_provider_kimi.hooks.kimi import KimiBatchHook


def request_line(custom_id: str, text: str = "hello") -> str:
    body = {"model": "kimi-k2.5", "messages": [{"role": "user", "content": text}]}
    return json.dumps({"custom_id": custom_id, "method": "POST", "url": "/v1/chat/completions", "body": body})


def write_input(path: Path, count: int = 3) -> Path:
    path.write_text("".join(request_line(f"r{i}") + "\n" for i in range(count)))
    return path


# -- settings -------------------------------------------------------------------------------


def test_settings_take_key_and_url_from_the_connection():
    settings = resolve_client_settings(
        "c", password="sk-conn", host="http://127.0.0.1:9/v1/", extra={"timeout": "5", "max_retries": 1}, environ={}
    )
    assert (settings.api_key, settings.base_url, settings.timeout, settings.max_retries) == (
        "sk-conn",
        "http://127.0.0.1:9/v1",
        5.0,
        1,
    )
    assert "sk-conn" not in repr(settings)


def test_settings_fall_back_to_the_guide_environment_variables():
    env = {"MOONSHOT_API_KEY": "sk-env", "MOONSHOT_BASE_URL": "https://api.moonshot.cn/v1"}
    settings = resolve_client_settings("kimi_default", password=None, host=None, extra={}, environ=env)
    assert settings.api_key == "sk-env"
    assert settings.base_url == "https://api.moonshot.cn/v1"


def test_settings_default_to_the_international_endpoint():
    settings = resolve_client_settings("c", password="sk-x", host="", extra={}, environ={})
    assert settings.base_url == INTERNATIONAL_BASE_URL


def test_a_missing_key_names_the_connection():
    with pytest.raises(KimiConnectionError, match=r"connection 'my_kimi' has no password and MOONSHOT_API_KEY"):
        resolve_client_settings("my_kimi", password="", host=None, extra={}, environ={})


@pytest.mark.parametrize(
    ("extra", "message"),
    [({"timeout": "soon"}, "must be a number"), ({"timeout": 0}, "must be > 0"), ({"max_retries": -1}, ">= 0")],
)
def test_bad_extras_are_refused(extra, message):
    with pytest.raises(KimiConnectionError, match=message):
        resolve_client_settings("c", password="sk-x", host=None, extra=extra, environ={})


def test_a_missing_default_connection_uses_the_environment(monkeypatch, kimi):
    monkeypatch.delenv("AIRFLOW_CONN_KIMI_DEFAULT")
    monkeypatch.setenv("MOONSHOT_API_KEY", kimi.api_key)
    monkeypatch.setenv("MOONSHOT_BASE_URL", kimi.base_url)
    assert KimiBatchHook().test_connection() == (True, f"Connected to {kimi.base_url}.")


def test_a_kimi_host_without_scheme_or_root_reaches_the_api_root():
    for host in ("api.moonshot.cn", "https://api.moonshot.ai/"):
        settings = resolve_client_settings("c", password="sk-x", host=host, extra={}, environ={})
        assert settings.base_url in (CHINA_BASE_URL, INTERNATIONAL_BASE_URL)
    from_env = resolve_client_settings(
        "c", password="sk-x", host=None, extra={}, environ={"MOONSHOT_BASE_URL": "api.moonshot.cn"}
    )
    assert from_env.base_url == CHINA_BASE_URL


def test_a_base_url_that_answers_404_everywhere_names_the_url_and_the_v1_root(kimi, monkeypatch, tmp_path):
    root = kimi.base_url.removesuffix("/v1")
    monkeypatch.setenv(
        "AIRFLOW_CONN_KIMI_DEFAULT",
        json.dumps({"conn_type": "kimi", "host": root, "password": kimi.api_key, "extra": {"max_retries": 0}}),
    )
    ok, message = KimiBatchHook().test_connection()
    assert not ok
    assert f"GET {root}/files" in message
    assert "404" in message
    assert f"set the connection's host to {root}/v1" in message

    with pytest.raises(KimiNotFoundError) as caught, explained_errors("kimi_default", root):
        KimiBatchHook().upload_file(write_input(tmp_path / "in.jsonl"))
    assert f"POST {root}/files" in str(caught.value)
    assert f"{root}/v1" in str(caught.value)


def test_a_404_at_the_right_root_gives_no_root_hint(kimi):
    with pytest.raises(KimiNotFoundError) as caught, explained_errors("kimi_default", kimi.base_url):
        KimiBatchHook().get_batch("batch-nope")
    assert f"GET {kimi.base_url}/batches/batch-nope" in str(caught.value)
    assert "API root" not in str(caught.value)


def test_a_missing_named_connection_is_an_error(kimi):
    with pytest.raises(Exception, match=r"no_such_conn"):
        KimiBatchHook(kimi_conn_id="no_such_conn").settings  # noqa: B018


def test_test_connection_reports_a_wrong_key(make_kimi, monkeypatch):
    emulator = make_kimi(api_key="sk-right")
    monkeypatch.setenv(
        "AIRFLOW_CONN_KIMI_DEFAULT",
        json.dumps(
            {"conn_type": "kimi", "host": emulator.base_url, "password": "sk-wrong", "extra": {"max_retries": 0}}
        ),
    )
    ok, message = KimiBatchHook().test_connection()
    assert not ok
    assert "401" in message
    assert "sk-wrong" not in message


# -- files ----------------------------------------------------------------------------------


def test_upload_from_a_path_an_object_storage_path_and_bytes(kimi, tmp_path):
    hook = KimiBatchHook()
    local = write_input(tmp_path / "local.jsonl")
    from_path = hook.upload_file(local)
    from_storage = hook.upload_file(ObjectStoragePath(f"file://{local}"))
    from_bytes = hook.upload_file(local.read_bytes(), filename="raw.jsonl")
    assert [f.filename for f in (from_path, from_storage, from_bytes)] == ["local.jsonl", "local.jsonl", "raw.jsonl"]
    assert {f.bytes for f in (from_path, from_storage, from_bytes)} == {local.stat().st_size}
    assert {f.id for f in hook.list_files()} >= {from_path.id, from_storage.id, from_bytes.id}
    assert hook.get_file(from_path.id).purpose == "batch"
    assert hook.delete_file(from_path.id).deleted is True
    with pytest.raises(openai.NotFoundError):
        hook.get_file(from_path.id)


def test_bytes_need_a_filename(kimi):
    with pytest.raises(ValueError, match="needs a filename"):
        KimiBatchHook().upload_file(b"{}")


def test_download_streams_a_file_to_a_path_and_object_storage(kimi, tmp_path):
    hook = KimiBatchHook()
    source = write_input(tmp_path / "in.jsonl", count=50)
    file_id = hook.upload_file(source).id
    local_copy = tmp_path / "copy.jsonl"
    assert hook.download_file(file_id, local_copy) == source.stat().st_size
    assert local_copy.read_bytes() == source.read_bytes()
    remote_copy = ObjectStoragePath(f"file://{tmp_path}/copy2.jsonl")
    hook.download_file(file_id, remote_copy)
    assert remote_copy.read_bytes() == source.read_bytes()


# -- batches --------------------------------------------------------------------------------


def test_create_get_wait_and_list(kimi, tmp_path):
    hook = KimiBatchHook()
    file_id = hook.upload_file(write_input(tmp_path / "in.jsonl")).id
    batch = hook.create_batch(file_id, completion_window="3d", metadata={"team": "data"})
    assert batch.status == "validating"
    assert batch.metadata == {"team": "data"}
    seen: list[str] = []
    snapshot = hook.wait_for_batch(batch.id, poll_interval=0.05, timeout=30, on_poll=lambda s: seen.append(s["status"]))
    assert snapshot["status"] == "completed"
    assert snapshot["request_counts"] == {"total": 3, "completed": 3, "failed": 0}
    assert snapshot["output_file_id"]
    assert seen[0] == "validating"
    assert seen[-1] == "completed"
    assert hook.get_batch(batch.id).status == "completed"
    assert batch.id in [b.id for b in hook.list_batches()]


def test_list_batches_follows_has_more(kimi, tmp_path):
    hook = KimiBatchHook()
    file_id = hook.upload_file(write_input(tmp_path / "in.jsonl", count=1)).id
    created = [hook.create_batch(file_id).id for _ in range(5)]
    listed = [b.id for b in hook.iter_batches(page_size=2)]
    assert listed == list(reversed(created))


def test_wait_gives_up_at_its_timeout(make_kimi, tmp_path):
    make_kimi(hold_new_batches_after=0)
    hook = KimiBatchHook()
    batch = hook.create_batch(hook.upload_file(write_input(tmp_path / "in.jsonl")).id)
    with pytest.raises(KimiWaitTimeout, match=f"Batch {batch.id} is still"):
        hook.wait_for_batch(batch.id, poll_interval=0.05, timeout=0.3)


def test_the_async_client_comes_from_the_same_connection(make_kimi, tmp_path):
    make_kimi(hold_new_batches_after=1)
    hook = KimiBatchHook()
    batch = hook.create_batch(hook.upload_file(write_input(tmp_path / "in.jsonl")).id)

    async def cancel_then_get() -> tuple[str, str]:
        async with await hook.get_async_conn() as client:
            cancelled = await client.batches.cancel(batch.id)
            now = await client.batches.retrieve(batch.id)
            return cancelled.status, now.status

    cancel_status, _ = asyncio.run(cancel_then_get())
    assert cancel_status == "cancelling"
    final = hook.wait_for_batch(batch.id, poll_interval=0.05, timeout=30)
    assert final["status"] == "cancelled"


def no_sdk_retries(emulator, monkeypatch) -> None:
    conn = {"conn_type": "kimi", "host": emulator.base_url, "password": emulator.api_key, "extra": {"max_retries": 0}}
    monkeypatch.setenv("AIRFLOW_CONN_KIMI_DEFAULT", json.dumps(conn))


def test_a_blocking_wait_tolerates_transient_errors_as_a_deferred_one_does(make_kimi, tmp_path, monkeypatch):
    emulator = make_kimi()
    hook = KimiBatchHook()
    batch = hook.create_batch(hook.upload_file(write_input(tmp_path / "in.jsonl")).id)
    no_sdk_retries(emulator, monkeypatch)
    emulator.set_faults({"500": 0.4}, seed=3)
    snapshot = KimiBatchHook().wait_for_batch(batch.id, poll_interval=0.05, timeout=60, max_consecutive_errors=20)
    assert snapshot["status"] == "completed"
    assert emulator.stats()["faults"].get("500", 0) > 0


def test_a_blocking_wait_gives_up_after_too_many_errors_in_a_row(make_kimi, tmp_path, monkeypatch):
    emulator = make_kimi(hold_new_batches_after=0)
    hook = KimiBatchHook()
    batch = hook.create_batch(hook.upload_file(write_input(tmp_path / "in.jsonl")).id)
    no_sdk_retries(emulator, monkeypatch)
    emulator.set_faults({"500": 1.0})
    with pytest.raises(openai.InternalServerError):
        KimiBatchHook().wait_for_batch(batch.id, poll_interval=0.01, timeout=60, max_consecutive_errors=2)
    assert emulator.stats()["faults"]["500"] == 3
