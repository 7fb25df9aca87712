"""Provider metadata that Airflow reads through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

from airflow_provider_kimi import __version__


def get_provider_info() -> dict[str, Any]:
    """Describe the package to Airflow's providers manager: hooks, connection type, links."""
    return {
        "package-name": "airflow-provider-kimi",
        "name": "Kimi",
        "description": "Moonshot's Kimi Batch API: run thousands of Kimi chat requests at the batch price.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Kimi",
                "external-doc-url": "https://platform.moonshot.ai/docs",
                "tags": ["ai"],
            }
        ],
        "hooks": [
            {"integration-name": "Kimi", "python-modules": ["airflow_provider_kimi.hooks.kimi"]},
        ],
        "operators": [
            {
                "integration-name": "Kimi",
                "python-modules": ["airflow_provider_kimi.operators.kimi", "airflow_provider_kimi.operators.download"],
            },
        ],
        "sensors": [
            {"integration-name": "Kimi", "python-modules": ["airflow_provider_kimi.sensors.kimi"]},
        ],
        "triggers": [
            {"integration-name": "Kimi", "python-modules": ["airflow_provider_kimi.triggers.kimi"]},
        ],
        "connection-types": [
            {"hook-class-name": "airflow_provider_kimi.hooks.kimi.KimiBatchHook", "connection-type": "kimi"},
        ],
    }
