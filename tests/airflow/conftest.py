"""Fixtures for the Airflow layer: a local Kimi server wired in as ``kimi_default``, and a DAG runner."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airflow_provider_kimi.emulator import EmulatorSettings, KimiEmulator
from airflow_provider_kimi.emulator.connection import airflow_connection_env

QUIET = {"access_log": False, "log_level": "warning"}
# Fast, but slow enough that a sensor sees the batch still running and has to wait for it.
BRISK = {"time_scale": 0.05, **QUIET}


@pytest.fixture
def make_kimi(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., KimiEmulator]]:
    """Start a local Kimi server with the given settings and make it the ``kimi_default`` connection."""
    started: list[KimiEmulator] = []

    def make(conn_id: str = "kimi_default", **overrides: Any) -> KimiEmulator:
        emulator = KimiEmulator(EmulatorSettings(**{**BRISK, **overrides})).start()
        started.append(emulator)
        for name, value in airflow_connection_env(emulator.base_url, emulator.api_key, conn_id).items():
            monkeypatch.setenv(name, value)
        return emulator

    yield make
    for emulator in started:
        emulator.stop()


@pytest.fixture
def kimi(make_kimi: Callable[..., KimiEmulator]) -> KimiEmulator:
    """A brisk local Kimi server as ``kimi_default``."""
    return make_kimi()


@pytest.fixture
def storage(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Where test DAGs write their files, as an ``ObjectStoragePath`` URL."""
    monkeypatch.setenv("KIMI_TEST_STORAGE", f"file://{tmp_path}")
    return tmp_path


@pytest.fixture
def task_output(capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> Callable[[], str]:
    """Everything the tasks wrote, whether Airflow sent it to the console or to Python logging."""

    def read() -> str:
        out, err = capfd.readouterr()
        return out + err + caplog.text

    return read
