"""Decide whether a batch failed too much to pass, and say why in one readable message.

A batch ends ``completed`` even when every request failed, so "completed" is not "good". The
decision belongs to the DAG: this module only measures a summary against the limits it is given.
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow_provider_kimi.batch.errors import KimiValueError
from airflow_provider_kimi.batch.summary import ResultSummary

DEFAULT_TOP_ERRORS = 5


@dataclass(frozen=True)
class FailurePolicyOutcome:
    """Whether the limits were exceeded, and a message fit for a log or an exception."""

    exceeded: bool
    message: str
    unsuccessful: int
    total: int

    @property
    def ratio(self) -> float:
        """The share of requests without an answer (0 for an empty batch)."""
        return self.unsuccessful / self.total if self.total else 0.0


def check_limits(max_failed_ratio: float | None, max_failed_count: int | None) -> None:
    """Refuse limits that cannot mean anything, so a task fails when it is parsed, not at the end."""
    if max_failed_ratio is not None and not 0 <= max_failed_ratio <= 1:
        raise KimiValueError(f"max_failed_ratio must be between 0 and 1, got {max_failed_ratio}")
    if max_failed_count is not None and max_failed_count < 0:
        raise KimiValueError(f"max_failed_count must not be negative, got {max_failed_count}")


def check_failures(
    summary: ResultSummary,
    max_failed_ratio: float | None = None,
    max_failed_count: int | None = None,
    top_errors: int = DEFAULT_TOP_ERRORS,
) -> FailurePolicyOutcome:
    """Measure a summary's unanswered requests against a ratio and/or a count.

    Every request without an answer counts: failed, expired, cancelled, timed out, and
    missing (when the summary was compared with its input). The limits are inclusive: a batch
    at exactly ``max_failed_ratio`` or ``max_failed_count`` passes. With no limit given,
    nothing is exceeded. The message lists the ``top_errors`` most frequent error messages.
    """
    check_limits(max_failed_ratio, max_failed_count)

    unsuccessful, total = summary.unsuccessful, summary.total
    ratio = unsuccessful / total if total else 0.0
    over_ratio = max_failed_ratio is not None and ratio > max_failed_ratio
    over_count = max_failed_count is not None and unsuccessful > max_failed_count
    exceeded = over_ratio or over_count

    limits = []
    if max_failed_ratio is not None:
        limits.append(_percent(max_failed_ratio))
    if max_failed_count is not None:
        limits.append(f"{max_failed_count:,} requests")
    measured = f"{unsuccessful:,} of {total:,} requests did not succeed ({_percent(ratio)}{_breakdown(summary)})"
    if exceeded:
        message = f"Too many failures: {measured}, more than the allowed {' or '.join(limits)}"
    elif limits:
        message = f"{measured}, within the allowed {' and '.join(limits)}"
    else:
        message = measured
    parts = [message]
    if unsuccessful and summary.top_errors and top_errors > 0:
        shown = summary.top_errors[:top_errors]
        parts.append("Top errors: " + "; ".join(f"{e.count:,} x {e.message}" for e in shown))
    return FailurePolicyOutcome(exceeded=exceeded, message=". ".join(parts), unsuccessful=unsuccessful, total=total)


def _breakdown(summary: ResultSummary) -> str:
    counts = {
        "failed": summary.failed,
        "expired": summary.expired,
        "cancelled": summary.cancelled,
        "timed out": summary.timeout,
        "missing": summary.missing or 0,
    }
    listed = [f"{name} {count:,}" for name, count in counts.items() if count]
    return f": {', '.join(listed)}" if listed else ""


def _percent(ratio: float) -> str:
    return f"{ratio * 100:.4g}%"
