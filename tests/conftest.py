"""Airflow runs from a throwaway home with SQLite: configured here, before anything imports it."""

from __future__ import annotations

import importlib.util
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

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

# The distributed lane (tests/distributed) needs its own environment (Celery, PostgreSQL's driver,
# moto, Playwright: `make test-distributed`); the other environments leave it out.
collect_ignore = [] if importlib.util.find_spec("moto") and importlib.util.find_spec("celery") else ["distributed"]


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep each phase's report on the test item, so a fixture can tell that its test failed."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    setattr(item, f"report_{report.when}", report)
