"""The distributed stack, started once for the lane and stopped at its end.

PostgreSQL as the metadata DB, Redis as the broker, the CeleryExecutor with two Celery workers,
two triggerers, the scheduler, DAG processor and API server, S3 served by moto (every file that
crosses tasks is an ``s3://`` ``ObjectStoragePath``), and the local Kimi server. Each piece is a
real server in its own process on a free loopback port, so a test can SIGKILL exactly one.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))

from airflow_processes import EXAMPLE_DAG, TEST_DAGS, AirflowStack, start_kimi_server
from lane import BUCKET, DAG_IDS, JOB_PART_LINES, JOB_ROWS, OPENLINEAGE_EVENTS, TRIGGERERS, WORKERS, Distributed
from services import S3, Postgres, Redis


@pytest.fixture(scope="session")
def distributed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Distributed]:
    services_logs = tmp_path_factory.mktemp("services")
    postgres, redis, s3 = Postgres(services_logs), Redis(services_logs), S3(services_logs, BUCKET)
    stack: AirflowStack | None = None
    try:
        postgres.start()
        redis.start()
        s3.start()
        # A realistic account: Kimi's tier 1 (200 requests a minute, 50 at once), results in no
        # particular order (the server's default). Its access log shows every status it answered.
        with start_kimi_server(tmp_path_factory.mktemp("kimi-state"), "--tier", "1") as kimi:
            stack = AirflowStack(
                tmp_path_factory.mktemp("airflow-home"),
                kimi,
                database_url=postgres.url,
                executor="CeleryExecutor",
                extra_env={
                    **s3.env,
                    "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
                        {"conn_type": "aws", "extra": {"endpoint_url": s3.endpoint, "region_name": "us-east-1"}}
                    ),
                    "KIMI_EXAMPLE_STORAGE": f"s3://{BUCKET}/lane",
                    # The job example at a size that still splits into three parts.
                    "KIMI_EXAMPLE_JOB_ROWS": str(JOB_ROWS),
                    "KIMI_EXAMPLE_JOB_PART_LINES": str(JOB_PART_LINES),
                    "AIRFLOW__CELERY__BROKER_URL": redis.url,
                    "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + postgres.url,
                    "AIRFLOW__CORE__PARALLELISM": "8",
                    "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",  # the UI's "Test" button
                    "AIRFLOW__DATABASE__SQL_ALCHEMY_POOL_SIZE": "2",
                    "AIRFLOW__DATABASE__SQL_ALCHEMY_MAX_OVERFLOW": "8",
                    # A task whose worker died stops heartbeating: after this many seconds the
                    # scheduler fails that try, and its retry runs on the other worker.
                    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
                    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
                },
            )
            # OpenLineage's own file transport: every event a component emits, one JSON a line.
            stack.env["AIRFLOW__OPENLINEAGE__TRANSPORT"] = json.dumps(
                {"type": "file", "log_file_path": str(stack.home / OPENLINEAGE_EVENTS), "append": True}
            )
            stack.env["AIRFLOW__OPENLINEAGE__NAMESPACE"] = "kimi-lane"
            shutil.copy(EXAMPLE_DAG, stack.dags)
            shutil.copy(EXAMPLE_DAG.parent / "example_kimi_batch_job.py", stack.dags)
            shutil.copy(TEST_DAGS / "kimi_integration_create_retry.py", stack.dags)
            stack.airflow("db", "migrate", timeout=300)
            for name in ("api-server", "scheduler", "dag-processor"):
                stack.start(name)
            lane = Distributed(stack, kimi, s3, {})
            for name in TRIGGERERS:
                lane.start_triggerer(name)
            for name in WORKERS:
                lane.start_worker(name)
            stack.wait_ready(DAG_IDS, triggerers=len(TRIGGERERS))
            yield lane
    except BaseException:
        if stack is not None:
            print(stack.dump())
        raise
    finally:
        if stack is not None:
            stack.stop()
        for service in (s3, redis, postgres):
            service.stop()


@pytest.fixture(autouse=True)
def dump_logs_on_failure(request: pytest.FixtureRequest, distributed: Distributed) -> Iterator[None]:
    """Print every component's and task's log when a test fails."""
    yield
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        print(distributed.stack.dump(distributed.kimi))
