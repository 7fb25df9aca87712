"""Names that moved to another module: still importable from the old one for one release, with a warning.

Each old module ends with ``__getattr__ = moved_from(__name__)``; the table below says where each
of its names lives now. The CHANGELOG's upgrade notes list the same moves.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable
from typing import Any

MOVED: dict[str, dict[str, str]] = {
    "airflow_provider_kimi.batch.endpoints": {
        name: f"airflow_provider_kimi.client.endpoints:{name}"
        for name in ("INTERNATIONAL_BASE_URL", "CHINA_BASE_URL", "KIMI_API_HOSTS", "API_ROOT_PATH")
    }
    | {
        "complete_base_url": "airflow_provider_kimi.client.endpoints:complete_base_url",
        "api_root_hint": "airflow_provider_kimi.client.endpoints:api_root_hint",
    },
    "airflow_provider_kimi.hooks.kimi": {
        "KimiClientSettings": "airflow_provider_kimi.client.settings:KimiClientSettings",
        "resolve_client_settings": "airflow_provider_kimi.client.settings:resolve_client_settings",
        "DEFAULT_TIMEOUT_SECONDS": "airflow_provider_kimi.client.settings:DEFAULT_TIMEOUT_SECONDS",
        "DEFAULT_MAX_RETRIES": "airflow_provider_kimi.client.settings:DEFAULT_MAX_RETRIES",
        "DEFAULT_MAX_REQUESTS_PER_MINUTE": "airflow_provider_kimi.client.settings:DEFAULT_MAX_REQUESTS_PER_MINUTE",
        "KimiClientFactory": "airflow_provider_kimi.client.factory:KimiClientFactory",
        "BATCH_ENDPOINT": "airflow_provider_kimi.client.api:BATCH_ENDPOINT",
        "FileSource": "airflow_provider_kimi.client.api:FileSource",
        "DOWNLOAD_CHUNK_BYTES": "airflow_provider_kimi.client.download:DOWNLOAD_CHUNK_BYTES",
    },
    "airflow_provider_kimi.hooks.errors": {
        name: f"airflow_provider_kimi.client.translate:{name}"
        for name in (
            "QUOTA_MESSAGES",
            "is_file_quota_error",
            "file_quota_message",
            "describe_error",
            "poll_failure",
            "is_transient",
            "explain",
            "explained_errors",
        )
    },
    "airflow_provider_kimi.hooks.server_limits": {
        "server_limit_for": "airflow_provider_kimi.batch.send.server_limit:server_limit_for",
    },
    "airflow_provider_kimi.batch.polling": {
        name: f"airflow_provider_kimi.batch.send.budget:{name}"
        for name in (
            "RequestBudget",
            "concurrent_requests_for",
            "WINDOW_MARGIN_SECONDS",
            "FIRST_RATE_LIMIT_PAUSE_SECONDS",
            "MAX_RATE_LIMIT_PAUSE_SECONDS",
            "MIN_CONCURRENT_REQUESTS",
            "MAX_CONCURRENT_REQUESTS",
        )
    }
    | {
        name: f"airflow_provider_kimi.batch.wait.interval:{name}"
        for name in (
            "adaptive_poll_interval",
            "GROW_AFTER_SECONDS",
            "MAX_GROWTH_FACTOR",
            "MAX_ADAPTIVE_INTERVAL_SECONDS",
        )
    },
    "airflow_provider_kimi.batch.server_limits": {
        name: f"airflow_provider_kimi.batch.send.server_limit:{name}"
        for name in (
            "PROBE_HOLD_SECONDS",
            "MAX_RESET_SECONDS",
            "RateLimitReading",
            "ServerRateLimit",
            "parse_reset",
            "read_rate_limit",
        )
    },
    "airflow_provider_kimi.hooks.async_clients": {
        "SharedAsyncClient": "airflow_provider_kimi.client.shared:SharedAsyncClient",
    },
    "airflow_provider_kimi.hooks.poller": {
        name: f"airflow_provider_kimi.client.poller:{name}"
        for name in ("BatchPoller", "PollerCounts", "LIST_PAGE_SIZES", "poller_for")
    },
    "airflow_provider_kimi.batch.jobs.costs": {
        name: f"airflow_provider_kimi.batch.pricing:{name}"
        for name in (
            "CNY_HOSTS",
            "TokenCounts",
            "CostEstimate",
            "TokensByModel",
            "account_currency",
            "batch_prices",
            "estimate",
        )
    },
    "airflow_provider_kimi.operators.job": {
        "round_folder": "airflow_provider_kimi.batch.jobs.layout:round_folder",
        "as_input_report": "airflow_provider_kimi.batch.jobs.planning:as_input_report",
        "count_rows": "airflow_provider_kimi.batch.jobs.table:count_rows",
        "DEFAULT_MAX_PART_BYTES": "airflow_provider_kimi.batch.jobs.planning:DEFAULT_MAX_PART_BYTES",
        "COUNTED_STATUSES": "airflow_provider_kimi.batch.jobs.planning:COUNTED_STATUSES",
    },
    "airflow_provider_kimi.cli.files": {
        "stream_to": "airflow_provider_kimi.client.download:stream_file",
        "DOWNLOAD_CHUNK_BYTES": "airflow_provider_kimi.client.download:DOWNLOAD_CHUNK_BYTES",
    },
    "airflow_provider_kimi.cli.api": {
        "DEFAULT_BASE_URL": "airflow_provider_kimi.client.endpoints:INTERNATIONAL_BASE_URL",
    },
}
"""Old module -> {name: "new.module:name"}."""


def moved_from(old_module: str) -> Callable[[str], Any]:
    """The ``__getattr__`` of ``old_module``: each moved name, imported from its new home, with a warning."""
    names = MOVED[old_module]

    def __getattr__(name: str) -> Any:
        target = names.get(name)
        if target is None:
            raise AttributeError(f"module {old_module!r} has no attribute {name!r}")
        module, _, attribute = target.partition(":")
        warnings.warn(
            f"{old_module}.{name} moved to {module}.{attribute}; import it from there "
            "(the old name is removed in the next release).",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module(module), attribute)

    return __getattr__
