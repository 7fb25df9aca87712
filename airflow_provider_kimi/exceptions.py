"""Errors the provider raises, each saying what went wrong and where; all derive from ``KimiError``.

``KimiError`` and the client's errors carry no Airflow import (``batch.errors``,
``client.errors``), so scripts and ``kimi-batch`` raise the same classes. The errors below that
also derive from ``AirflowFailException`` end a task without retrying: a retry cannot change them.
"""

from __future__ import annotations

from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_kimi.batch.errors import (
    KimiError,
    KimiFileError,
    KimiKeyError,
    KimiMissingDependencyError,
    KimiTypeError,
    KimiValueError,
)
from airflow_provider_kimi.client import errors as client_errors
from airflow_provider_kimi.client.errors import (
    KimiConnectionError,
    KimiNotFoundError,
    KimiPaginationError,
    KimiWaitTimeout,
)

__all__ = [
    "KimiBatchEndedError",
    "KimiConnectionError",
    "KimiError",
    "KimiFileError",
    "KimiFileQuotaError",
    "KimiJobError",
    "KimiKeyError",
    "KimiMissingDependencyError",
    "KimiNotFoundError",
    "KimiPaginationError",
    "KimiResultsPolicyError",
    "KimiTriggerEventError",
    "KimiTypeError",
    "KimiValueError",
    "KimiWaitTimeout",
]


class KimiTriggerEventError(KimiError):
    """A deferred task resumed with an event it cannot trust."""


class KimiBatchEndedError(KimiError, AirflowFailException):
    """The batch ended ``failed``, ``expired`` or ``cancelled``.

    A retry of the same wait cannot change a finished batch, so the task fails without retrying.
    """


class KimiResultsPolicyError(KimiError, AirflowFailException):
    """More requests failed than the task allows; the files are downloaded all the same."""


class KimiJobError(KimiError, AirflowFailException):
    """A ``kimi_batch_job`` cannot go on: a cost ceiling, an incomplete table, files kept after a failure."""


class KimiFileQuotaError(client_errors.KimiFileQuotaError, AirflowFailException):
    """The organization's file quota is full: Kimi refuses every upload until files are deleted.

    Kimi answers 400, not 429: waiting does not help, so the task fails without retrying and
    the message says how many files the organization holds and how to delete them. (The hook
    raises this one; ``kimi-batch`` and ``KimiClient`` the client's, of which this is a kind.)
    """
