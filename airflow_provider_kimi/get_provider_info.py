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
                "python-modules": [
                    "airflow_provider_kimi.operators.kimi",
                    "airflow_provider_kimi.operators.download",
                    "airflow_provider_kimi.operators.files",
                    "airflow_provider_kimi.operators.job",
                ],
            },
        ],
        "sensors": [
            {"integration-name": "Kimi", "python-modules": ["airflow_provider_kimi.sensors.kimi"]},
        ],
        "triggers": [
            {"integration-name": "Kimi", "python-modules": ["airflow_provider_kimi.triggers.kimi"]},
        ],
        "connection-types": [
            {
                "hook-class-name": "airflow_provider_kimi.hooks.kimi.KimiBatchHook",
                "hook-name": "Kimi",
                "connection-type": "kimi",
                "conn-fields": {
                    "timeout": {
                        "label": "Timeout (seconds)",
                        "schema": {"type": ["number", "null"], "minimum": 0},
                        "description": "Seconds each request may take. Default 60.",
                    },
                    "max_retries": {
                        "label": "Max retries",
                        "schema": {"type": ["integer", "null"], "minimum": 0},
                        "description": "Retries of 408/409/429/5xx answers, honouring retry-after. Default 3.",
                    },
                    "max_requests_per_minute": {
                        "label": "Max requests per minute",
                        "schema": {"type": ["number", "null"], "minimum": 0},
                        "description": (
                            "The request budget all deferred waits of this connection share in one "
                            "triggerer (Kimi's Tier1 allows 200 a minute). 0 for no limit. Default 200."
                        ),
                    },
                },
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port", "login"],
                    "relabeling": {"password": "API Key", "host": "Base URL"},
                    "placeholders": {
                        "host": "https://api.moonshot.ai/v1 (China accounts: https://api.moonshot.cn/v1)",
                        "password": "sk-...",
                    },
                },
            },
        ],
        "extra-links": ["airflow_provider_kimi.links.KimiBatchConsoleLink"],
    }
