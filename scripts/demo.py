"""Run the classification example DAG through Airflow, end to end.

Without ``MOONSHOT_API_KEY`` the DAG talks to a local Kimi Batch API server started here; with it,
to Kimi itself (``MOONSHOT_BASE_URL`` picks the endpoint, default the international one). Airflow
runs from a throwaway home with SQLite; the wait is deferred to the trigger as in production.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
DAG_ID = "example_kimi_batch_classification"
# The provider's own loggers: the tasks' operators, sensors and hooks, and the trigger.
PROVIDER_LOGGERS = (
    "airflow_provider_kimi",
    "airflow.task.operators.airflow_provider_kimi",
    "airflow.task.hooks.airflow_provider_kimi",
)


def logging_settings(level: str) -> dict[str, str]:
    """Airflow's log level; below INFO's detail, the provider's stage lines stay, message only."""
    settings = {"AIRFLOW__LOGGING__LOGGING_LEVEL": level}
    if level in ("WARNING", "ERROR", "CRITICAL"):
        settings["AIRFLOW__LOGGING__NAMESPACE_LEVELS"] = " ".join(f"{name}=INFO" for name in PROVIDER_LOGGERS)
        settings["AIRFLOW__LOGGING__LOG_FORMAT"] = "%(message)s"
    return settings


def prepare_airflow_home() -> Path:
    """Configure Airflow through the environment before it is imported."""
    home = Path(tempfile.mkdtemp(prefix="kimi-demo-airflow-"))
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home}/airflow.db",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "example_dags"),
            # A key of its own, or Airflow warns that connections would be stored in clear.
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            **logging_settings(os.environ.get("KIMI_DEMO_LOG_LEVEL", "WARNING").strip().upper()),
        }
    )
    os.environ.setdefault("KIMI_EXAMPLE_STORAGE", f"file://{home}/storage")
    return home


@contextlib.contextmanager
def kimi_endpoint() -> Iterator[str]:
    """Yield a description of where requests go; start the local server when there is no key."""
    if os.environ.get("MOONSHOT_API_KEY"):
        os.environ.setdefault("KIMI_EXAMPLE_POLL_SECONDS", "30")
        yield os.environ.get("MOONSHOT_BASE_URL", "https://api.moonshot.ai/v1")
        return
    from airflow_provider_kimi.emulator import EmulatorSettings, KimiEmulator
    from airflow_provider_kimi.emulator.connection import airflow_connection_env

    # Tier 1, as a new batch-capable account: 200 requests a minute, 50 in flight, per key.
    settings = EmulatorSettings(time_scale=0.5, tier=1, access_log=False, log_level="warning")
    with KimiEmulator(settings) as emulator:
        os.environ.update(airflow_connection_env(emulator.base_url, emulator.api_key))
        os.environ.setdefault("KIMI_EXAMPLE_POLL_SECONDS", "1")
        yield f"the local Kimi Batch API server at {emulator.base_url}"


def main() -> int:
    prepare_airflow_home()
    with kimi_endpoint() as where:
        print(f"Running {DAG_ID} against {where}", flush=True)
        from airflow.dag_processing.dagbag import DagBag
        from airflow.utils import db

        db.initdb()
        bag = DagBag(str(ROOT / "example_dags"))
        if bag.import_errors:
            print(f"DAG import errors: {bag.import_errors}", file=sys.stderr)
            return 1
        run = bag.get_dag(DAG_ID).test()
    print(f"DAG run {run.run_id} ended {run.state}")
    return 0 if str(run.state) == "success" else 1


if __name__ == "__main__":
    sys.exit(main())
