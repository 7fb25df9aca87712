"""After a round of batches: which requests to send again, written as the next round's input.

Each part of a round is one batch over one input file, so a part is planned on its own: only its
own results are held in memory, never the whole job's. Lines are copied as bytes from the part's
input, so a request sent again is byte for byte the one first sent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

import orjson

from airflow_provider_kimi.batch._paths import open_read
from airflow_provider_kimi.batch.jobs.costs import worst_case_tokens
from airflow_provider_kimi.batch.jobs.lines import line_custom_id
from airflow_provider_kimi.batch.jobs.outcomes import MISSING, resubmission_reason
from airflow_provider_kimi.batch.pricing import TokensByModel
from airflow_provider_kimi.batch.results import iter_result_files


@dataclass(frozen=True)
class RanPart:
    """One part of a round that ran: its input, its batch and the batch's result files."""

    input: Any
    model: str | None
    batch_id: str
    status: str
    files: tuple[Any, ...] = ()


@dataclass
class ResubmissionPlan:
    """What the next round sends, per model, and why; or why there is no next round."""

    requests: int = 0
    requests_by_model: dict[str, int] = field(default_factory=dict)
    reasons: Counter[str] = field(default_factory=Counter)
    stopped: str | None = None
    worst_case: TokensByModel = field(default_factory=TokensByModel)
    spent: TokensByModel = field(default_factory=TokensByModel)


def plan_resubmission(parts: Sequence[RanPart], open_model_file: Callable[[str], IO[bytes]]) -> ResubmissionPlan:
    """Read each part's results; copy the lines worth sending again into one file per model.

    ``open_model_file(model)`` opens (once per model) where that model's lines go: one model per
    file, as Kimi requires. A part whose batch was cancelled ends resubmission for the whole job:
    the user stopped it, so nothing is written and ``stopped`` says why. ``spent`` counts the
    tokens every result line of the round reports, each being billed.
    """
    plan = ResubmissionPlan()
    cancelled = [part.batch_id for part in parts if part.status == "cancelled"]
    if cancelled:
        plan.stopped = f"batch {', '.join(cancelled)} was cancelled; its requests stay cancelled"
    outputs: dict[str, IO[bytes]] = {}
    try:
        for part in parts:
            final = _read_outcomes(part, plan)
            if plan.stopped is None:
                _copy_unfinished(part, final, plan, outputs, open_model_file)
    finally:
        for handle in outputs.values():
            handle.close()
    return plan


def _read_outcomes(part: RanPart, plan: ResubmissionPlan) -> dict[bytes, str | None]:
    """``custom_id`` -> the reason to send it again, ``None`` when its outcome is final."""
    outcomes: dict[bytes, str | None] = {}
    spent = plan.spent.for_model(part.model)
    for result in iter_result_files(part.files):
        spent.add(result.prompt_tokens, result.cached_tokens, result.completion_tokens)
        key = result.custom_id.encode()
        reason = resubmission_reason(result)
        # A duplicate line keeps the better outcome: an answer is never sent again.
        if outcomes.get(key, "") is not None:
            outcomes[key] = reason
    return outcomes


def _copy_unfinished(
    part: RanPart,
    outcomes: dict[bytes, str | None],
    plan: ResubmissionPlan,
    outputs: dict[str, IO[bytes]],
    open_model_file: Callable[[str], IO[bytes]],
) -> None:
    model = part.model or "unknown"
    worst = plan.worst_case.for_model(part.model)
    with open_read(part.input) as handle:
        for raw in handle:
            if not raw.strip():
                continue
            key = line_custom_id(raw)
            reason = outcomes.get(key, MISSING)
            if reason is None:
                continue
            if model not in outputs:
                outputs[model] = open_model_file(model)
            line = raw if raw.endswith(b"\n") else raw + b"\n"
            outputs[model].write(line)
            _, prompt, completion = worst_case_tokens(orjson.loads(raw), len(raw))
            worst.add(prompt, 0, completion)
            plan.requests += 1
            plan.requests_by_model[model] = plan.requests_by_model.get(model, 0) + 1
            plan.reasons[reason] += 1
