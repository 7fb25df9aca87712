"""The provider keeps under an account rate limit it only learns from the server's headers."""

from __future__ import annotations

from typing import Any

import pytest
from dag_runs import EXAMPLE_DAGS, run_dag

pytestmark = pytest.mark.timeout(300)
POLL_SECONDS = 0.1


@pytest.fixture
def example_env(storage: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("KIMI_EXAMPLE_STORAGE", f"file://{storage}")
    monkeypatch.setenv("KIMI_EXAMPLE_POLL_SECONDS", str(POLL_SECONDS))
    return storage


@pytest.mark.kimi_emulator(rpm=20, time_scale=0.5)
def test_classification_example_at_20_rpm_gets_no_429(kimi_emulator, kimi_connection, example_env):
    result = run_dag("example_kimi_batch_classification", None, folder=EXAMPLE_DAGS)
    assert result.state == "success", result.task_states
    batch = result.xcom("wait")
    assert batch["request_counts"] == {"total": 5, "completed": 5, "failed": 0}
    # Polled every 0.1 s for the seconds the batch ran, the wait alone would ask far more than
    # 20 times a minute: the clients kept under the limit they learned, and the server says so.
    assert (batch["completed_at"] - batch["created_at"]) / POLL_SECONDS > 20
    stats = kimi_emulator.stats()
    assert stats["rate_limited"] == 0
    assert stats["faults"] == {}
