"""Fixtures for the real-engine tests: a local Kimi server and Airflow's components as processes.

Both DAGs share one stack per module (starting Airflow costs far more than a DAG run); tests read
the Kimi server's counters as differences, before and after their own run.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator

import httpx
import pytest
from airflow_processes import (
    API_KEY,
    BIN,
    EXAMPLE_DAG,
    STARTUP_SECONDS,
    TEST_DAGS,
    AirflowStack,
    Component,
    KimiServer,
    free_port,
    wait_for,
)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep each phase's report on the test item, so a fixture can tell that its test failed."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"report_{report.when}", report)


@pytest.fixture(scope="module")
def kimi_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KimiServer]:
    """``kimi-batch emulator`` in its own process, holding every new batch until a test releases it.

    Holding (rather than a slow time scale) makes the wait as long as the test needs and no
    longer; the short time scale makes everything else (validation, finalizing) near instant.
    """
    state = tmp_path_factory.mktemp("kimi-state")
    port = free_port()
    argv = [
        str(BIN / "kimi-batch"),
        "emulator",
        "--port",
        str(port),
        "--state-dir",
        str(state),
        "--api-key",
        API_KEY,
        "--time-scale",
        "0.05",
        "--hold-new-batches-after",
        "0",
        "--quiet",
    ]
    server = KimiServer(Component("kimi-emulator", argv, dict(os.environ), state).start(), port)
    try:

        def answers() -> bool:
            assert server.component.alive, f"the Kimi server exited:\n{server.component.tail()}"
            with contextlib.suppress(httpx.HTTPError):
                return bool(server.stats())
            return False

        wait_for("the Kimi server to answer", answers, timeout=30, interval=0.2)
        yield server
    finally:
        server.close()


@pytest.fixture(scope="module")
def airflow_stack(tmp_path_factory: pytest.TempPathFactory, kimi_server: KimiServer) -> Iterator[AirflowStack]:
    """A migrated SQLite metadata DB and the API server, scheduler, DAG processor and triggerer running.

    The API server is part of it because Airflow 3's tasks talk to the Execution API, never to the
    DB. Ready means: the API answers, a scheduler and a triggerer heartbeat, and both DAGs are parsed.
    """
    stack = AirflowStack(tmp_path_factory.mktemp("airflow-home"), kimi_server)
    shutil.copy(EXAMPLE_DAG, stack.dags)
    for dag_file in TEST_DAGS.glob("*.py"):
        shutil.copy(dag_file, stack.dags)
    try:
        stack.airflow("db", "migrate")
        for name in ("api-server", "scheduler", "dag-processor", "triggerer"):
            stack.start(name)

        def ready() -> bool:
            for component in stack.components.values():
                assert component.alive, f"{component.name} exited:\n{component.tail()}"
            with contextlib.suppress(httpx.HTTPError):
                health = stack.http.get(f"{stack.api_url}/api/v2/monitor/health").json()
                parsed = {row["dag_id"] for row in stack.query("SELECT dag_id FROM serialized_dag")}
                return (
                    health["scheduler"]["status"] == "healthy"
                    and health["triggerer"]["status"] == "healthy"
                    and {"example_kimi_batch_classification", "kimi_integration_create_retry"} <= parsed
                )
            return False

        wait_for("Airflow's components to be ready", ready, timeout=STARTUP_SECONDS, interval=1)
        yield stack
    except BaseException:
        print(stack.dump())
        raise
    finally:
        stack.stop()


@pytest.fixture(autouse=True)
def dump_airflow_logs_on_failure(request: pytest.FixtureRequest, airflow_stack: AirflowStack) -> Iterator[None]:
    """Print the components' and tasks' logs when a test fails: a scheduler's story is in its log."""
    yield
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        print(airflow_stack.dump())
        with contextlib.suppress(httpx.HTTPError):
            stats = request.getfixturevalue("kimi_server").stats()
            print("===== Kimi server stats =====\n" + json.dumps(stats, indent=1))
