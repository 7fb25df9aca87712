"""A DAG whose tasks each get one bad argument from the run's conf, and must refuse it at run time.

The tasks do not depend on each other, so one run shows every refusal: a completion window and
metadata Kimi would refuse, and ids (file, batch) that do not exist.
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.compat.sdk import DAG

from airflow_provider_kimi.operators import (
    KimiCancelBatchOperator,
    KimiCreateBatchOperator,
    KimiDownloadResultsOperator,
)
from airflow_provider_kimi.sensors.kimi import KimiBatchSensor

START = pendulum.datetime(2026, 1, 1, tz="UTC")

with DAG(
    "kimi_bad_runtime_arguments",
    schedule=None,
    start_date=START,
    catchup=False,
    render_template_as_native_obj=True,
):
    KimiCreateBatchOperator(
        task_id="create_with_bad_window",
        input_file_id="{{ dag_run.conf['file_id'] }}",
        completion_window="{{ dag_run.conf['window'] }}",
    )
    KimiCreateBatchOperator(
        task_id="create_with_bad_metadata",
        input_file_id="{{ dag_run.conf['file_id'] }}",
        metadata="{{ dag_run.conf['metadata'] }}",
    )
    KimiCreateBatchOperator(task_id="create_from_unknown_file", input_file_id="{{ dag_run.conf['file_id'] }}")
    KimiBatchSensor(
        task_id="wait_for_unknown_batch",
        batch_id="{{ dag_run.conf['batch_id'] }}",
        deferrable=True,
        poke_interval=0.1,
        timeout=30,
    )
    KimiCancelBatchOperator(task_id="cancel_unknown_batch", batch_id="{{ dag_run.conf['batch_id'] }}")
    KimiDownloadResultsOperator(
        task_id="download_unknown_batch",
        batch="{{ dag_run.conf['batch_id'] }}",
        destination="{{ dag_run.conf['results'] }}",
    )
