"""What a job costs by model, and the most a round could cost before it is sent.

A figure is given only when it can be right: a model without a known price, or an account billed
in CNY, gives ``None`` and the reason, never a wrong number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlparse

from airflow_provider_kimi.batch.pricing import BATCH_PRICES_BY_MODEL, Prices, cost_decimal

ASSUMED_MAX_COMPLETION_TOKENS = 32_768
"""The completion a request without ``max_tokens`` is assumed to reach at worst."""

CNY_HOSTS = ("moonshot.cn",)
"""API hosts whose accounts are billed in CNY."""


@dataclass
class TokenCounts:
    """Tokens billed for one model."""

    prompt: int = 0
    cached: int = 0
    completion: int = 0

    def add(self, prompt: int, cached: int, completion: int) -> None:
        self.prompt += prompt
        self.cached += min(cached, prompt)
        self.completion += completion

    def to_dict(self) -> dict[str, int]:
        return {"prompt_tokens": self.prompt, "cached_tokens": self.cached, "completion_tokens": self.completion}

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> TokenCounts:
        return cls(value["prompt_tokens"], value["cached_tokens"], value["completion_tokens"])


@dataclass(frozen=True)
class CostEstimate:
    """US dollars, or ``None`` with the reason no figure can be given."""

    usd: float | None
    reason: str | None = None


@dataclass
class TokensByModel:
    """Token counts per model, mergeable across parts and rounds."""

    models: dict[str, TokenCounts] = field(default_factory=dict)

    def for_model(self, model: str | None) -> TokenCounts:
        return self.models.setdefault(model or "unknown", TokenCounts())

    def merge(self, other: TokensByModel) -> None:
        for model, counts in other.models.items():
            self.for_model(model).add(counts.prompt, counts.cached, counts.completion)

    def to_dict(self) -> dict[str, dict[str, int]]:
        return {model: counts.to_dict() for model, counts in self.models.items()}

    @classmethod
    def from_dict(cls, value: Mapping[str, Mapping[str, Any]] | None) -> TokensByModel:
        return cls({model: TokenCounts.from_dict(counts) for model, counts in (value or {}).items()})


def account_currency(base_url: str) -> str:
    """``CNY`` for the China platform's API host, ``USD`` otherwise."""
    host = urlparse(base_url).hostname or ""
    return "CNY" if any(host == name or host.endswith(f".{name}") for name in CNY_HOSTS) else "USD"


def batch_prices(overrides: Mapping[str, Prices] | None = None) -> dict[str, Prices]:
    """Batch prices per model: the published ones, with ``overrides`` taking precedence."""
    return {**BATCH_PRICES_BY_MODEL, **(overrides or {})}


def estimate(tokens: TokensByModel, prices: Mapping[str, Prices], currency: str = "USD") -> CostEstimate:
    """The cost of ``tokens`` at ``prices`` (per model), or why there is no figure."""
    if currency != "USD":
        return CostEstimate(None, f"the account is billed in {currency}; prices are known in USD only")
    total = Decimal(0)
    for model, counts in tokens.models.items():
        if not (counts.prompt or counts.completion):
            continue
        price = prices.get(model)
        if price is None:
            known = ", ".join(sorted(prices)) or "none"
            return CostEstimate(None, f"no price for model {model!r} (known: {known}; pass prices=)")
        total += cost_decimal(counts.prompt, counts.cached, counts.completion, price)
    return CostEstimate(float(round(total, 6)))


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
