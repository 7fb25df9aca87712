"""Airflow runs from a throwaway home with SQLite: configured here, before anything imports it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

TESTS = Path(__file__).resolve().parent
AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="kimi-tests-airflow-"))

os.environ.update(
    {
        "AIRFLOW_HOME": str(AIRFLOW_HOME),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{AIRFLOW_HOME}/airflow.db",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(TESTS / "dags"),
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    }
)
# A key in the environment would win over nothing and reach Kimi: tests never do.
os.environ.pop("MOONSHOT_API_KEY", None)
os.environ.pop("MOONSHOT_BASE_URL", None)
