"""Run a test DAG through Airflow's own ``dag.test()`` and read back what its tasks left behind."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from unittest import mock

TESTS = Path(__file__).resolve().parent.parent
EXAMPLE_DAGS = TESTS.parent / "example_dags"


@cache
def migrated_db() -> None:
    """Create the metadata tables once per test session (about a second)."""
    from airflow.utils import db

    db.initdb()


@cache
def dag_bag() -> Any:
    return load_dag_bag(TESTS / "dags")


def load_dag_bag(folder: Path) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(folder))
    assert not bag.import_errors, bag.import_errors
    return bag


def bundles_env(folder: Path | None) -> dict[str, str]:
    """The DAG bundle setting that adds ``folder`` to the DAGs folder (Airflow 3 syncs DAGs by bundle)."""
    if folder is None:
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
    the environment when parsed see the current one) and registered as a DAG bundle of its own.
    """
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    migrated_db()
    bag = dag_bag() if folder is None else load_dag_bag(folder)
    with mock.patch.dict(os.environ, bundles_env(folder)):
        run = bag.get_dag(dag_id).test(run_conf=conf or {})
    with create_session() as session:
        rows = session.scalars(
            select(XComModel)
            .where(XComModel.run_id == run.run_id, XComModel.dag_id == dag_id)
            .order_by(XComModel.map_index)
        )
        xcoms: dict[tuple[str, str], Any] = {}
        mapped: dict[tuple[str, str], list[Any]] = {}
        for row in rows:
            xcoms[(row.task_id, row.key)] = value = XComModel.deserialize_value(row)
            if row.map_index >= 0:
                mapped.setdefault((row.task_id, row.key), []).append(value)
        task_states = {ti.task_id: str(ti.state) for ti in run.get_task_instances(session=session)}
    return DagRunResult(state=str(run.state), task_states=task_states, xcoms=xcoms, mapped=mapped)
