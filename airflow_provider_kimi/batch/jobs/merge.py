"""Join every round's results back to the input: one row per request, in input order.

Results come back in any order, from several files and rounds. The job's first round covers the
input in order, part by part, so the join runs part by part: one part's first-round result lines
are held (as raw bytes) while that part's input is read in order, and a line from a later round,
when there is one, takes the place of the earlier outcome. Memory is bounded by one part's results
plus the requests that were sent again, never by the size of the job.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from airflow_provider_kimi.batch._paths import open_read
from airflow_provider_kimi.batch.jobs.costs import TokensByModel
from airflow_provider_kimi.batch.jobs.lines import line_custom_id
from airflow_provider_kimi.batch.jobs.table import TableWriter, result_row
from airflow_provider_kimi.batch.results import open_binary, parse_result_line


@dataclass(frozen=True)
class BatchFiles:
    """The result files of one batch of the job."""

    round: int
    batch_id: str
    files: tuple[Any, ...] = ()


@dataclass(frozen=True)
class JobPart:
    """A first-round part: its input file (a slice of the job's input, in order) and its batch."""

    input: Any
    model: str | None
    batch: BatchFiles


@dataclass
class MergeStats:
    """What the table holds."""

    rows: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    tokens: TokensByModel = field(default_factory=TokensByModel)
    rounds: Counter[int] = field(default_factory=Counter)


_Held = tuple[BatchFiles, bytes]


def merge_job(parts: Sequence[JobPart], later: Sequence[BatchFiles], writer: TableWriter) -> MergeStats:
    """Write one row per request of ``parts``' inputs to ``writer``, in input order.

    ``later`` are the batches of the rounds after the first; the latest round's line for a request
    wins. A request with no line anywhere gets a ``failed`` row with error code ``no_result``.
    """
    stats = MergeStats()
    resent: dict[bytes, _Held] = {}
    for batch in sorted(later, key=lambda b: b.round):
        for raw in _lines(batch.files):
            resent[line_custom_id(raw)] = (batch, raw)
    for part in parts:
        first = {line_custom_id(raw): (part.batch, raw) for raw in _lines(part.batch.files)}
        _write_part(part, first, resent, writer, stats)
    return stats


def _write_part(
    part: JobPart, first: dict[bytes, _Held], resent: dict[bytes, _Held], writer: TableWriter, stats: MergeStats
) -> None:
    tokens = stats.tokens.for_model(part.model)
    counts, rounds, write, loads = stats.counts, stats.rounds, writer.write, orjson.loads
    with open_read(part.input) as handle:
        for raw in handle:
            if not raw.strip():
                continue
            key = line_custom_id(raw)
            held = resent.get(key) or first.get(key)
            custom_id = key.decode()
            if held is None:
                row = result_row(custom_id, None, part.batch.batch_id, part.batch.round)
            else:
                batch, line = held
                result = parse_result_line(loads(line), source=f"batch {batch.batch_id}")
                row = result_row(custom_id, result, batch.batch_id, batch.round)
                tokens.add(result.prompt_tokens, result.cached_tokens, result.completion_tokens)
            write(row)
            stats.rows += 1
            counts[row["status"]] += 1
            rounds[row["round"]] += 1


def _lines(files: Sequence[Any]) -> Iterator[bytes]:
    """Every non-blank line of ``files``, as bytes."""
    for source in files:
        if source is None:
            continue
        with open_binary(source) as handle:
            for raw in handle:
                if raw.strip():
                    yield raw
