"""KimiBatchTrigger: waits for a batch in the triggerer's event loop, never blocking it."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import openai
from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_kimi.batch.errors import KimiValueError
from airflow_provider_kimi.batch.snapshot import BatchSnapshot
from airflow_provider_kimi.batch.wait import (
    DEFAULT_MAX_CONSECUTIVE_ERRORS,
    DEFAULT_POLL_INTERVAL_SECONDS,
    PollFailure,
    Step,
    WaitCore,
)
from airflow_provider_kimi.client.poller import poller_for
from airflow_provider_kimi.client.shared import SharedAsyncClient
from airflow_provider_kimi.client.translate import describe_error, explain, poll_failure
from airflow_provider_kimi.hooks.async_clients import acquire_client, release_client, shared_client
from airflow_provider_kimi.hooks.kimi import KimiBatchHook

# A poll may wait this share of its interval for other waits' polls to join the same round.
GATHER_SHARE = 0.1


class KimiBatchTrigger(BaseTrigger):
    """Poll a Kimi batch with the async client until it ends, then yield exactly one event.

    Every wait of one connection in a triggerer shares one async client, one request budget
    (the connection's ``max_requests_per_minute``, see :mod:`~airflow_provider_kimi.client.shared`)
    and one poller (:mod:`~airflow_provider_kimi.client.poller`) that learns the status of every due
    wait from as few list or retrieve calls as it can. Thousands of waits open a few HTTP
    connections and keep to the account's rate limit together; a 429 makes all of them back off.
    Each wait keeps its own interval, deadline and error count (the
    :class:`~airflow_provider_kimi.batch.wait.WaitCore`), and fires its own single event.

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
        each after the connection's ``max_retries`` quick retries by the paced transport.
    :param adaptive_polling: Poll a batch less often as it ages: ``poll_interval`` for its first
        10 minutes, then growing with its age up to 10 x ``poll_interval`` or 10 minutes
        (:func:`~airflow_provider_kimi.batch.wait.interval.adaptive_poll_interval`).
    """

    def __init__(
        self,
        batch_id: str,
        conn_id: str = KimiBatchHook.default_conn_name,
        poll_interval: float = DEFAULT_POLL_INTERVAL_SECONDS,
        timeout: float | None = None,
        *,
        end_time: float | None = None,
        cancel_on_kill: bool = False,
        max_consecutive_errors: int = DEFAULT_MAX_CONSECUTIVE_ERRORS,
        adaptive_polling: bool = True,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        if end_time is None and timeout is None:
            raise KimiValueError("KimiBatchTrigger needs a timeout (seconds) or an end_time (epoch seconds).")
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

    def _event(self, status: str, message: str, snapshot: BatchSnapshot | None = None) -> TriggerEvent:
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

    def wait_core(self) -> WaitCore:
        """This wait's rules: a deferred wait, its first interval spread over half to one interval."""
        return WaitCore(
            self.batch_id,
            poll_interval=self.poll_interval,
            deadline=self.end_time,
            max_consecutive_errors=self.max_consecutive_errors,
            adaptive=self.adaptive_polling,
            deferred=True,
            spread_first=True,
            draw=random.random(),
        )

    def _failure(self, err: Exception, shared: SharedAsyncClient) -> PollFailure | None:
        """The error as the core judges it, said with this wait's connection and endpoint."""
        failure = poll_failure(err)
        if failure is None or not isinstance(err, openai.OpenAIError):
            return failure
        better = explain(err, self.conn_id, shared.settings.base_url)
        return failure if better is None else PollFailure(str(better), failure.http_status)

    async def _poll_until_done(self, shared: SharedAsyncClient) -> TriggerEvent:
        poller = poller_for(shared)
        core = self.wait_core()
        while True:
            now = time.time()
            if core.expired(now):
                return self._event("timeout", core.timed_out().message)
            core.polling(now)
            try:
                snapshot = await poller.status(
                    self.batch_id,
                    core.created_at,
                    within=core.interval(now) * GATHER_SHARE,
                    timeout=core.time_left(now),
                )
            except TimeoutError:
                return self._event("timeout", core.timed_out().message)
            except Exception as err:
                failure = self._failure(err, shared)
                if failure is None:
                    raise
                step = core.failed(failure, time.time())
            else:
                step = core.observe(snapshot, time.time())
                del snapshot
            event = self._finish(step)
            if event is not None:
                return event
            pause = max(0.0, step.next_poll_at - time.time())
            # Between polls a wait keeps only its core: thousands of sleeping waits stay small.
            del step
            await asyncio.sleep(pause)

    def _finish(self, step: Step) -> TriggerEvent | None:
        """Log the step; the event that ends the wait, or None to poll again."""
        if step.action == "finish":
            self.log.info("%s", step.message)
            return self._event(
                "success", f"Batch {self.batch_id} ended {step.snapshot and step.snapshot['status']}.", step.snapshot
            )
        if step.action == "timeout":
            return self._event("timeout", step.message)
        if step.action == "give_up":
            return self._event("error", step.message)
        if step.warning:
            self.log.warning("%s", step.message)
        else:
            self.log.info("%s", step.message)
        return None

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
