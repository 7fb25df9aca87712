"""A local Kimi Batch and Files API server for offline development, demos and tests.

from airflow_provider_kimi.emulator import EmulatorSettings, KimiEmulator

with KimiEmulator(EmulatorSettings(time_scale=0)) as emu:
    client = OpenAI(api_key=emu.api_key, base_url=emu.base_url)
"""

from __future__ import annotations

from airflow_provider_kimi.emulator.server import KimiEmulator
from airflow_provider_kimi.emulator.settings import EmulatorSettings, parse_faults

__all__ = ["EmulatorSettings", "KimiEmulator", "parse_faults"]
