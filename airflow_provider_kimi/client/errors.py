"""What the client raises: each error says what went wrong, where, and whether trying again can help."""

from __future__ import annotations

from airflow_provider_kimi.batch.errors import KimiError


class KimiConnectionError(KimiError):
    """The settings cannot build a client (no key, a bad extra), or the endpoint cannot be reached."""


class KimiNotFoundError(KimiError):
    """An id (batch, file) that Kimi does not know; a retry will not find it either."""


class KimiWaitTimeout(KimiError):
    """A wait ran out of time; the batch itself keeps running on Kimi's side."""


class KimiFileQuotaError(KimiError):
    """The organization's file quota is full: Kimi refuses every upload until files are deleted.

    Kimi answers 400, not 429: waiting does not help. The message says how many files the
    organization holds and how to delete them.
    """


class KimiPaginationError(KimiError):
    """A list endpoint kept announcing more pages past any sensible count: the server pages without end."""
