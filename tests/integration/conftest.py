"""Fixtures for the real-engine tests: a local Kimi server and Airflow's components as processes.

Both DAGs share one stack per module (starting Airflow costs far more than a DAG run); tests read
the Kimi server's counters as differences, before and after their own run.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from airflow_processes import (
    EXAMPLE_DAG,
    TEST_DAGS,
    AirflowStack,
    KimiServer,
    start_kimi_server,
)


@pytest.fixture(scope="module")
def kimi_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KimiServer]:
    """The local Kimi server in its own process, holding every new batch until a test releases it."""
    with start_kimi_server(tmp_path_factory.mktemp("kimi-state"), "--quiet") as server:
        yield server


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

        stack.wait_ready({"example_kimi_batch_classification", "kimi_integration_create_retry"})
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
        print(airflow_stack.dump(request.getfixturevalue("kimi_server")))
