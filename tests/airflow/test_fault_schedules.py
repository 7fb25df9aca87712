"""The classification example under seeded fault schedules: every answer once, one batch per run.

Each schedule starts a fresh local Kimi server that answers a share of its ``/v1`` calls with a
429 (and a ``retry-after``), a 500, a dropped connection, a lost answer (the work done, the answer
never sent) or a slow answer, and runs the whole example DAG against it with the connection's
default SDK retries. However the faults fall, the run must succeed, the downloaded results must
hold every ``custom_id`` of the input exactly once, and the server must have seen exactly one
upload and one batch.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from dag_runs import EXAMPLE_DAGS, migrated_db, run_dag

pytestmark = pytest.mark.timeout(300)

DAG_ID = "example_kimi_batch_classification"
EXPECTED_IDS = [f"text_{i}" for i in range(5)]
FAULTS = {"429": 0.05, "500": 0.05, "drop": 0.05, "lost": 0.05, "slow": 0.05}
# Schedules keep coming until this budget is spent (never fewer than the minimum); a run takes
# a few seconds, more when faults make the SDK back off.
BUDGET_SECONDS = 60.0
MIN_SCHEDULES = 8
MAX_SCHEDULES = 40


def custom_ids_in(url: str | None) -> list[str]:
    if not url:
        return []
    lines = Path(url.removeprefix("file://")).read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["custom_id"] for line in lines if line.strip()]


def problems_of_one_schedule(make_kimi: Any, seed: int) -> tuple[list[str], dict[str, int]]:
    """Run the example once under the schedule ``seed``; return what went wrong and the faults drawn."""
    kimi = make_kimi(faults=FAULTS, seed=seed, retry_after_seconds=0.02, slow_seconds=0.05)
    try:
        result = run_dag(DAG_ID, folder=EXAMPLE_DAGS)
        stats = kimi.stats()
    finally:
        kimi.stop()
    if result.state != "success":
        return [f"run ended {result.state}: {result.task_states}"], stats["faults"]
    problems: list[str] = []
    manifest = result.xcom("download")
    summary = manifest["summary"]
    counts = {key: summary[key] for key in ("succeeded", "failed", "missing", "unexpected", "duplicates")}
    if counts != {"succeeded": 5, "failed": 0, "missing": 0, "unexpected": 0, "duplicates": 0}:
        problems.append(f"summary {counts}")
    written = custom_ids_in(manifest["output_path"]) + custom_ids_in(manifest["error_path"])
    if sorted(written) != EXPECTED_IDS:
        problems.append(f"custom_ids in the downloaded files: {sorted(written)}")
    if sorted(result.xcom("report")) != EXPECTED_IDS:
        problems.append(f"custom_ids reported: {sorted(result.xcom('report'))}")
    if (stats["uploads"], stats["batches_created"]) != (1, 1):
        problems.append(f"{stats['uploads']} uploads and {stats['batches_created']} batches created")
    return problems, stats["faults"]


def test_the_classification_example_survives_seeded_fault_schedules(make_kimi, storage, monkeypatch, capsys):
    monkeypatch.setenv("KIMI_EXAMPLE_STORAGE", f"file://{storage}")
    monkeypatch.setenv("KIMI_EXAMPLE_POLL_SECONDS", "0.1")
    # The metadata database is made once per session: not a schedule's time.
    migrated_db()
    started = time.monotonic()
    failures: dict[int, list[str]] = {}
    faults_drawn: dict[str, int] = {}
    seeds: list[int] = []
    while len(seeds) < MAX_SCHEDULES and (len(seeds) < MIN_SCHEDULES or time.monotonic() - started < BUDGET_SECONDS):
        seed = 1000 + len(seeds)
        seeds.append(seed)
        problems, faults = problems_of_one_schedule(make_kimi, seed)
        for kind, count in faults.items():
            faults_drawn[kind] = faults_drawn.get(kind, 0) + count
        if problems:
            failures[seed] = problems
    elapsed = time.monotonic() - started
    line = (
        f"{len(seeds)} fault schedules run, {len(seeds) - len(failures)} survived "
        f"({elapsed:.0f} s; faults injected: {dict(sorted(faults_drawn.items()))})"
    )
    with capsys.disabled():
        print(f"\n{line}")
    # Every kind of fault must actually have been exercised, or the test proves nothing.
    assert set(faults_drawn) == set(FAULTS), line
    assert not failures, f"{line}\n" + "\n".join(f"seed {seed}: {p}" for seed, p in failures.items())
