"""The job's decisions between its tasks, with no Airflow: part details, cost ceilings, what ran, the bill.

The job's operators read XComs, call these and write what they return; every rule of how a round
is planned, what a job may cost and what it was billed lives here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from airflow_provider_kimi.batch._paths import open_read
from airflow_provider_kimi.batch.jobs.contract import DownloadManifest, PartSpec, RoundPlan
from airflow_provider_kimi.batch.jobs.costs import worst_case_tokens
from airflow_provider_kimi.batch.jobs.rounds import RanPart, ResubmissionPlan
from airflow_provider_kimi.batch.limits import MAX_FILE_BYTES
from airflow_provider_kimi.batch.pricing import CostEstimate, Prices, TokensByModel, batch_prices, estimate
from airflow_provider_kimi.batch.validator import Problem, ValidationReport

DEFAULT_MAX_PART_BYTES = MAX_FILE_BYTES * 95 // 100
"""Kimi's 100 MB input limit less a 5% margin."""

COUNTED_STATUSES = ("succeeded", "failed", "expired", "cancelled")


def part_spec(path: Any, lines: int, size: int, model: str | None) -> PartSpec:
    """The XCom record of one part."""
    return PartSpec(path=str(path), lines=lines, bytes=size, model=model)


def as_input_report(report: ValidationReport, input_name: str, first_line: int) -> ValidationReport:
    """A part's report, with lines counted in the job's input file (the file the user knows)."""
    shifted = [Problem(p.line + first_line - 1 if p.line > 0 else p.line, p.field, p.message) for p in report.problems]
    return ValidationReport(
        file=input_name,
        lines=report.lines,
        bytes=report.bytes,
        model=report.model,
        problems=shifted,
        total_problems=report.total_problems,
    )


def worst_case_of(paths: Sequence[Any]) -> TokensByModel:
    """The most the requests of these files could spend, by model."""
    worst = TokensByModel()
    for path in paths:
        with open_read(path) as handle:
            for raw in handle:
                model, prompt, completion = worst_case_tokens(orjson.loads(raw), len(raw))
                worst.for_model(model).add(prompt, 0, completion)
    return worst


def worst_case_cost(
    spent: TokensByModel, worst: TokensByModel, prices: Mapping[str, Prices] | None, currency: str
) -> CostEstimate:
    """What the job could cost at most: what it spent, plus the worst case of what it is about to send."""
    tokens = TokensByModel()
    tokens.merge(spent)
    tokens.merge(worst)
    return estimate(tokens, batch_prices(prices), currency)


def ran_parts(parts: Sequence[PartSpec], downloads: Sequence[DownloadManifest], storage: Any) -> list[RanPart]:
    """Each part of a round with its batch and result files (``storage`` turns a path string into a path)."""
    return [
        RanPart(
            input=storage(part["path"]),
            model=part["model"],
            batch_id=manifest["batch_id"],
            status=manifest["status"],
            files=result_files(manifest, storage),
        )
        for part, manifest in zip(parts, downloads, strict=True)
    ]


def result_files(manifest: DownloadManifest, storage: Any) -> tuple[Any, ...]:
    """The output and error files a download wrote (either may be absent)."""
    return tuple(storage(manifest[key]) for key in ("output_path", "error_path") if manifest[key])


def round_plan(
    number: int,
    plan: ResubmissionPlan,
    spent: TokensByModel,
    *,
    max_cost_usd: float | None,
    prices: Mapping[str, Prices] | None,
    currency: str,
) -> RoundPlan:
    """Round ``number``'s decision: what it sends again, or why it does not run (a cost ceiling included).

    ``spent`` is every token billed before this round, this round's predecessor included.
    """
    decision = RoundPlan(
        round=number,
        requests=plan.requests,
        reasons=dict(plan.reasons),
        stopped=plan.stopped,
        spent=spent.to_dict(),
    )
    if plan.requests and plan.stopped is None and max_cost_usd is not None:
        cost = worst_case_cost(spent, plan.worst_case, prices, currency)
        if cost.usd is None or cost.usd > max_cost_usd:
            shown = "unknown" if cost.usd is None else f"${cost.usd:.2f}"
            decision["stopped"] = (
                f"round {number} could bring the job to {shown} at worst "
                f"(max_cost_usd ${max_cost_usd:.2f}){': ' + cost.reason if cost.reason else ''}"
            )
    return decision


def billed_tokens(rounds: Sequence[tuple[Sequence[PartSpec], Sequence[DownloadManifest]]]) -> TokensByModel:
    """Every token the job was billed: each result line of each part of each round, by the part's model.

    A request answered in round 3 was paid for in rounds 1 and 2 as well, failed or not: the bill
    counts every line a download read, not only the row that made it into the table.
    """
    billed = TokensByModel()
    for parts, downloads in rounds:
        for part, manifest in zip(parts, downloads, strict=True):
            summary = manifest["summary"]
            billed.for_model(part["model"]).add(
                int(summary.get("prompt_tokens") or 0),
                int(summary.get("cached_tokens") or 0),
                int(summary.get("completion_tokens") or 0),
            )
    return billed
