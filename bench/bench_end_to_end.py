"""The example DAG end to end against a local Kimi server with near-zero delays: what each stage costs.

Usage::

    uv run --group bench python bench/bench_end_to_end.py             # 3 runs
    uv run --group bench python bench/bench_end_to_end.py --runs 5 --poll 0.05

``example_dags/example_kimi_batch_classification.py`` (build_input -> upload -> create -> wait,
deferred -> download -> report) runs through Airflow's ``dag.test()`` in this process, against
the emulator with every batch delay at zero (``time_scale=0``), so what is left is the provider's
own work and Airflow's. A DAG of six empty tasks chained the same way runs first, through the
same machinery: its per-task time is Airflow's floor for a task, and "provider" is a stage's
time above that floor. Times come from the task instances' start and end (median of ``--runs``).
The wait's time includes the deferral: the trigger's polls at ``--poll`` seconds and the resume.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "example_dags"
DAG_ID = "example_kimi_batch_classification"
FLOOR_DAG_ID = "bench_empty_chain"
FLOOR_DAG = """
import pendulum
from airflow.providers.common.compat.sdk import dag, task


@dag(dag_id="bench_empty_chain", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def bench_empty_chain():
    @task
    def step(previous=None):
        return 1

    value = None
    for name in ("build_input", "upload", "create", "wait", "download", "report"):
        value = step.override(task_id=name)(value)


bench_empty_chain()
"""


def configure(home: Path, storage: Path, poll: float) -> None:
    """Airflow's settings must be in the environment before anything imports it."""
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(EXAMPLES),
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "KIMI_EXAMPLE_STORAGE": f"file://{storage}",
            "KIMI_EXAMPLE_POLL_SECONDS": str(poll),
        }
    )
    os.environ.pop("MOONSHOT_API_KEY", None)


def bundles(folder: Path) -> str:
    local = "airflow.dag_processing.bundles.local.LocalDagBundle"
    return json.dumps(
        [
            {"name": "dags-folder", "classpath": local, "kwargs": {}},
            {"name": f"{folder.name}-folder", "classpath": local, "kwargs": {"path": str(folder)}},
        ]
    )


def run_once(folder: Path, dag_id: str) -> tuple[float, dict[str, float], str]:
    """One ``dag.test()`` run: its wall time, each task's seconds, and the run's state."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils.session import create_session

    os.environ["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"] = bundles(folder)
    bag = DagBag(str(folder))
    if bag.import_errors:
        raise SystemExit(f"DAG import errors: {bag.import_errors}")
    start = time.perf_counter()
    run = bag.get_dag(dag_id).test()
    wall = time.perf_counter() - start
    with create_session() as session:
        tasks = {
            ti.task_id: (ti.end_date - ti.start_date).total_seconds()
            for ti in run.get_task_instances(session=session)
            if ti.start_date and ti.end_date
        }
    return wall, tasks, str(run.state)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs of each DAG; the median is shown")
    parser.add_argument("--poll", type=float, default=0.1, help="the wait's poll interval in seconds")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        home, storage, floor_dags = Path(scratch) / "home", Path(scratch) / "storage", Path(scratch) / "floor_dags"
        for folder in (home, storage, floor_dags):
            folder.mkdir()
        (floor_dags / "bench_empty_chain.py").write_text(FLOOR_DAG)
        configure(home, storage, args.poll)

        from airflow.utils import db

        from airflow_provider_kimi.emulator import EmulatorSettings, KimiEmulator
        from airflow_provider_kimi.emulator.connection import airflow_connection_env

        started = time.perf_counter()
        db.initdb()
        print(f"metadata DB migrated in {time.perf_counter() - started:.1f} s (not counted)")
        settings = EmulatorSettings(time_scale=0, tick_seconds=0.01, access_log=False, log_level="warning")
        with KimiEmulator(settings) as emulator:
            os.environ.update(airflow_connection_env(emulator.base_url, emulator.api_key))
            floor_runs = [run_once(floor_dags, FLOOR_DAG_ID) for _ in range(args.runs)]
            dag_runs = [run_once(EXAMPLES, DAG_ID) for _ in range(args.runs)]

    states = {state for _, _, state in floor_runs + dag_runs}
    if states != {"success"}:
        print(f"unexpected run states: {states}")
        return 1
    floor = {task: statistics.median(run[1][task] for run in floor_runs) for task in floor_runs[0][1]}
    floor_task = statistics.median(floor.values())
    print(
        f"{args.runs} runs each, median; python {sys.version.split()[0]}, emulator time_scale=0, poll {args.poll:g} s\n"
    )
    header = f"{'stage':<14} {'task s':>8} {'empty task s':>13} {'provider s':>11}"
    print(header)
    print("-" * len(header))
    order = ["build_input", "upload", "create", "wait", "download", "report"]
    total = 0.0
    for task in order:
        seconds = statistics.median(run[1][task] for run in dag_runs)
        total += seconds
        empty = floor.get(task, floor_task)
        print(f"{task:<14} {seconds:>8.3f} {empty:>13.3f} {seconds - empty:>11.3f}")
    dag_wall = statistics.median(run[0] for run in dag_runs)
    floor_wall = statistics.median(run[0] for run in floor_runs)
    print("-" * len(header))
    print(f"{'sum of tasks':<14} {total:>8.3f} {sum(floor.values()):>13.3f} {total - sum(floor.values()):>11.3f}")
    print(f"{'dag.test wall':<14} {dag_wall:>8.3f} {floor_wall:>13.3f} {dag_wall - floor_wall:>11.3f}")
    print(
        f"\nratio: the example DAG takes x{dag_wall / floor_wall:.2f} the wall time of six empty tasks; the "
        f"provider adds {dag_wall - floor_wall:.2f} s to a run, {(dag_wall - floor_wall) / len(order):.2f} s a stage."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
