"""The lifecycle of a Kimi batch, and which of its statuses end the wait."""

from __future__ import annotations

from enum import Enum
from typing import Any

from airflow_provider_kimi.batch.errors import KimiValueError


class UnknownBatchStatusError(KimiValueError):
    """Kimi reported a status this version of the provider does not know (a new one)."""

    def __init__(self, status: Any) -> None:
        self.status = status
        super().__init__(
            f"Kimi reported batch status {status!r}, which this version of airflow-provider-kimi does not "
            "know; update the provider (pip install -U airflow-provider-kimi)."
        )


class BatchStatus(str, Enum):
    """A batch's ``status`` as Kimi reports it.

    ``cancelling`` is not terminal: results may still be written until ``cancelled``.
    """

    VALIDATING = "validating"
    FAILED = "failed"
    IN_PROGRESS = "in_progress"
    FINALIZING = "finalizing"
    COMPLETED = "completed"
    EXPIRED = "expired"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"

    @classmethod
    def _missing_(cls, value: object) -> BatchStatus:
        """``BatchStatus("new_status")`` raises :class:`UnknownBatchStatusError`, which says what to do."""
        raise UnknownBatchStatusError(value)

    @property
    def is_terminal(self) -> bool:
        """True once the batch can change no more."""
        return self in TERMINAL_STATUSES

    @property
    def is_success(self) -> bool:
        """True only for ``completed`` (which may still hold failed lines)."""
        return self is BatchStatus.COMPLETED

    @property
    def can_cancel(self) -> bool:
        """True where Kimi accepts a cancel request."""
        return self in CANCELLABLE_STATUSES


TERMINAL_STATUSES = frozenset({BatchStatus.COMPLETED, BatchStatus.FAILED, BatchStatus.EXPIRED, BatchStatus.CANCELLED})
CANCELLABLE_STATUSES = frozenset({BatchStatus.VALIDATING, BatchStatus.IN_PROGRESS, BatchStatus.FINALIZING})


def known_status(name: str) -> BatchStatus | None:
    """The status Kimi reported, or ``None`` when this provider does not know it (a newer API)."""
    try:
        return BatchStatus(name)
    except ValueError:
        return None
