"""KimiBatchTrigger: waits for a batch in the triggerer's event loop, never blocking it."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import openai
from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_kimi.batch.identity import same_batch
from airflow_provider_kimi.batch.polling import adaptive_poll_interval, sleep_before_next_poll
from airflow_provider_kimi.batch.snapshot import batch_snapshot, describe_progress
from airflow_provider_kimi.batch.status import BatchStatus, UnknownBatchStatusError
from airflow_provider_kimi.hooks.async_clients import (
    NoRequestSlotBeforeDeadline,
    SharedAsyncClient,
    acquire_client,
    release_client,
    shared_client,
)
from airflow_provider_kimi.hooks.errors import TRANSIENT_ERRORS, describe_error, explain
from airflow_provider_kimi.hooks.kimi import KimiBatchHook

DEFAULT_MAX_CONSECUTIVE_ERRORS = 5


def _ends_wait(status: str, log: Any) -> bool:
    """Whether ``status`` ends the wait. A status newer than this provider does not: the wait
    goes on to its deadline, rather than leaving the batch running unwatched."""
    try:
        return BatchStatus(status).is_terminal
    except UnknownBatchStatusError as err:
        log.warning("%s The wait goes on until its deadline.", err)
        return False


class KimiBatchTrigger(BaseTrigger):
    """Poll a Kimi batch with the async client until it ends, then yield exactly one event.

    Every wait of one connection in a triggerer shares one async client and one request budget
    (the connection's ``max_requests_per_minute``, see :mod:`~airflow_provider_kimi.hooks.async_clients`),
    so thousands of waits open a few HTTP connections and keep to the account's rate limit
    together; a 429 makes all of them back off.

    The event is ``{"status": "success", "batch_id", "batch": snapshot}`` once the batch reaches a
    terminal status (``completed``, ``failed``, ``expired`` or ``cancelled``: the resumed task
    decides what each means), ``{"status": "timeout", ...}`` when ``end_time`` passes, or
    ``{"status": "error", ...}`` after a permanent API error or more than
    ``max_consecutive_errors`` transient ones in a row. ``run()`` never raises.

    :param batch_id: The batch to wait for.
    :param conn_id: The Kimi connection id. Only the id is serialized, never the key.
    :param poll_interval: Seconds from one poll to the next (the base interval when ``adaptive_polling``);
        the first wait is drawn between half and one interval, so waits deferred together spread out.
    :param timeout: Seconds to wait from now; turned into the wall-clock ``end_time``.
    :param end_time: Wall-clock deadline (epoch seconds). It is what gets serialized, so a trigger
        moved to another triggerer keeps the same deadline. Wins over ``timeout``.
    :param cancel_on_kill: Cancel the batch when a user kills the deferred task (Airflow 3.3+).
    :param max_consecutive_errors: Transient failures (429, 5xx, network) tolerated in a row,
        each after the connection's ``max_retries`` quick retries.
    :param adaptive_polling: Poll a batch less often as it ages: ``poll_interval`` for its first
        10 minutes, then growing with its age up to 10 x ``poll_interval`` or 10 minutes
        (:func:`~airflow_provider_kimi.batch.polling.adaptive_poll_interval`).
    """

    def __init__(
        self,
        batch_id: str,
        conn_id: str = KimiBatchHook.default_conn_name,
        poll_interval: float = 60.0,
        timeout: float | None = None,
        *,
        end_time: float | None = None,
        cancel_on_kill: bool = False,
        max_consecutive_errors: int = DEFAULT_MAX_CONSECUTIVE_ERRORS,
        adaptive_polling: bool = True,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        if end_time is None and timeout is None:
            raise ValueError("KimiBatchTrigger needs a timeout (seconds) or an end_time (epoch seconds).")
        self.batch_id = batch_id
        self.conn_id = conn_id
        self.poll_interval = float(poll_interval)
        self.end_time = float(end_time if end_time is not None else time.time() + float(timeout or 0))
        self.cancel_on_kill = cancel_on_kill
        self.max_consecutive_errors = int(max_consecutive_errors)
        self.adaptive_polling = bool(adaptive_polling)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Ids and settings only: the key stays in the connection."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "batch_id": self.batch_id,
                "conn_id": self.conn_id,
                "poll_interval": self.poll_interval,
                "end_time": self.end_time,
                "cancel_on_kill": self.cancel_on_kill,
                "max_consecutive_errors": self.max_consecutive_errors,
                "adaptive_polling": self.adaptive_polling,
            },
        )

    def _event(self, status: str, message: str, snapshot: dict[str, Any] | None = None) -> TriggerEvent:
        payload: dict[str, Any] = {"status": status, "batch_id": self.batch_id, "message": message}
        if snapshot is not None:
            payload["batch"] = snapshot
        return TriggerEvent(payload)  # type: ignore[no-untyped-call]

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until the batch ends, the deadline passes, or errors make waiting pointless."""
        try:
            shared = await acquire_client(self.conn_id)
        except Exception as err:
            yield self._event("error", f"Cannot build a Kimi client from {self.conn_id!r}: {describe_error(err)}")
            return
        try:
            event = await self._poll_until_done(shared)
        except Exception as err:
            event = self._event("error", f"Waiting for batch {self.batch_id} failed: {describe_error(err)}")
        finally:
            # The lease ends before the event leaves, so the client never outlives its last wait.
            release_client(shared)
        yield event

    def _explain(self, err: Exception, shared: SharedAsyncClient) -> str:
        """The error with this wait's connection and endpoint, as a task would say it."""
        better = explain(err, self.conn_id, shared.settings.base_url) if isinstance(err, openai.OpenAIError) else None
        return str(better) if better is not None else describe_error(err)

    def _timeout_event(self) -> TriggerEvent:
        return self._event(
            "timeout",
            f"Batch {self.batch_id} did not end before the wait's deadline; it keeps running on Kimi.",
        )

    def next_interval(self, created_at: float | None) -> float:
        """Seconds to the next poll: the base, or the adaptive interval for the batch's age."""
        if not self.adaptive_polling or created_at is None:
            return self.poll_interval
        return adaptive_poll_interval(self.poll_interval, time.time() - created_at)

    async def _fetch(self, shared: SharedAsyncClient, deadline: float) -> dict[str, Any]:
        batch = await shared.call(lambda client: client.batches.retrieve(self.batch_id), deadline=deadline)
        return batch_snapshot(same_batch(self.batch_id, batch))

    async def _poll_until_done(self, shared: SharedAsyncClient) -> TriggerEvent:
        loop = asyncio.get_running_loop()
        consecutive_errors = 0
        # Between polls a wait keeps only this number: thousands of sleeping waits stay small.
        created_at: float | None = None
        first = True
        while True:
            started = loop.time()
            remaining = self.end_time - time.time()
            try:
                snapshot = await self._fetch(shared, loop.time() + max(0.0, remaining))
            except NoRequestSlotBeforeDeadline:
                return self._timeout_event()
            except TRANSIENT_ERRORS as err:
                consecutive_errors += 1
                if consecutive_errors > self.max_consecutive_errors:
                    return self._event(
                        "error",
                        f"Gave up polling batch {self.batch_id} after {consecutive_errors} failures "
                        f"in a row; last: {self._explain(err, shared)}. The batch may still be running.",
                    )
                self.log.warning(
                    "Polling batch %s failed (%d/%d): %s",
                    self.batch_id,
                    consecutive_errors,
                    self.max_consecutive_errors,
                    describe_error(err),
                )
            except Exception as err:
                return self._event("error", f"Polling batch {self.batch_id} failed: {self._explain(err, shared)}")
            else:
                consecutive_errors = 0
                self.log.info("%s", describe_progress(snapshot))
                if _ends_wait(snapshot["status"], self.log):
                    return self._event("success", f"Batch {self.batch_id} ended {snapshot['status']}.", snapshot)
                stamp = snapshot.get("created_at")
                created_at = float(stamp) if isinstance(stamp, (int, float)) else None
                del snapshot
            remaining = self.end_time - time.time()
            if remaining <= 0:
                return self._timeout_event()
            pause = sleep_before_next_poll(
                self.next_interval(created_at), loop.time() - started, first=first, draw=random.random()
            )
            first = False
            await asyncio.sleep(min(pause, remaining))

    async def on_kill(self) -> None:
        """Cancel the batch when a user kills the deferred task and asked for it (Airflow 3.3+)."""
        if not self.cancel_on_kill:
            return
        try:
            async with shared_client(self.conn_id) as shared:
                await shared.call(lambda client: client.batches.cancel(self.batch_id))
            self.log.info("Cancelled batch %s because its task was killed.", self.batch_id)
        except Exception as err:
            self.log.warning("Could not cancel batch %s on kill: %s", self.batch_id, describe_error(err))
