"""The triggerer's shared async client of an Airflow connection: the lease registry, read through the hook.

The client, its budget and the registry are :mod:`airflow_provider_kimi.client.shared` (no
Airflow); here a connection id is read as ``KimiBatchHook`` reads it, without blocking the loop.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from airflow_provider_kimi._moved import moved_from
from airflow_provider_kimi.batch.wait.backoff import retry_after_seconds as _retry_after
from airflow_provider_kimi.client import shared as _shared
from airflow_provider_kimi.client.settings import KimiClientSettings
from airflow_provider_kimi.hooks.kimi import KimiBatchHook


async def _settings_of(conn_id: str) -> KimiClientSettings:
    return await KimiBatchHook(kimi_conn_id=conn_id).aget_settings()


async def acquire_client(conn_id: str) -> _shared.SharedAsyncClient:
    """Lease the shared client of ``conn_id`` in this event loop, building it on first use.

    The connection is read once per client (without blocking the loop); a lookup that fails
    raises here and is tried afresh by the next caller. Pair with :func:`release_client`.
    """
    return await _shared.acquire(conn_id, _settings_of)


def release_client(shared: _shared.SharedAsyncClient) -> None:
    """End a lease; the last one closes the client in the background (safe in a ``finally``)."""
    _shared.release(shared)


@asynccontextmanager
async def shared_client(conn_id: str) -> AsyncIterator[_shared.SharedAsyncClient]:
    """``async with shared_client(conn_id) as shared: await shared.call(...)``."""
    shared = await acquire_client(conn_id)
    try:
        yield shared
    finally:
        release_client(shared)


def retry_after_seconds(err: Any) -> float | None:
    """Deprecated: ``batch.wait.backoff.retry_after_seconds(headers, now)`` reads any answer's headers."""
    warnings.warn(
        "airflow_provider_kimi.hooks.async_clients.retry_after_seconds moved to "
        "airflow_provider_kimi.batch.wait.backoff.retry_after_seconds(headers, now_epoch); "
        "the old name is removed in the next release.",
        DeprecationWarning,
        stacklevel=2,
    )
    return _retry_after(err.response.headers, time.time())


__getattr__ = moved_from(__name__)
