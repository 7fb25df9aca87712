"""Join every round's results back to the input: one row per request, in input order.

Results come back in any order, from several files and rounds. The job's first round covers the
input in order, part by part, so the join runs part by part: one part's first-round result lines
are held (as raw bytes) while that part's input is read in order, and a line from a later round,
when there is one, takes the place of the earlier outcome. Memory is bounded by one part's results
plus the requests that were sent again, never by the size of the job.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from airflow_provider_kimi.batch._paths import open_read
from airflow_provider_kimi.batch.jobs.lines import line_custom_id
from airflow_provider_kimi.batch.jobs.table import TableWriter, answered_row, result_row
from airflow_provider_kimi.batch.pricing import TokensByModel
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
_ID_OPENING = b'{"custom_id":"'
_ID_START = len(_ID_OPENING)
_RESULT_KEY = b'"custom_id":"'
_RESULT_KEY_LENGTH = len(_RESULT_KEY)


def merge_job(parts: Sequence[JobPart], later: Sequence[BatchFiles], writer: TableWriter) -> MergeStats:
    """Write one row per request of ``parts``' inputs to ``writer``, in input order.

    ``later`` are the batches of the rounds after the first; the latest round's line for a request
    wins. A request with no line anywhere gets a ``failed`` row with error code ``no_result``.
    """
    stats = MergeStats()
    resent: dict[bytes, _Held] = {}
    for batch in sorted(later, key=lambda b: b.round):
        resent.update((key, (batch, line)) for key, line in _index(batch).items())
    for part in parts:
        _write_part(part, _index(part.batch), resent, writer, stats)
    return stats


def _write_part(
    part: JobPart, first: dict[bytes, bytes], resent: dict[bytes, _Held], writer: TableWriter, stats: MergeStats
) -> None:
    # One pass per request of a job of millions: names are bound to locals, and the common row (a
    # first-round answer) is counted in plain integers; anything else goes through the Counters.
    loads, fast, write = orjson.loads, answered_row, writer.write
    first_get, resent_get = first.get, resent.get
    own = part.batch
    own_id, own_round = own.batch_id, own.round
    tally: Counter[tuple[str, int]] = Counter()
    answered = prompt = cached = completion = 0
    row: dict[str, Any] | None
    with open_read(part.input) as handle:
        for raw in handle:
            if raw.startswith(_ID_OPENING) and (end := raw.find(b'"', _ID_START)) > _ID_START:
                key = raw[_ID_START:end]
                if b"\\" in key:
                    key = line_custom_id(raw)
            elif raw.strip():
                key = line_custom_id(raw)
            else:
                continue
            held = resent_get(key) if resent else None
            if held is None:
                line = first_get(key)
                if line is None:
                    row = result_row(key.decode(), None, own_id, own_round)
                    write(row)
                    tally[row["status"], own_round] += 1
                    continue
                batch = own
            else:
                batch, line = held
            decoded = loads(line)
            row = fast(decoded, key.decode(), batch.batch_id, batch.round)
            if row is None:
                result = parse_result_line(decoded, source=f"batch {batch.batch_id}")
                row = result_row(key.decode(), result, batch.batch_id, batch.round)
                tally[row["status"], batch.round] += 1
            elif batch is own:
                answered += 1
            else:
                tally["succeeded", batch.round] += 1
            write(row)
            usage = row["usage"]
            used, hit = usage["prompt_tokens"], usage["cached_tokens"]
            prompt += used
            cached += hit if hit <= used else used
            completion += usage["completion_tokens"]
    tally["succeeded", own_round] += answered
    for (status, number), rows in tally.items():
        stats.counts[status] += rows
        stats.rounds[number] += rows
        stats.rows += rows
    stats.tokens.for_model(part.model).add(prompt, cached, completion)


def _index(batch: BatchFiles) -> dict[bytes, bytes]:
    """Every result line of a batch's files, by ``custom_id``, as raw bytes (a later line wins)."""
    held: dict[bytes, bytes] = {}
    find = bytes.find
    for source in batch.files:
        with open_binary(source) as handle:
            for raw in handle:
                start = find(raw, _RESULT_KEY)
                end = find(raw, b'"', start + _RESULT_KEY_LENGTH) if start > 0 else -1
                # The fast path holds when no object opens before the key (it is top level).
                if end > 0 and find(raw, b"{", 1, start) == -1:
                    key = raw[start + _RESULT_KEY_LENGTH : end]
                    if b"\\" in key:
                        key = line_custom_id(raw)
                elif raw.strip():
                    key = line_custom_id(raw)
                else:
                    continue
                held[key] = raw
    return held
