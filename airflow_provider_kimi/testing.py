"""A pytest plugin for testing DAGs that use this provider against a local Kimi server.

Installed with the provider (entry point ``pytest11``), it gives every test suite two fixtures:

- ``kimi_emulator``: a running local Kimi Batch API server, one for the whole test session,
  with ``base_url``, ``api_key`` and helpers to list batches and files and to finish, expire or
  hold a batch. Its settings come from the ``kimi_emulator_settings`` fixture (override it in a
  ``conftest.py``); a test that needs other settings (faults, a tier, a time scale, scripted
  replies, invalid JSON answers) gets a server of its own with
  ``@pytest.mark.kimi_emulator(tier=0, faults={"500": 0.2})``, or through
  ``@pytest.mark.parametrize("kimi_emulator", [{"tier": 0}], indirect=True)``, or changes the
  shared one for itself with ``kimi_emulator.configure(tier=0)``. Every test starts on a clean
  server: the shared one is reset before each test (no files, batches, holds, faults or counts
  left by an earlier test, and its settings as the session started it).
- ``kimi_connection``: points the ``kimi_default`` Airflow connection at that server for the
  test (through ``AIRFLOW_CONN_KIMI_DEFAULT``) and returns the connection id.

Nothing here imports Airflow, so the plugin loads before a suite has configured it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_provider_kimi.batch.errors import KimiTypeError
from airflow_provider_kimi.emulator import EmulatorSettings, KimiEmulator
from airflow_provider_kimi.emulator.connection import airflow_connection_env

MARKER = "kimi_emulator"
DEFAULT_TEST_SETTINGS = EmulatorSettings(time_scale=0.0, access_log=False, log_level="warning")
"""Batches finish as fast as the machine allows, and the server keeps quiet."""


class KimiEmulatorHandle:
    """A running local Kimi server, as a test sees it."""

    def __init__(self, emulator: KimiEmulator) -> None:
        self.emulator = emulator

    @property
    def base_url(self) -> str:
        """The base URL a client or connection uses (``http://127.0.0.1:<port>/v1``)."""
        return self.emulator.base_url

    @property
    def api_key(self) -> str:
        """The key the server accepts."""
        return self.emulator.api_key

    @property
    def settings(self) -> EmulatorSettings:
        return self.emulator.settings

    def stats(self) -> dict[str, Any]:
        """The server's own counters: uploads, batches created, calls per route, faults, 429s."""
        return self.emulator.stats()

    def list_batches(self) -> list[dict[str, Any]]:
        """Every batch the server holds, newest first, as the API shows them."""
        batches, _ = self.emulator.engine.list(None, max(1, len(self.emulator.store.batches)))
        return batches

    def list_files(self) -> list[dict[str, Any]]:
        """Every file the server holds (inputs, media, results), as the API shows them."""
        with self.emulator.store.lock:
            records = list(self.emulator.store.files.values())
        return [record.to_api(self.settings.file_status) for record in records]

    def finish(self, batch_id: str) -> dict[str, Any]:
        """Skip every remaining delay of a batch, so it completes on the next read."""
        return self.emulator.rush(batch_id)

    def expire(self, batch_id: str) -> dict[str, Any]:
        """Let the batch's completion window pass now (finished requests keep their results)."""
        return self.emulator.expire(batch_id)

    def hold(self, batch_id: str, after_requests: int | None = None) -> dict[str, Any]:
        """Freeze a batch now, or once ``after_requests`` requests are done."""
        return self.emulator.hold(batch_id, after_requests)

    def release(self, batch_id: str) -> dict[str, Any]:
        """Let a held batch carry on."""
        return self.emulator.release(batch_id)

    def hold_new_batches(self, after_requests: int | None) -> None:
        """Batches created from now on hold after that many requests (``None`` to stop)."""
        self.emulator.hold_new_batches(after_requests)

    def set_faults(self, faults: dict[str, float], seed: int | None = None) -> None:
        """Change the share of calls answered with faults (``{}`` ends the outage)."""
        self.emulator.set_faults(faults, seed)

    def configure(self, **changes: Any) -> EmulatorSettings:
        """Change the running server's settings (``tier=0``, ``time_scale=1.0``...) for this test."""
        return self.emulator.configure(**changes)

    def reset(self) -> None:
        """Back to a server just started: what the plugin does before every test."""
        self.emulator.reset()

    def answer_count(self, custom_id: str) -> int:
        """How many times the server answered ``custom_id`` (counted with ``invalid_json_rate`` or
        ``replies`` set)."""
        with self.emulator.store.lock:
            return self.emulator.store.answer_counts.get(custom_id, 0)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**settings): EmulatorSettings fields for a kimi_emulator of this test's own "
        "(e.g. tier=0, faults={'500': 0.2}, time_scale=0.1, invalid_json_rate=0.2, replies='mymod:reply')",
    )


@pytest.fixture(scope="session")
def kimi_emulator_settings() -> EmulatorSettings:
    """The settings of the session's local Kimi server; override this fixture to change them."""
    return DEFAULT_TEST_SETTINGS


@pytest.fixture(scope="session")
def kimi_session_emulator(kimi_emulator_settings: EmulatorSettings) -> Iterator[KimiEmulatorHandle]:
    """The local Kimi server shared by every test of the session that needs no settings of its own."""
    with KimiEmulator(kimi_emulator_settings) as emulator:
        yield KimiEmulatorHandle(emulator)


def _overrides(request: pytest.FixtureRequest) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    marker = request.node.get_closest_marker(MARKER)
    if marker is not None:
        overrides.update(marker.kwargs)
    param = getattr(request, "param", None)
    if param is not None:
        if not isinstance(param, dict):
            raise KimiTypeError(
                f"kimi_emulator takes a dict of EmulatorSettings fields as its parameter, got {param!r}"
            )
        overrides.update(param)
    return overrides


@pytest.fixture
def kimi_emulator(
    request: pytest.FixtureRequest, kimi_emulator_settings: EmulatorSettings
) -> Iterator[KimiEmulatorHandle]:
    """A running local Kimi server: the session's, or one of the test's own when it asks for settings."""
    overrides = _overrides(request)
    if not overrides:
        shared: KimiEmulatorHandle = request.getfixturevalue("kimi_session_emulator")
        shared.reset()
        yield shared
        return
    with KimiEmulator(dataclasses.replace(kimi_emulator_settings, **overrides)) as emulator:
        yield KimiEmulatorHandle(emulator)


@pytest.fixture
def kimi_connection(kimi_emulator: KimiEmulatorHandle, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point the ``kimi_default`` Airflow connection at ``kimi_emulator`` for this test; its id."""
    for name, value in airflow_connection_env(kimi_emulator.base_url, kimi_emulator.api_key).items():
        monkeypatch.setenv(name, value)
    return "kimi_default"
