"""The batch lifecycle, derived from stored timestamps.

A batch's state is a function of its record and the clock: every read, and a light background
ticker, advance it to "now". Nothing depends on a client polling, and a restarted server picks up
exactly where the timestamps say it should be.

validating -> in_progress -> finalizing -> completed; validating -> failed; any active status ->
expired when the window passes; cancel -> cancelling -> cancelled. Cancelled and expired batches
keep the lines finished so far; the rest are written to the error file as never run.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import orjson

from airflow_provider_kimi.emulator.checks import (
    BatchRequest,
    forbidden_params_in,
    iter_input_lines,
    validate_input,
)
from airflow_provider_kimi.emulator.errors import bad_request, not_found
from airflow_provider_kimi.emulator.invalid_answers import spoils_first_answer
from airflow_provider_kimi.emulator.listing import after_cursor
from airflow_provider_kimi.emulator.ordering import shuffle_lines
from airflow_provider_kimi.emulator.replies import answer_body, cached_prefix_tokens, json_mode, kimi_reply
from airflow_provider_kimi.emulator.responder import Reply, digest, error_reply, respond
from airflow_provider_kimi.emulator.scripted import ScriptedReplies, load_replies
from airflow_provider_kimi.emulator.settings import EmulatorSettings
from airflow_provider_kimi.emulator.store import BatchRecord, FileRecord, Store, new_id

logger = logging.getLogger(__name__)
ACTIVE = frozenset({"validating", "in_progress", "finalizing"})
FINISHED = frozenset({"completed", "failed", "expired", "cancelled"})
# Kimi writes no purpose of its own for results; like OpenAI, output and error files are
# ``batch_output`` files, listed and downloaded like any other file.
OUTPUT_PURPOSE = "batch_output"
MAX_REQUESTS_PER_STEP = 5000
_API_TIMES = (
    "in_progress_at",
    "finalizing_at",
    "completed_at",
    "failed_at",
    "cancelling_at",
    "cancelled_at",
)


def _int_time(value: float | None) -> int | None:
    return None if value is None else int(value)


class BatchEngine:
    """Creates, advances, cancels and (for tests) forces batches; every method is thread-safe."""

    def __init__(self, settings: EmulatorSettings, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock
        # Prompt prefixes each running batch has seen, for cached-token counts (kept in memory only).
        self._prefixes: dict[str, set[str]] = {}
        self.settings = settings
        self.scripted: ScriptedReplies | None = None
        self.hold_new_batches_after = settings.hold_new_batches_after
        self.apply(settings)

    def apply(self, settings: EmulatorSettings) -> None:
        """Serve by these settings from now on (``ValueError`` when their replies cannot be loaded)."""
        scripted = None if settings.replies is None else ScriptedReplies(*load_replies(settings.replies))
        with self.store.lock:
            self.settings = settings
            self.scripted = scripted

    def reset(self, settings: EmulatorSettings) -> None:
        """Forget every file, batch and answer count, and serve by ``settings`` as if just started."""
        with self.store.lock:
            self.apply(settings)
            self.hold_new_batches_after = settings.hold_new_batches_after
            self._prefixes.clear()
            self.store.clear()

    # -- API operations ---------------------------------------------------------------------
    def create(self, request: BatchRequest) -> dict[str, Any]:
        """Start a batch on an uploaded ``batch`` file (404 if unknown, 400 for another purpose).

        An unknown file id is a 404 ``resource_not_found_error``, as for any unknown id, which is
        also how OpenAI answers a batch on a missing file.
        """
        with self.store.lock:
            source = self.store.files.get(request.input_file_id)
            if source is None:
                raise not_found("file", request.input_file_id)
            if source.purpose != "batch":
                raise bad_request(
                    f"input file {source.id!r} has purpose {source.purpose!r}; a batch needs purpose 'batch'"
                )
            now = self.clock()
            record = BatchRecord(
                id=new_id(),
                input_file_id=source.id,
                input_content_name=source.content_name,
                endpoint=request.endpoint,
                completion_window=request.completion_window,
                metadata=request.metadata,
                created=now,
                deadline=now + request.window_seconds * self.settings.window_scale,
                phase_started=now,
                hold_after=self.hold_new_batches_after,
                result_bytes={},
            )
            self.store.add_batch(record)
            return self.to_api(record)

    def retrieve(self, batch_id: str) -> dict[str, Any]:
        with self.store.lock:
            return self.to_api(self._current(batch_id))

    def list(self, after: str | None, limit: int) -> tuple[list[dict[str, Any]], bool]:
        """A page of batches, newest first, starting after the batch ``after`` (if given).

        An ``after`` id the server does not know yields an empty page.
        """
        with self.store.lock:
            self.tick()
            newest_first = list(reversed(self.store.batches.values()))
            following = after_cursor(newest_first, [b.id for b in newest_first], after)
            shown = [batch for batch in map(self._listed, following[:limit]) if batch is not None]
            return shown, len(following) > limit

    def _listed(self, record: BatchRecord) -> dict[str, Any] | None:
        """A batch as the list shows it; a record that cannot be shown is left out, not the list."""
        try:
            return self.to_api(record)
        except Exception:
            logger.exception("batch %s cannot be shown; the list leaves it out", record.id)
            return None

    def cancel(self, batch_id: str) -> dict[str, Any]:
        """Move an active batch to ``cancelling``; Kimi answers 400 for any other status."""
        with self.store.lock:
            record = self._current(batch_id)
            if record.status not in ACTIVE:
                raise bad_request(f"task state does not allow cancel: batch {batch_id!r} is {record.status}")
            record.status = "cancelling"
            record.cancelling_at = self.clock()
            record.held_at = None
            record.hold_after = None
            self.store.save()
            return self.to_api(record)

    def tick(self) -> None:
        """Advance every unfinished batch to now (called by the background ticker and by lists)."""
        with self.store.lock:
            now = self.clock()
            changed = [
                self._advance_safely(b, now) for b in list(self.store.batches.values()) if b.status not in FINISHED
            ]
            if any(changed):
                self.store.save()

    # -- forcing outcomes -------------------------------------------------------------------
    def expire(self, batch_id: str) -> dict[str, Any]:
        """Let the completion window pass now, keeping the lines finished so far."""
        with self.store.lock:
            record = self._current(batch_id)
            if record.status in ACTIVE:
                self._finish(record, "expired", self.clock())
                self.store.save()
            return self.to_api(record)

    def hold(self, batch_id: str, after_requests: int | None = None) -> dict[str, Any]:
        """Freeze a batch now, or once ``after_requests`` requests are done (cancel and expiry still apply)."""
        with self.store.lock:
            record = self._current(batch_id)
            if after_requests is None:
                record.held_at = record.held_at if record.held_at is not None else self.clock()
            else:
                record.hold_after = after_requests
                self._advance_safely(record, self.clock())
            self.store.save()
            return self.to_api(record)

    def release(self, batch_id: str) -> dict[str, Any]:
        """Undo a hold; the time spent frozen does not count as progress."""
        with self.store.lock:
            record = self._current(batch_id)
            self._release(record, self.clock())
            self._advance_safely(record, self.clock())
            self.store.save()
            return self.to_api(record)

    def rush(self, batch_id: str) -> dict[str, Any]:
        """Drop every remaining delay of a batch (and any hold), so it finishes on the next read."""
        with self.store.lock:
            record = self._current(batch_id)
            now = self.clock()
            self._release(record, now)
            record.rush = True
            record.phase_started = min(record.phase_started, now)
            self._advance_safely(record, now)
            self.store.save()
            return self.to_api(record)

    # -- the state machine ------------------------------------------------------------------
    def _current(self, batch_id: str) -> BatchRecord:
        record = self.store.batches.get(batch_id)
        if record is None:
            raise not_found("batch", batch_id)
        if self._advance_safely(record, self.clock()):
            self.store.save()
        return record

    def _advance_safely(self, record: BatchRecord, now: float) -> bool:
        """``_advance``, but a batch that cannot be advanced fails alone: it never breaks the
        reads, lists and creates of every other batch."""
        try:
            return self._advance(record, now)
        except Exception as exc:
            logger.exception("batch %s cannot be advanced; it fails", record.id)
            record.status = "failed"
            record.failed_at = now
            if self.settings.report_validation_errors:
                record.errors = [{"code": "server_error", "line": None, "param": None, "message": str(exc)[:200]}]
            return True

    def _delay(self, record: BatchRecord, seconds: float) -> float:
        return 0.0 if record.rush else self.settings.scaled(seconds)

    def _seconds_per_request(self, record: BatchRecord) -> float:
        return 0.0 if record.rush else self.settings.seconds_per_request

    def _release(self, record: BatchRecord, now: float) -> None:
        if record.held_at is not None:
            record.phase_started += max(0.0, now - record.held_at)
        record.held_at = None
        record.hold_after = None

    def _advance(self, record: BatchRecord, now: float) -> bool:
        """Bring one batch up to ``now``; True if anything about it changed."""
        before = (record.status, record.completed, record.failed, record.held_at)
        if record.status == "cancelling":
            assert record.cancelling_at is not None
            done_at = record.cancelling_at + self._delay(record, self.settings.cancelling_seconds)
            if now >= done_at:
                self._finish(record, "cancelled", done_at)
        elif record.status in ACTIVE:
            # A held batch is frozen where it stands; only its window can still run out.
            if record.held_at is None:
                self._work(record, min(now, record.deadline))
            if record.status in ACTIVE and now >= record.deadline:
                self._finish(record, "expired", record.deadline)
        return before != (record.status, record.completed, record.failed, record.held_at)

    def _work(self, record: BatchRecord, until: float) -> None:
        """Run the phases whose time has come by ``until``."""
        while True:
            if record.status == "validating":
                end = record.phase_started + self._delay(record, self.settings.validating_seconds)
                if until < end:
                    return
                self._validate(record, end)
            elif record.status == "in_progress":
                if not self._run_due_requests(record, until):
                    return
            elif record.status == "finalizing":
                end = record.phase_started + self._delay(record, self.settings.finalizing_seconds)
                if until < end:
                    return
                self._finish(record, "completed", end)
            else:
                return

    def _validate(self, record: BatchRecord, at: float) -> None:
        path = self.store.content_path(record.input_content_name)
        report = validate_input(path, self.settings, self.purpose_of)
        if report.problems:
            record.status = "failed"
            record.failed_at = at
            # Kimi documents no ``errors`` on a batch; OpenAI's shape is added only on request.
            if self.settings.report_validation_errors:
                record.errors = [p.to_api() for p in report.problems]
            self._drop_orphaned_input(record)
            return
        record.status = "in_progress"
        record.in_progress_at = at
        record.phase_started = at
        record.total = report.total

    def purpose_of(self, file_id: str) -> str | None:
        held = self.store.files.get(file_id)
        return None if held is None else held.purpose

    def _run_due_requests(self, record: BatchRecord, until: float) -> bool:
        """Run the requests due by ``until``; True once all ran and the batch moved to finalizing."""
        per_request = self._seconds_per_request(record)
        done = record.completed + record.failed
        due = record.total if per_request == 0 else math.floor((until - record.phase_started) / per_request)
        due = min(max(due, done), record.total)
        if record.hold_after is not None:
            due = min(due, max(record.hold_after, done))
        # A huge batch runs in slices, so reads in between are not kept waiting on the lock.
        due = min(due, done + MAX_REQUESTS_PER_STEP)
        self._run_requests(record, due - done, per_request)
        done = record.completed + record.failed
        if record.hold_after is not None and done >= record.hold_after and done < record.total:
            record.held_at = record.phase_started + done * per_request
            record.hold_after = None
            return False
        if done < record.total:
            return False
        record.status = "finalizing"
        record.finalizing_at = record.phase_started + record.total * per_request
        record.phase_started = record.finalizing_at
        return True

    def _result_path(self, record: BatchRecord, kind: str) -> Path:
        return self.store.content_path(f"{record.id}.{kind}.jsonl")

    @contextmanager
    def _append_results(self, record: BatchRecord, kind: str) -> Iterator[IO[bytes]]:
        """Open a results file for appending where the record's saved progress says it ends.

        Lines a crash left beyond that point (written, but their progress never saved) are cut
        off first: they run again, so a restart neither repeats nor loses a line.
        """
        kept = None if record.result_bytes is None else record.result_bytes.get(kind, 0)
        with self._result_path(record, kind).open("ab") as handle:
            if kept is not None and handle.tell() > kept:
                handle.truncate(kept)
                handle.seek(0, 2)
            yield handle
            handle.flush()
            if record.result_bytes is not None:
                record.result_bytes[kind] = handle.tell()

    def _run_requests(self, record: BatchRecord, count: int, per_request: float) -> None:
        if count <= 0:
            return
        source = self.store.content_path(record.input_content_name)
        with self._append_results(record, "output") as output, self._append_results(record, "error") as errors:
            for offset, raw in iter_input_lines(source, record.input_offset):
                index = record.completed + record.failed
                created = int(record.phase_started + (index + 1) * per_request)
                line, ok = self._execute(json.loads(raw), created, self._prefixes.setdefault(record.id, set()))
                (output if ok else errors).write(orjson.dumps(line) + b"\n")
                record.input_offset = offset
                if ok:
                    record.completed += 1
                else:
                    record.failed += 1
                count -= 1
                if count == 0:
                    break

    def _execute(self, request: dict[str, Any], created: int, prefixes: set[str]) -> tuple[dict[str, Any], bool]:
        """Answer one input line; the result line and whether it belongs in the output file."""
        custom_id, body = request["custom_id"], request["body"]
        answered = self.store.count_answer(custom_id) if self.settings.counts_answers else 0
        reply = self._reply(custom_id, body, answered, created, prefixes)
        response = {
            "status_code": reply.status_code,
            "request_id": digest([custom_id, body])[:32],
            "body": reply.body,
        }
        # Kimi's documented output line repeats the custom_id as the line ``id``.
        return {"id": custom_id, "custom_id": custom_id, "response": response, "error": None}, reply.ok

    def _reply(self, custom_id: str, body: dict[str, Any], answered: int, created: int, prefixes: set[str]) -> Reply:
        """The server's rules first, then the user's scripted replies, else the built-in answer."""
        settings = self.settings
        forbidden = forbidden_params_in(body, settings) if settings.forbidden_params_policy == "fail_line" else []
        if forbidden:
            return error_reply(400, f"parameters {forbidden} cannot be changed for this model")
        if self.scripted is not None:
            return self.scripted.reply(body, custom_id, answered, created)
        invalid = (
            answered == 0
            and json_mode(body)
            and spoils_first_answer(settings.seed, custom_id, settings.invalid_json_rate)
        )
        return kimi_reply(
            respond(answer_body(body), created),
            body,
            cached_prefix_tokens(body.get("messages") or [], prefixes),
            thinking_models=settings.thinking_models,
            invalid_json=invalid,
        )

    def _finish(self, record: BatchRecord, status: str, at: float) -> None:
        """End a batch: note never-run lines, publish its result files, stamp the time."""
        if status in ("cancelled", "expired") and record.in_progress_at is not None:
            self._write_unrun(record, "batch_cancelled" if status == "cancelled" else "batch_expired")
        self._prefixes.pop(record.id, None)
        record.output_file_id = self._publish(record, "output", at)
        record.error_file_id = self._publish(record, "error", at)
        record.status = status
        record.held_at = None
        record.hold_after = None
        if status == "completed":
            record.completed_at = at
        elif status == "cancelled":
            record.cancelled_at = at
        elif status == "expired":
            record.expired_at = at
        self._drop_orphaned_input(record)

    def _write_unrun(self, record: BatchRecord, code: str) -> None:
        """Give every line that never ran an error-file line (``response`` null).

        ``request_counts`` keep counting only requests that ran, so they show how far it got.
        """
        message = (
            "the batch expired before this request ran"
            if code == "batch_expired"
            else ("the batch was cancelled before this request ran")
        )
        source = self.store.content_path(record.input_content_name)
        with self._append_results(record, "error") as errors:
            for offset, raw in iter_input_lines(source, record.input_offset):
                custom_id = json.loads(raw)["custom_id"]
                line = {
                    "id": custom_id,
                    "custom_id": custom_id,
                    "response": None,
                    "error": {"code": code, "message": message},
                }
                errors.write(orjson.dumps(line) + b"\n")
                record.input_offset = offset

    def _publish(self, record: BatchRecord, kind: str, at: float) -> str | None:
        """Turn a results file into a downloadable file; ``None`` (and no file) when it is empty."""
        path = self._result_path(record, kind)
        with self._append_results(record, kind) as handle:
            size = handle.tell()
        if size == 0:
            path.unlink(missing_ok=True)
            return None
        if not self.settings.ordered_results:
            shuffle_lines(path, self.settings.seed, record.id)
        published = FileRecord(
            id=new_id(),
            filename=f"{record.id}_{kind}.jsonl",
            purpose=OUTPUT_PURPOSE,
            bytes=size,
            created_at=int(at),
            content_name=path.name,
        )
        self.store.files[published.id] = published
        return published.id

    def _drop_orphaned_input(self, record: BatchRecord) -> None:
        """Remove input bytes kept only for this batch after its file was deleted."""
        if record.input_file_id not in self.store.files:
            self.store.discard_content(record.input_content_name)

    # -- the Batch object -------------------------------------------------------------------
    def to_api(self, record: BatchRecord) -> dict[str, Any]:
        """The Batch object clients see (times as unix seconds)."""
        batch: dict[str, Any] = {
            "id": record.id,
            "object": "batch",
            "endpoint": record.endpoint,
            "input_file_id": record.input_file_id,
            "completion_window": record.completion_window,
            "status": record.status,
            "output_file_id": record.output_file_id,
            "error_file_id": record.error_file_id,
            "created_at": int(record.created),
            "expires_at": int(record.deadline),
        }
        batch.update({name: _int_time(getattr(record, name)) for name in _API_TIMES})
        if self.settings.report_expired_at:
            batch["expired_at"] = _int_time(record.expired_at)
        if record.errors is not None:
            batch["errors"] = {"object": "list", "data": record.errors}
        batch["request_counts"] = {
            "total": record.total,
            "completed": record.completed,
            "failed": record.failed,
        }
        batch["metadata"] = record.metadata
        return batch
