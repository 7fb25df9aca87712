"""Run a test DAG through Airflow's own ``dag.test()`` and read back what its tasks left behind."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import Any
from unittest import mock

from packaging.version import Version

TESTS = Path(__file__).resolve().parent.parent
EXAMPLE_DAGS = TESTS.parent / "example_dags"

# The suite runs on both supported Airflow lines; the few places where their APIs differ ask this.
AIRFLOW_V_3 = Version(version("apache-airflow")).major >= 3


@cache
def migrated_db() -> None:
    """Create the metadata tables once per test session (about a second)."""
    from airflow.utils import db

    db.initdb()


@cache
def dag_bag() -> Any:
    return load_dag_bag(TESTS / "dags")


def load_dag_bag(folder: Path) -> Any:
    if AIRFLOW_V_3:
        from airflow.dag_processing.dagbag import DagBag
    else:
        from airflow.models.dagbag import DagBag

    bag = DagBag(str(folder))
    assert not bag.import_errors, bag.import_errors
    return bag


def bundles_env(folder: Path | None) -> dict[str, str]:
    """The DAG bundle setting that adds ``folder`` to the DAGs folder (Airflow 3 syncs DAGs by bundle;
    Airflow 2 has no bundles and runs a parsed DAG as it is)."""
    if folder is None or not AIRFLOW_V_3:
        return {}
    local = "airflow.dag_processing.bundles.local.LocalDagBundle"
    bundles = [
        {"name": "dags-folder", "classpath": local, "kwargs": {}},
        {"name": f"{folder.name}-folder", "classpath": local, "kwargs": {"path": str(folder)}},
    ]
    return {"AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps(bundles)}


@dataclass
class DagRunResult:
    """The end state of one run: its state, each task's state, and every XCom it pushed.

    A mapped task's XComs are also kept in ``mapped``, one value per map index, in order.
    """

    state: str
    task_states: dict[str, str]
    xcoms: dict[tuple[str, str], Any]
    mapped: dict[tuple[str, str], list[Any]] = field(default_factory=dict)

    def xcom(self, task_id: str, key: str = "return_value") -> Any:
        return self.xcoms[(task_id, key)]


def run_dag(dag_id: str, conf: dict[str, Any] | None = None, folder: Path | None = None) -> DagRunResult:
    """Run ``dag_id`` once, deferrals included (``dag.test()`` runs the trigger in line).

    The DAG comes from ``tests/dags``, or from ``folder`` parsed afresh (so DAG files that read
    the environment when parsed see the current one) and, on Airflow 3, registered as a DAG bundle of its own.
    """
    from airflow.utils.session import create_session
    from sqlalchemy import select

    migrated_db()
    bag = dag_bag() if folder is None else load_dag_bag(folder)
    with mock.patch.dict(os.environ, bundles_env(folder)):
        run = bag.get_dag(dag_id).test(run_conf=conf or {})
    xcom_model = _xcom_model()
    with create_session() as session:
        rows = session.execute(
            select(xcom_model.task_id, xcom_model.key, xcom_model.map_index, xcom_model.value)
            .where(xcom_model.run_id == run.run_id, xcom_model.dag_id == dag_id)
            .order_by(xcom_model.map_index)
        )
        xcoms: dict[tuple[str, str], Any] = {}
        mapped: dict[tuple[str, str], list[Any]] = {}
        for row in rows:
            xcoms[(row.task_id, row.key)] = value = xcom_model.deserialize_value(row)
            if row.map_index >= 0:
                mapped.setdefault((row.task_id, row.key), []).append(value)
        task_states = {ti.task_id: str(ti.state) for ti in run.get_task_instances(session=session)}
    return DagRunResult(state=str(run.state), task_states=task_states, xcoms=xcoms, mapped=mapped)


def _xcom_model() -> Any:
    """The ORM class of the ``xcom`` table, whose ``deserialize_value(row)`` reads a stored value.

    Rows are read as plain columns: Airflow 2 turns a loaded ORM row's value into its UI rendering.
    """
    if AIRFLOW_V_3:
        from airflow.models.xcom import XComModel

        return XComModel
    from airflow.models.xcom import XCom

    return XCom
