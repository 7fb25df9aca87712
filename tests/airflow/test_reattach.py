"""A lost answer or a retry never creates a second file or batch."""

from __future__ import annotations

import time

import pytest

from airflow_provider_kimi.batch.idempotency import (
    FINGERPRINT_FIELD,
    RUN_KEY_FIELD,
    batch_fingerprint,
    run_key,
    tagged_filename,
)
from airflow_provider_kimi.hooks.kimi import KimiBatchHook
from airflow_provider_kimi.hooks.reattach import create_batch_once, find_batch, upload_once

LINE = (
    '{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", '
    '"body": {"model": "kimi-k2.5", "messages": [{"role": "user", "content": "hi"}]}}\n'
)


def tags(key: str = "k", fingerprint: str = "f") -> dict[str, str]:
    return {RUN_KEY_FIELD: key, FINGERPRINT_FIELD: fingerprint}


@pytest.fixture
def input_file(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text(LINE)
    return path


def test_run_key_ignores_nothing_but_the_try():
    base = run_key("dag", "task", "run", -1)
    assert base == run_key("dag", "task", "run", -1)
    assert (
        len({base, run_key("dag", "task", "run", 0), run_key("dag", "other", "run"), run_key("d", "task", "run")}) == 4
    )


def test_the_fingerprint_changes_with_any_input():
    base = batch_fingerprint("file-1", "24h", "/v1/chat/completions", {"a": "1"})
    assert base == batch_fingerprint("file-1", "24h", "/v1/chat/completions", {"a": "1"})
    assert base != batch_fingerprint("file-2", "24h", "/v1/chat/completions", {"a": "1"})
    assert base != batch_fingerprint("file-1", "3d", "/v1/chat/completions", {"a": "1"})
    assert base != batch_fingerprint("file-1", "24h", "/v1/chat/completions", {"a": "2"})


def test_tagged_names_keep_the_jsonl_suffix():
    name = tagged_filename("requests.jsonl", "key", "0" * 64)
    assert name.startswith("requests.")
    assert name.endswith(".jsonl")
    assert name != tagged_filename("requests.jsonl", "key", "1" * 64)
    assert name != tagged_filename("requests.jsonl", "other", "0" * 64)


def lose_the_answer(kimi, call):
    """Wrap a hook call so that the server carries it out but its answer never arrives."""

    def wrapped(*args, **kwargs):
        kimi.set_faults({"lost": 1.0})
        try:
            return call(*args, **kwargs)
        finally:
            kimi.set_faults({})

    return wrapped


def test_a_lost_create_answer_re_attaches_instead_of_creating_twice(kimi, input_file):
    hook = KimiBatchHook()
    file_id = hook.upload_file(input_file).id
    hook.create_batch = lose_the_answer(kimi, hook.create_batch)
    batch, reattached = create_batch_once(
        hook, file_id, completion_window="24h", metadata=tags(), created_after=time.time() - 60
    )
    assert reattached
    assert kimi.stats()["batches_created"] == 1
    assert kimi.stats()["faults"] == {"lost": 1}
    assert batch.metadata[RUN_KEY_FIELD] == "k"


def test_a_second_create_with_the_same_tags_re_attaches(kimi, input_file):
    hook = KimiBatchHook()
    file_id = hook.upload_file(input_file).id
    first, first_reattached = create_batch_once(
        hook, file_id, completion_window="24h", metadata=tags(), created_after=None
    )
    second, second_reattached = create_batch_once(
        hook, file_id, completion_window="24h", metadata=tags(), created_after=None
    )
    other, other_reattached = create_batch_once(
        hook, file_id, completion_window="24h", metadata=tags(fingerprint="changed"), created_after=None
    )
    assert (first_reattached, second_reattached, other_reattached) == (False, True, False)
    assert second.id == first.id
    assert other.id != first.id
    assert kimi.stats()["batches_created"] == 2


def test_a_batch_that_ended_badly_is_not_re_attached(kimi, input_file):
    hook = KimiBatchHook()
    file_id = hook.upload_file(input_file).id
    batch = hook.create_batch(file_id, metadata=tags())
    kimi.expire(batch.id)
    assert find_batch(hook, "k", "f", created_after=None) is None


def test_the_search_stops_at_batches_older_than_the_run(kimi, input_file):
    hook = KimiBatchHook()
    hook.create_batch(hook.upload_file(input_file).id, metadata=tags())
    assert find_batch(hook, "k", "f", created_after=time.time() + 60) is None


def test_a_lost_upload_answer_reuses_the_file_that_landed(kimi, input_file):
    hook = KimiBatchHook()
    hook.upload_file = lose_the_answer(kimi, hook.upload_file)
    size = input_file.stat().st_size
    uploaded, reused = upload_once(hook, input_file, filename="in.tag.jsonl", size=size, purpose="batch")
    assert reused
    assert kimi.stats()["uploads"] == 1
    assert kimi.stats()["faults"] == {"lost": 1}
    again, reused_again = upload_once(hook, input_file, filename="in.tag.jsonl", size=size, purpose="batch")
    assert reused_again
    assert again.id == uploaded.id
    assert kimi.stats()["uploads"] == 1
