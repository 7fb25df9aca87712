"""The Kimi client, with no Airflow import: settings, the sync and async SDK clients, downloads, errors.

``KimiBatchHook`` and the ``kimi-batch`` command both go through it, so a base URL typed the short
way, the request pacing and the error messages are the same wherever Kimi is called from.
"""

from airflow_provider_kimi.client.api import BATCH_ENDPOINT, DeletedFiles, KimiApi, KimiClient
from airflow_provider_kimi.client.errors import (
    KimiConnectionError,
    KimiFileQuotaError,
    KimiNotFoundError,
    KimiPaginationError,
    KimiWaitTimeout,
)
from airflow_provider_kimi.client.factory import KimiClientFactory
from airflow_provider_kimi.client.settings import KimiClientSettings, resolve_client_settings

__all__ = [
    "BATCH_ENDPOINT",
    "DeletedFiles",
    "KimiApi",
    "KimiClient",
    "KimiClientFactory",
    "KimiClientSettings",
    "KimiConnectionError",
    "KimiFileQuotaError",
    "KimiNotFoundError",
    "KimiPaginationError",
    "KimiWaitTimeout",
    "resolve_client_settings",
]
