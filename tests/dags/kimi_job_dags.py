"""DAGs that run ``kimi_batch_job`` with ``dag.test()``: split, rounds, merge and cleanup as tasks.

The texts come from the run's conf (``texts``); files go under ``KIMI_TEST_STORAGE``; results
under the conf's ``results``.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from typing import Any

import pendulum
from airflow.providers.common.compat.sdk import DAG, ObjectStoragePath, task

from airflow_provider_kimi.batch.builders import prompt_requests
from airflow_provider_kimi.batch.writer import write_requests
from airflow_provider_kimi.task_group import kimi_batch, kimi_batch_job

POLL = 0.1
START = pendulum.datetime(2026, 1, 1, tz="UTC")


@task
def build_job_input(dag_run: Any = None, run_id: str | None = None) -> str:
    """The conf's texts as request lines, ids ``text-000``, ``text-001``..."""
    conf = dag_run.conf or {}
    folder = ObjectStoragePath(os.environ["KIMI_TEST_STORAGE"]) / re.sub(r"[^\w.-]", "_", str(run_id))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "requests.jsonl"
    texts = conf.get("texts", ["one", "two", "three"])
    rows = ({"id": f"text-{number:03d}", "text": text} for number, text in enumerate(texts))
    write_requests(
        prompt_requests(
            rows,
            system_prompt="Classify into: Literature/News/Technology",
            template="{text}",
            custom_id_column="id",
            model=conf.get("model", "kimi-k2.5"),
        ),
        path,
    )
    return str(path)


for dag_id, retries in (("kimi_job", 0), ("kimi_job_retried", 8)):
    with DAG(
        dag_id,
        schedule=None,
        start_date=START,
        catchup=False,
        default_args={"retries": retries, "retry_delay": timedelta(seconds=0)},
    ):
        kimi_batch_job(
            input_path=build_job_input(),
            destination="{{ dag_run.conf['results'] }}",
            group_id="job",
            completion_window="12h",
            max_part_lines=8,
            max_rounds=3,
            poll_interval=POLL,
        )

with DAG("kimi_job_no_cleanup", schedule=None, start_date=START, catchup=False):
    kimi_batch_job(
        input_path=build_job_input(),
        destination="{{ dag_run.conf['results'] }}",
        group_id="job",
        max_rounds=2,
        cleanup=False,
        results_format="parquet",
        poll_interval=POLL,
    )

with DAG("kimi_job_strict", schedule=None, start_date=START, catchup=False):
    kimi_batch_job(
        input_path=build_job_input(),
        destination="{{ dag_run.conf['results'] }}",
        group_id="job",
        max_rounds=1,
        max_failed_ratio=0.0,
        poll_interval=POLL,
    )

with DAG("kimi_job_cost_cap", schedule=None, start_date=START, catchup=False):
    kimi_batch_job(
        input_path=build_job_input(),
        destination="{{ dag_run.conf['results'] }}",
        group_id="job",
        max_cost_usd=0.0001,
        poll_interval=POLL,
    )

with DAG("kimi_task_group_cleanup", schedule=None, start_date=START, catchup=False):
    kimi_batch(
        input_path=build_job_input(),
        destination="{{ dag_run.conf['results'] }}",
        poll_interval=POLL,
        cleanup=True,
    )
