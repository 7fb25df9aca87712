"""The most a request could cost before it is sent; the costing itself is ``batch.pricing``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow_provider_kimi._moved import moved_from

ASSUMED_MAX_COMPLETION_TOKENS = 32_768
"""The completion a request without ``max_tokens`` is assumed to reach at worst."""


def worst_case_tokens(request: Mapping[str, Any], line_bytes: int) -> tuple[str | None, int, int]:
    """``(model, prompt, completion)`` at most for one request line.

    A token covers at least one byte of text, so the line's size bounds its prompt; the answer is
    bounded by ``max_tokens`` (or ``max_completion_tokens``), else ``ASSUMED_MAX_COMPLETION_TOKENS``.
    """
    body = request.get("body")
    body = body if isinstance(body, dict) else {}
    limit = body.get("max_tokens", body.get("max_completion_tokens"))
    completion = limit if isinstance(limit, int) and limit > 0 else ASSUMED_MAX_COMPLETION_TOKENS
    model = body.get("model")
    return (model if isinstance(model, str) else None), line_bytes, completion


__getattr__ = moved_from(__name__)
