"""Errors the provider raises, each saying what went wrong and where."""

from __future__ import annotations

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException


class KimiError(AirflowException):
    """Base of every error this provider raises on purpose."""


class KimiConnectionError(KimiError):
    """The Airflow connection cannot build a client (no key, bad extra)."""


class KimiWaitTimeout(KimiError):
    """A wait ran out of time; the batch itself keeps running on Kimi's side."""


class KimiTriggerEventError(KimiError):
    """A deferred task resumed with an event it cannot trust."""


class KimiBatchEndedError(AirflowFailException):
    """The batch ended ``failed``, ``expired`` or ``cancelled``.

    A retry of the same wait cannot change a finished batch, so the task fails without retrying.
    """


class KimiResultsPolicyError(AirflowFailException):
    """More requests failed than the task allows; the files are downloaded all the same."""


class KimiNotFoundError(KimiError):
    """An id (batch, file) that Kimi does not know; a retry will not find it either."""


class KimiFileQuotaError(AirflowFailException):
    """The organization's file quota is full: Kimi refuses every upload until files are deleted.

    Kimi answers 400, not 429: waiting does not help, so the task fails without retrying and
    the message says how many files the organization holds and how to delete them.
    """
