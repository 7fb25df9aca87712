"""Token prices and the cost arithmetic behind every estimated bill: one batch's, a job's, the CLI's.

Prices move and differ per model and account, so every number here is a default the caller
can replace. Tokens are priced by the model that spent them (:class:`TokensByModel`,
:func:`cost_by_model`); a model without a known price, or an account billed in CNY, gives no
figure and the reason, never a wrong number. Arithmetic runs in ``Decimal`` so that sums of small
per-token prices come out as the round figures a person would compute by hand.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlparse

from airflow_provider_kimi.batch.errors import KimiValueError

TOKENS_PER_PRICE_UNIT = 1_000_000
"""Prices are quoted in US dollars per million tokens."""


def _dec(value: float) -> Decimal:
    """The decimal a person wrote, not the binary float's full expansion (0.6, not 0.59999...)."""
    return Decimal(repr(value))


@dataclass(frozen=True)
class Prices:
    """US dollars per million tokens.

    ``input_cache_hit`` applies to the prompt tokens the server served from its context cache
    (reported as cached tokens); the rest of the prompt is billed at ``input_cache_miss``.
    """

    input_cache_miss: float
    input_cache_hit: float
    output: float

    def __post_init__(self) -> None:
        for name in ("input_cache_miss", "input_cache_hit", "output"):
            if getattr(self, name) < 0:
                raise KimiValueError(f"price {name} must not be negative")

    def discounted(self, fraction: float) -> Prices:
        """These prices less ``fraction`` (0.4 means 40% off)."""
        if not 0 <= fraction <= 1:
            raise KimiValueError(f"discount must be between 0 and 1, got {fraction}")
        keep = 1 - _dec(fraction)
        return Prices(
            input_cache_miss=float(_dec(self.input_cache_miss) * keep),
            input_cache_hit=float(_dec(self.input_cache_hit) * keep),
            output=float(_dec(self.output) * keep),
        )


KIMI_K2_5_LIST_PRICES = Prices(input_cache_miss=0.60, input_cache_hit=0.10, output=3.00)
"""kimi-k2.5's real-time list price."""

BATCH_DISCOUNT = 0.40
"""The share of the list price that the Batch API takes off."""

KIMI_K2_5_BATCH_PRICES = KIMI_K2_5_LIST_PRICES.discounted(BATCH_DISCOUNT)
"""kimi-k2.5 through the Batch API: the list price less ``BATCH_DISCOUNT``."""

KIMI_K2_6_LIST_PRICES = Prices(input_cache_miss=0.95, input_cache_hit=0.16, output=4.00)
"""kimi-k2.6's real-time list price."""

LIST_PRICES_BY_MODEL: dict[str, Prices] = {
    "kimi-k2.5": KIMI_K2_5_LIST_PRICES,
    "kimi-k2.6": KIMI_K2_6_LIST_PRICES,
}
"""Real-time list prices (US dollars) of the models the Batch API runs, as published."""

BATCH_PRICES_BY_MODEL: dict[str, Prices] = {
    model: prices.discounted(BATCH_DISCOUNT) for model, prices in LIST_PRICES_BY_MODEL.items()
}
"""Batch prices per model: the list price less ``BATCH_DISCOUNT`` (60% of the real-time price)."""


def estimate_cost(prompt_tokens: int, cached_tokens: int, completion_tokens: int, prices: Prices) -> float:
    """The cost in US dollars of the given token counts at ``prices``.

    ``cached_tokens`` is the part of ``prompt_tokens`` served from cache (it is included in
    ``prompt_tokens``, as the API reports it), and is clamped to it.
    """
    return float(cost_decimal(prompt_tokens, cached_tokens, completion_tokens, prices))


def cost_decimal(prompt_tokens: int, cached_tokens: int, completion_tokens: int, prices: Prices) -> Decimal:
    """``estimate_cost`` as an exact ``Decimal``, for sums and differences without float noise."""
    if min(prompt_tokens, cached_tokens, completion_tokens) < 0:
        raise KimiValueError("token counts must not be negative")
    hit = min(cached_tokens, prompt_tokens)
    miss = prompt_tokens - hit
    total = (
        miss * _dec(prices.input_cache_miss)
        + hit * _dec(prices.input_cache_hit)
        + completion_tokens * _dec(prices.output)
    )
    return total / TOKENS_PER_PRICE_UNIT


CNY_HOSTS = ("moonshot.cn",)
"""API hosts whose accounts are billed in CNY."""

UNNAMED_MODEL = "kimi-k2.5"
"""The model a result line that names none is priced as (the one Kimi's first batch guide names)."""


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
    """Token counts per model, mergeable across lines, batches and rounds."""

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


def cost_by_model(tokens: TokensByModel, prices: Mapping[str, Prices]) -> Decimal | str:
    """The exact cost of ``tokens`` at ``prices`` (per model), or the reason there is none."""
    total = Decimal(0)
    for model, counts in tokens.models.items():
        if not (counts.prompt or counts.completion):
            continue
        price = prices.get(model)
        if price is None:
            known = ", ".join(sorted(prices)) or "none"
            return f"no price for model {model!r} (known: {known}; pass prices=)"
        total += cost_decimal(counts.prompt, counts.cached, counts.completion, price)
    return total


def estimate(tokens: TokensByModel, prices: Mapping[str, Prices], currency: str = "USD") -> CostEstimate:
    """The cost of ``tokens`` at ``prices`` (per model), to the micro-dollar, or why there is no figure."""
    if currency != "USD":
        return CostEstimate(None, f"the account is billed in {currency}; prices are known in USD only")
    cost = cost_by_model(tokens, prices)
    if isinstance(cost, str):
        return CostEstimate(None, cost)
    return CostEstimate(float(round(cost, 6)))
