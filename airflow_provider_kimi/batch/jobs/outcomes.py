"""Which unanswered requests are worth sending again, and why.

A request is sent again only when its outcome can change on a second try: it never ran (the
batch expired), it timed out, the server was busy or broken (HTTP 408, 429, 5xx), or it left no
line at all. An invalid request (HTTP 400), a content-filter refusal, or a request the user
cancelled would end the same way, so it is final.
"""

from __future__ import annotations

from airflow_provider_kimi.batch.results import BatchResult, ResultStatus

RETRYABLE_HTTP_STATUSES = frozenset({408, 429})
"""Client-side statuses that mean "try later"; every 5xx is retryable as well."""

MISSING = "missing from both files"
"""The reason given for a request of the input with no result line at all."""


def resubmission_reason(result: BatchResult) -> str | None:
    """Why ``result`` is worth sending again, or ``None`` when its outcome is final."""
    status = result.status
    if status is ResultStatus.EXPIRED:
        return "expired"
    if status is ResultStatus.TIMEOUT:
        return "request_timeout"
    if status is not ResultStatus.FAILED:
        return None
    code = result.status_code
    if code is not None and (code in RETRYABLE_HTTP_STATUSES or code >= 500):
        return f"HTTP {code}"
    return None
