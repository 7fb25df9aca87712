"""``make demo`` reads at a glance: one line per stage, then the results table and the cost line."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

REPO = Path(__file__).resolve().parents[2]
SCREEN_LINES = 40


def clean_env() -> dict[str, str]:
    """The user's shell: none of the test suite's Airflow settings, no Kimi key."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MOONSHOT", "KIMI_"))}


def test_the_demo_fits_one_screen_with_its_stages_table_and_cost() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "demo.py")],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=360,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    lines = output.splitlines()
    assert len(lines) <= SCREEN_LINES, output
    assert not [line for line in lines if re.search(r"\[(info|debug)\s*\]", line)], "Airflow's INFO logs leaked"

    stages = [
        r"^Uploaded .* as file \w+",
        r"^Created batch \w+ from file \w+",
        r"^Batch \w+: in_progress, \d+/5 completed",
        r"^Downloaded output file \w+ to ",
    ]
    positions = [next(i for i, line in enumerate(lines) if re.search(stage, line)) for stage in stages]
    assert positions == sorted(positions), "the stages are reported in the order they happen"

    header = next(i for i, line in enumerate(lines) if line.split()[:3] == ["custom_id", "category", "tokens"])
    rows = lines[header + 1 : header + 6]
    assert [row.split()[0] for row in rows] == [f"text_{i}" for i in range(5)]
    assert re.match(r"5 succeeded, 0 failed; .* estimated \$[\d.]+ at the batch price", lines[header + 6])
    assert lines[-1].endswith("ended success")
