"""Everything needed to build a client, resolved once from a connection's fields and the environment.

The hook passes an Airflow connection's password, host and extras; ``kimi-batch`` passes its
command line. Both get the same completion of the base URL, the same defaults and the same errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_kimi.client.endpoints import INTERNATIONAL_BASE_URL, complete_base_url
from airflow_provider_kimi.client.errors import KimiConnectionError

DEFAULT_TIMEOUT_SECONDS = 60.0
DEFAULT_MAX_RETRIES = 3
DEFAULT_MAX_REQUESTS_PER_MINUTE = 200.0
"""Kimi's Tier1 account limit: the budget every wait of one connection shares in a triggerer."""
KEY_VARIABLE = "MOONSHOT_API_KEY"
BASE_URL_VARIABLE = "MOONSHOT_BASE_URL"


@dataclass(frozen=True)
class KimiClientSettings:
    """Everything needed to build a client; ``repr`` never shows the key."""

    api_key: str = field(repr=False)
    base_url: str
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    max_retries: int = DEFAULT_MAX_RETRIES
    # Requests a minute all async waits of this connection share in one process; 0 = unlimited.
    max_requests_per_minute: float = DEFAULT_MAX_REQUESTS_PER_MINUTE
    # True when the connection sets no budget: the limit the server announces is adopted.
    learn_requests_per_minute: bool = True

    def client_kwargs(self, max_retries: int | None = None) -> dict[str, Any]:
        """The openai client arguments these settings give (``max_retries`` overridable)."""
        return {
            "api_key": self.api_key,
            "base_url": self.base_url,
            "timeout": self.timeout,
            "max_retries": self.max_retries if max_retries is None else max_retries,
        }


def resolve_client_settings(
    conn_id: str,
    *,
    password: str | None,
    host: str | None,
    extra: Mapping[str, Any],
    environ: Mapping[str, str],
) -> KimiClientSettings:
    """Merge a connection's fields with ``MOONSHOT_API_KEY`` / ``MOONSHOT_BASE_URL``.

    The connection wins; the environment fills what it leaves empty, as the user guide's scripts
    read it. A host typed the short way (``api.moonshot.cn``) is completed to its API root. A
    missing key is an error that names the connection, raised before any request.
    """
    api_key = (password or "").strip() or environ.get(KEY_VARIABLE, "").strip()
    if not api_key:
        raise KimiConnectionError(
            f"No Kimi API key: connection {conn_id!r} has no password and {KEY_VARIABLE} is not set. "
            "Put the key in the connection's password (API Key) field."
        )
    given = (host or "").strip() or environ.get(BASE_URL_VARIABLE, "").strip() or INTERNATIONAL_BASE_URL
    try:
        timeout = float(extra.get("timeout", DEFAULT_TIMEOUT_SECONDS))
        max_retries = int(extra.get("max_retries", DEFAULT_MAX_RETRIES))
    except (TypeError, ValueError) as err:
        raise KimiConnectionError(
            f"Connection {conn_id!r}: extra 'timeout' must be a number of seconds and "
            f"'max_retries' a whole number ({err})."
        ) from err
    if timeout <= 0 or max_retries < 0:
        raise KimiConnectionError(f"Connection {conn_id!r}: extra 'timeout' must be > 0 and 'max_retries' >= 0.")
    return KimiClientSettings(
        api_key=api_key,
        base_url=complete_base_url(given),
        timeout=timeout,
        max_retries=max_retries,
        max_requests_per_minute=_requests_per_minute(conn_id, extra),
        learn_requests_per_minute="max_requests_per_minute" not in extra,
    )


def _requests_per_minute(conn_id: str, extra: Mapping[str, Any]) -> float:
    """The extra ``max_requests_per_minute``: a number >= 0 (0 or null = no limit)."""
    raw = extra.get("max_requests_per_minute", DEFAULT_MAX_REQUESTS_PER_MINUTE)
    try:
        value = 0.0 if raw is None else float(raw)
    except (TypeError, ValueError):
        value = -1.0
    if isinstance(raw, bool) or not value >= 0 or value == float("inf"):
        raise KimiConnectionError(
            f"Connection {conn_id!r}: extra 'max_requests_per_minute' must be a number >= 0 "
            f"(0 means no limit), not {raw!r}."
        )
    return value
