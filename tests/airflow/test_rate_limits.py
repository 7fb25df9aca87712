"""The provider keeps under an account rate limit it only learns from the server's headers."""

from __future__ import annotations

import time
from typing import Any

import pytest
from dag_runs import EXAMPLE_DAGS, run_dag

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def example_env(storage: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("KIMI_EXAMPLE_STORAGE", f"file://{storage}")
    monkeypatch.setenv("KIMI_EXAMPLE_POLL_SECONDS", "0.1")
    return storage


def calls(stats: dict[str, Any]) -> int:
    return sum(stats["requests"].values())


def test_classification_example_at_20_rpm_gets_no_429(make_kimi, example_env):
    # The batch runs about 6 s; polled every 0.1 s that is far above 20 calls a minute.
    kimi = make_kimi(time_scale=0.5, rpm=20)
    started = time.monotonic()
    result = run_dag("example_kimi_batch_classification", None, folder=EXAMPLE_DAGS)
    assert result.state == "success", result.task_states
    stats = kimi.stats()
    assert stats["rate_limited"] == 0
    assert result.xcom("wait")["request_counts"] == {"total": 5, "completed": 5, "failed": 0}
    print(f"{calls(stats)} calls in {time.monotonic() - started:.1f} s", stats["requests"])
