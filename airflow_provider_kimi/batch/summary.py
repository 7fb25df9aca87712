"""Account for every request of a batch: outcome counts, tokens, cost, and what is missing.

A summary is built in one pass over the results and keeps only counters, token sums, grouped
error messages, and the set of ``custom_id``s seen (needed to find duplicates and, against the
input file, requests with no result at all). It never holds an answer, so a batch of millions
of lines summarises in the memory of its ids.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from airflow_provider_kimi.batch.pricing import (
    BATCH_PRICES_BY_MODEL,
    LIST_PRICES_BY_MODEL,
    UNNAMED_MODEL,
    Prices,
    TokenCounts,
    TokensByModel,
    cost_by_model,
    cost_decimal,
)
from airflow_provider_kimi.batch.results import (
    BatchResult,
    FileSource,
    ResultsFileError,
    ResultStatus,
    iter_json_lines,
    iter_results,
    source_name,
)

DISPLAY_LIMIT = 20
"""How many missing or duplicate ``custom_id``s a summary lists; all of them are counted."""

TOP_ERRORS_KEPT = 10
"""How many distinct error messages a summary reports, most frequent first."""

MAX_ERROR_GROUPS = 1_000
"""Distinct error messages tracked; later new ones are counted under ``OTHER_ERRORS``."""

OTHER_ERRORS = "(other error messages)"
_SUCCEEDED = ResultStatus.SUCCEEDED
ERROR_MESSAGE_WIDTH = 300

PriceList = Prices | Mapping[str, Prices] | None
"""One price for every token, a price per model, or ``None`` for the published prices per model."""


@dataclass(frozen=True)
class ErrorCount:
    """One error message (with its HTTP status or error code) and how many requests got it."""

    message: str
    count: int


@dataclass(frozen=True)
class ResultSummary:
    """What became of a batch's requests, and what they cost.

    Outcome counts are per ``custom_id``: a ``custom_id`` read again is counted in
    ``duplicates``, not twice. Token sums cover every line read, duplicates included, since
    each line that ran was billed. ``missing`` is ``None`` when no input file was compared.
    """

    succeeded: int = 0
    failed: int = 0
    expired: int = 0
    cancelled: int = 0
    timeout: int = 0
    missing: int | None = None
    missing_custom_ids: tuple[str, ...] = ()
    unexpected: int | None = None
    duplicates: int = 0
    duplicate_custom_ids: tuple[str, ...] = ()
    truncated: int = 0
    """Answers cut at ``max_tokens`` (``finish_reason: "length"``): succeeded, yet incomplete."""
    truncated_custom_ids: tuple[str, ...] = ()
    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    estimated_cost_usd: float | None = 0.0
    """At batch prices, by the model each answer names; ``None`` when a model has no known price."""
    realtime_cost_usd: float | None = 0.0
    saving_usd: float | None = 0.0
    top_errors: tuple[ErrorCount, ...] = ()
    prices: Prices | None = None
    """The batch prices applied, when one price list covered every token (one model, or given)."""
    realtime_prices: Prices | None = None
    models: tuple[str, ...] = ()
    """The models the results name, most tokens first (one per batch, as Kimi requires)."""
    cost_note: str | None = None
    """Why there is no cost figure, when there is none."""

    @property
    def results(self) -> int:
        """Distinct ``custom_id``s with a result line."""
        return self.succeeded + self.failed + self.expired + self.cancelled + self.timeout

    @property
    def total(self) -> int:
        """Requests accounted for: those with a result, plus those missing from the results."""
        return self.results + (self.missing or 0)

    @property
    def unsuccessful(self) -> int:
        """Requests without an answer: failed, expired, cancelled, timed out or missing."""
        return self.total - self.succeeded

    def to_dict(self) -> dict[str, Any]:
        """The summary as plain JSON-ready values (the ``kimi-batch results --json`` object)."""
        return {
            "succeeded": self.succeeded,
            "failed": self.failed,
            "expired": self.expired,
            "cancelled": self.cancelled,
            "timeout": self.timeout,
            "missing": self.missing,
            "missing_custom_ids": list(self.missing_custom_ids),
            "unexpected": self.unexpected,
            "duplicates": self.duplicates,
            "duplicate_custom_ids": list(self.duplicate_custom_ids),
            "truncated": self.truncated,
            "truncated_custom_ids": list(self.truncated_custom_ids),
            "results": self.results,
            "total": self.total,
            "prompt_tokens": self.prompt_tokens,
            "cached_tokens": self.cached_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "estimated_cost_usd": self.estimated_cost_usd,
            "realtime_cost_usd": self.realtime_cost_usd,
            "saving_usd": self.saving_usd,
            "cost_note": self.cost_note,
            "models": list(self.models),
            "prices_per_million_tokens": {
                "batch": _prices_dict(self.prices),
                "realtime": _prices_dict(self.realtime_prices),
            },
            "top_errors": [{"message": e.message, "count": e.count} for e in self.top_errors],
        }

    def _cost_line(self) -> str:
        if self.estimated_cost_usd is None or self.realtime_cost_usd is None or self.saving_usd is None:
            return f"Estimated cost: unknown ({self.cost_note})"
        return (
            f"Estimated cost: {_money(self.estimated_cost_usd)} at batch prices, "
            f"{_money(self.realtime_cost_usd)} in real time ({_money(self.saving_usd)} saved)"
        )

    def truncation_warning(self) -> str:
        """The line that warns of answers cut at ``max_tokens`` (empty when there are none)."""
        if not self.truncated:
            return ""
        return (
            f"Truncated: {self.truncated:,} answers stopped at max_tokens (finish_reason 'length'), "
            "so they are incomplete; raise max_tokens (thinking models spend it on reasoning too): "
            + _listing(self.truncated_custom_ids, self.truncated)
        )

    def format(self) -> str:
        """A few readable lines for a log: counts, tokens, cost at batch price against real time."""
        outcomes = [f"{self.succeeded:,} succeeded", f"{self.failed:,} failed"]
        for name in ("expired", "cancelled", "timeout"):
            if count := getattr(self, name):
                outcomes.append(f"{count:,} {'timed out' if name == 'timeout' else name}")
        if self.missing is not None:
            outcomes.append(f"{self.missing:,} missing")
        lines = [
            f"{self.total:,} request{'' if self.total == 1 else 's'}: {', '.join(outcomes)}",
            f"Tokens: {self.prompt_tokens:,} prompt ({self.cached_tokens:,} cached), "
            f"{self.completion_tokens:,} completion, {self.total_tokens:,} total",
            self._cost_line(),
        ]
        if self.missing:
            lines.append("Missing (in the input, no result): " + _listing(self.missing_custom_ids, self.missing))
        if self.unexpected:
            lines.append(f"Unexpected: {self.unexpected:,} results whose custom_id is not in the input")
        if self.duplicates:
            lines.append(
                f"Duplicates: {self.duplicates:,} lines repeat a custom_id already read: "
                + _listing(self.duplicate_custom_ids, self.duplicates)
            )
        if self.truncated:
            lines.append(self.truncation_warning())
        if self.top_errors:
            lines.append("Top errors:")
            lines.extend(f"  {e.count:,} x {e.message}" for e in self.top_errors)
        return "\n".join(lines)


@dataclass
class SummaryBuilder:
    """Accumulates results one at a time; ``build`` then compares against the input, if any.

    Use it directly to summarise while doing something else with each result (writing it to
    storage, say) in the same pass; ``summarize`` is the one-call form.
    """

    prices: PriceList = None
    realtime_prices: PriceList = None
    display_limit: int = DISPLAY_LIMIT
    _counts: Counter[ResultStatus] = field(default_factory=Counter, init=False)
    _errors: Counter[str] = field(default_factory=Counter, init=False)
    _seen: set[str] = field(default_factory=set, init=False)
    _duplicates: int = field(default=0, init=False)
    _duplicate_ids: list[str] = field(default_factory=list, init=False)
    _truncated: int = field(default=0, init=False)
    _truncated_ids: list[str] = field(default_factory=list, init=False)
    _prompt: int = field(default=0, init=False)
    _cached: int = field(default=0, init=False)
    _completion: int = field(default=0, init=False)
    _total: int = field(default=0, init=False)
    _tokens: TokensByModel = field(default_factory=TokensByModel, init=False)
    _model: str | None = field(default=None, init=False)
    _model_counts: TokenCounts = field(default_factory=TokenCounts, init=False)

    def add(self, result: BatchResult) -> None:
        """Count one result; a ``custom_id`` already seen counts as a duplicate only."""
        prompt = result.prompt_tokens
        self._prompt += prompt
        self._cached += min(result.cached_tokens, prompt)
        self._completion += result.completion_tokens
        self._total += result.total_tokens
        model = result.model or UNNAMED_MODEL
        if model != self._model:  # one model per batch: the lookup is made once, not per line
            self._model, self._model_counts = model, self._tokens.for_model(model)
        self._model_counts.add(prompt, result.cached_tokens, result.completion_tokens)
        custom_id = result.custom_id
        if custom_id in self._seen:
            self._duplicates += 1
            if len(self._duplicate_ids) < self.display_limit:
                self._duplicate_ids.append(custom_id)
            return
        self._seen.add(custom_id)
        status = result.status
        self._counts[status] += 1
        if result.finish_reason == "length":
            self._truncated += 1
            if len(self._truncated_ids) < self.display_limit:
                self._truncated_ids.append(custom_id)
        if status is not _SUCCEEDED:
            self._count_error(_truncate(result.error_summary or status.value, ERROR_MESSAGE_WIDTH))

    def add_all(self, results: Iterable[BatchResult]) -> SummaryBuilder:
        """Count every result of ``results``; returns the builder for chaining."""
        for result in results:
            self.add(result)
        return self

    def build(self, input_ids: Iterable[str] | None = None) -> ResultSummary:
        """The summary so far; with ``input_ids``, also which of them have no result."""
        missing: int | None = None
        unexpected: int | None = None
        missing_ids: list[str] = []
        if input_ids is not None:
            missing = 0
            matched: set[str] = set()
            for custom_id in input_ids:
                if custom_id in self._seen:
                    matched.add(custom_id)
                    continue
                missing += 1
                if len(missing_ids) < self.display_limit:
                    missing_ids.append(custom_id)
            unexpected = len(self._seen) - len(matched)
        batch_cost, batch_applied = self._cost(self.prices, BATCH_PRICES_BY_MODEL)
        realtime_cost, realtime_applied = self._cost(self.realtime_prices, LIST_PRICES_BY_MODEL)
        note = next((cost for cost in (batch_cost, realtime_cost) if isinstance(cost, str)), None)
        batch_usd = None if isinstance(batch_cost, str) else batch_cost
        realtime_usd = None if isinstance(realtime_cost, str) else realtime_cost
        counts = self._counts
        return ResultSummary(
            succeeded=counts[ResultStatus.SUCCEEDED],
            failed=counts[ResultStatus.FAILED],
            expired=counts[ResultStatus.EXPIRED],
            cancelled=counts[ResultStatus.CANCELLED],
            timeout=counts[ResultStatus.TIMEOUT],
            missing=missing,
            missing_custom_ids=tuple(missing_ids),
            unexpected=unexpected,
            duplicates=self._duplicates,
            duplicate_custom_ids=tuple(self._duplicate_ids),
            truncated=self._truncated,
            truncated_custom_ids=tuple(self._truncated_ids),
            prompt_tokens=self._prompt,
            cached_tokens=self._cached,
            completion_tokens=self._completion,
            total_tokens=self._total,
            estimated_cost_usd=None if batch_usd is None else float(batch_usd),
            realtime_cost_usd=None if realtime_usd is None else float(realtime_usd),
            saving_usd=None if batch_usd is None or realtime_usd is None else float(realtime_usd - batch_usd),
            top_errors=tuple(
                ErrorCount(message, count) for message, count in self._errors.most_common(TOP_ERRORS_KEPT)
            ),
            prices=batch_applied,
            realtime_prices=realtime_applied,
            models=self._models(),
            cost_note=note,
        )

    def _models(self) -> tuple[str, ...]:
        spent = {model: c.prompt + c.completion for model, c in self._tokens.models.items()}
        return tuple(sorted(spent, key=lambda model: -spent[model]))

    def _cost(self, prices: PriceList, published: Mapping[str, Prices]) -> tuple[Decimal | str, Prices | None]:
        """The cost of the tokens read, and the one price list applied (``None`` for several)."""
        if isinstance(prices, Prices):
            return cost_decimal(self._prompt, self._cached, self._completion, prices), prices
        table = published if prices is None else prices
        billed = [model for model, c in self._tokens.models.items() if c.prompt or c.completion]
        applied = table.get(billed[0]) if len(billed) == 1 else None
        return cost_by_model(self._tokens, table), applied

    def _count_error(self, message: str) -> None:
        # Messages that embed ids could otherwise grow the counter without bound.
        if message not in self._errors and len(self._errors) >= MAX_ERROR_GROUPS:
            message = OTHER_ERRORS
        self._errors[message] += 1


def iter_input_custom_ids(input: FileSource) -> Iterator[str]:
    """The ``custom_id`` of each line of a batch input file, streaming."""
    name = source_name(input)
    for line_number, line in iter_json_lines(input):
        custom_id = line.get("custom_id")
        if not isinstance(custom_id, str) or not custom_id:
            raise ResultsFileError(name, line_number, "input line has no string custom_id")
        yield custom_id


def summarize(
    output: FileSource | None,
    error: FileSource | None = None,
    input: FileSource | None = None,
    prices: PriceList = None,
    realtime_prices: PriceList = None,
) -> ResultSummary:
    """Summarise a batch from its output and error files, and its input file when given.

    ``prices`` is what the batch is billed at and ``realtime_prices`` what the same tokens would
    cost without the Batch API; by default both are the published prices of the model each
    answer names (a line naming none is priced as ``UNNAMED_MODEL``).
    """
    builder = SummaryBuilder(prices=prices, realtime_prices=realtime_prices)
    builder.add_all(iter_results(output, error))
    return builder.build(iter_input_custom_ids(input) if input is not None else None)


def _prices_dict(prices: Prices | None) -> dict[str, float] | None:
    if prices is None:
        return None
    return {
        "input_cache_miss": prices.input_cache_miss,
        "input_cache_hit": prices.input_cache_hit,
        "output": prices.output,
    }


def _money(amount: float) -> str:
    return f"${amount:,.2f}" if abs(amount) >= 1 else f"${Decimal(repr(amount)):f}"


def _listing(ids: tuple[str, ...], count: int) -> str:
    text = ", ".join(ids)
    return f"{text} and {count - len(ids):,} more" if count > len(ids) else text


def _truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."
