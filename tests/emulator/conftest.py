"""Fixtures that start the emulator on a free local port and stop it after the test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from openai import OpenAI

from airflow_provider_kimi.emulator import EmulatorSettings, KimiEmulator

# Instant batches and a quiet log unless a test asks otherwise.
FAST = {"time_scale": 0.0, "access_log": False, "log_level": "warning"}


@pytest.fixture(scope="session")
def _stopping() -> Iterator[list[KimiEmulator]]:
    """Emulators asked to stop; they wind down in the background and are joined at the end."""
    stopping: list[KimiEmulator] = []
    yield stopping
    for emu in stopping:
        emu.stop()


@pytest.fixture
def make_emulator(_stopping: list[KimiEmulator]) -> Iterator[Callable[..., KimiEmulator]]:
    """Start emulators with ``FAST`` settings plus overrides; all are stopped at teardown."""
    started: list[KimiEmulator] = []

    def make(**overrides: Any) -> KimiEmulator:
        emu = KimiEmulator(EmulatorSettings(**{**FAST, **overrides})).start()
        started.append(emu)
        return emu

    yield make
    for emu in started:
        emu.stop(wait=False)
        _stopping.append(emu)


@pytest.fixture(scope="module")
def emulator() -> Iterator[KimiEmulator]:
    """One instant emulator shared by a module's tests."""
    with KimiEmulator(EmulatorSettings(**FAST)) as emu:
        yield emu


@pytest.fixture
def client(emulator: KimiEmulator) -> OpenAI:
    return OpenAI(api_key=emulator.api_key, base_url=emulator.base_url, max_retries=0)
