"""Run a test DAG through Airflow's own ``dag.test()`` and read back what its tasks left behind."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent.parent


@cache
def migrated_db() -> None:
    """Create the metadata tables once per test session (about a second)."""
    from airflow.utils import db

    db.initdb()


@cache
def dag_bag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(TESTS / "dags"))
    assert not bag.import_errors, bag.import_errors
    return bag


@dataclass
class DagRunResult:
    """The end state of one run: its state, each task's state, and every XCom it pushed."""

    state: str
    task_states: dict[str, str]
    xcoms: dict[tuple[str, str], Any]

    def xcom(self, task_id: str, key: str = "return_value") -> Any:
        return self.xcoms[(task_id, key)]


def run_dag(dag_id: str, conf: dict[str, Any] | None = None) -> DagRunResult:
    """Run ``dag_id`` once, deferrals included (``dag.test()`` runs the trigger in line)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    migrated_db()
    run = dag_bag().get_dag(dag_id).test(run_conf=conf or {})
    with create_session() as session:
        rows = session.scalars(select(XComModel).where(XComModel.run_id == run.run_id, XComModel.dag_id == dag_id))
        xcoms = {(row.task_id, row.key): XComModel.deserialize_value(row) for row in rows}
        task_states = {ti.task_id: str(ti.state) for ti in run.get_task_instances(session=session)}
    return DagRunResult(state=str(run.state), task_states=task_states, xcoms=xcoms)
