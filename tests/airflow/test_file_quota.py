"""A full file quota (Kimi's 400) fails the task at once and says how to make room."""

from __future__ import annotations

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_kimi.exceptions import KimiFileQuotaError
from airflow_provider_kimi.hooks.kimi import KimiBatchHook


def test_quota_400_is_permanent_and_names_the_count(make_kimi):
    kimi = make_kimi(max_batch_files=2)
    hook = KimiBatchHook()
    hook.upload_file(b"{}\n", filename="one.jsonl")
    hook.upload_file(b"{}\n", filename="two.jsonl")
    with pytest.raises(KimiFileQuotaError) as caught:
        hook.upload_file(b"{}\n", filename="three.jsonl")
    message = str(caught.value)
    assert isinstance(caught.value, AirflowFailException)  # Airflow does not retry it
    assert "exceeded the max file count" in message
    assert "sees 2 files (2 batch)" in message
    assert "delete_file(file_id)" in message
    # Sent once, never retried by the SDK either; the list is the count the message gives.
    assert kimi.stats()["requests"]["POST /v1/files"] == 3
    assert kimi.stats()["requests"]["GET /v1/files"] == 1


def test_other_400s_stay_as_they_were(make_kimi):
    import openai

    make_kimi()
    with pytest.raises(openai.BadRequestError):
        KimiBatchHook().upload_file(b"", filename="empty.jsonl")
