"""Point an Airflow ``kimi`` connection at a running emulator, through the environment.

Airflow reads ``AIRFLOW_CONN_<ID>`` variables as connections, so a test or a demo needs no
metadata database entry and no Airflow import here.
"""

from __future__ import annotations

import json


def airflow_connection_env(base_url: str, api_key: str, conn_id: str = "kimi_default") -> dict[str, str]:
    """The environment variable that defines connection ``conn_id`` as this server."""
    value = json.dumps({"conn_type": "kimi", "host": base_url, "password": api_key})
    return {f"AIRFLOW_CONN_{conn_id.upper()}": value}
