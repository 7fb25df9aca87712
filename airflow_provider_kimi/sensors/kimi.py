"""KimiBatchSensor: wait for a batch to end, poking from a worker or deferred to the triggerer."""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseSensorOperator, PokeReturnValue, conf

from airflow_provider_kimi.batch.outcome import DEFAULT_SUCCEED_ON, check_succeed_on
from airflow_provider_kimi.batch.snapshot import BatchSnapshot, batch_id_of, describe_progress
from airflow_provider_kimi.batch.wait import DEFAULT_MAX_CONSECUTIVE_ERRORS, DEFAULT_POLL_INTERVAL_SECONDS, WaitCore
from airflow_provider_kimi.batch.windows import DEFAULT_WAIT_TIMEOUT_SECONDS
from airflow_provider_kimi.hooks.errors import kimi_errors_explained
from airflow_provider_kimi.hooks.kimi import KimiBatchHook
from airflow_provider_kimi.links import KimiBatchConsoleLink
from airflow_provider_kimi.triggers.events import finish_wait, raise_if_ended_badly
from airflow_provider_kimi.triggers.kimi import KimiBatchTrigger

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


class KimiBatchSensor(BaseSensorOperator):
    """Wait until a Kimi batch ends; return its snapshot (ids, status, counts) to XCom.

    On ``completed`` the task succeeds. On ``failed``, ``expired`` or ``cancelled`` it fails with
    the reason (and the errors Kimi reports, if any), unless that status is listed in
    ``succeed_on``, e.g. ``succeed_on=("completed", "expired", "cancelled")`` to go on and download
    the partial results already paid for. Each check logs status, completed/total and failed.

    :param batch_id: The batch to wait for (templated); a batch dict from XCom works too.
    :param kimi_conn_id: The Kimi connection id (templated). Default ``kimi_default``.
    :param deferrable: Hand the wait to the triggerer so no worker slot is held. Default
        ``[operators] default_deferrable``.
    :param poke_interval: Seconds between checks. Default 60 (Kimi's guide suggests 10 to 60).
    :param timeout: Seconds before the wait gives up (the batch keeps running). Default 7 days and
        one hour: long enough for any ``completion_window``.
    :param succeed_on: Ended statuses that count as success. Default ``("completed",)``.
    :param cancel_on_kill: Cancel the batch if the task is killed or marked failed. Default False:
        the sensor only watches a batch some other task started.
    :param max_consecutive_errors: Transient API errors tolerated in a row, poking or deferred (in
        ``reschedule`` mode each poke is a new task try, so only the deferred and ``poke`` modes count
        a run). Default 5.
    :param adaptive_polling: While deferred, stretch the interval as the batch ages (the base for its
        first 10 minutes, then up to 10 x the base and at most 10 minutes). Default True.
    """

    template_fields: Sequence[str] = ("batch_id", "kimi_conn_id")
    operator_extra_links = (KimiBatchConsoleLink(),)
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        batch_id: Any,
        kimi_conn_id: str = KimiBatchHook.default_conn_name,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poke_interval: float = DEFAULT_POLL_INTERVAL_SECONDS,
        timeout: float = DEFAULT_WAIT_TIMEOUT_SECONDS,
        succeed_on: Collection[str] = DEFAULT_SUCCEED_ON,
        cancel_on_kill: bool = False,
        max_consecutive_errors: int = DEFAULT_MAX_CONSECUTIVE_ERRORS,
        adaptive_polling: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(poke_interval=poke_interval, timeout=timeout, **kwargs)
        self.batch_id = batch_id
        self.kimi_conn_id = kimi_conn_id
        self.deferrable = deferrable
        self.succeed_on = check_succeed_on(succeed_on)
        self.cancel_on_kill = cancel_on_kill
        self.max_consecutive_errors = max_consecutive_errors
        self.adaptive_polling = adaptive_polling

    @cached_property
    def hook(self) -> KimiBatchHook:
        """The hook, built on first use so parsing the DAG costs nothing."""
        return KimiBatchHook(kimi_conn_id=self.kimi_conn_id)

    @cached_property
    def wait_core(self) -> WaitCore:
        """The rules of this wait across pokes (the sensor's own ``timeout`` is its deadline)."""
        return WaitCore(
            batch_id_of(self.batch_id),
            poll_interval=self.poke_interval,
            max_consecutive_errors=self.max_consecutive_errors,
        )

    def pre_execute(self, context: Context) -> None:
        """Make the console button point at the batch before the wait starts."""
        super().pre_execute(context)
        KimiBatchConsoleLink.persist(context, self.hook.settings.base_url, batch_id_of(self.batch_id))

    @kimi_errors_explained
    def poke(self, context: Context) -> PokeReturnValue:
        """One check; done once the batch has ended. A tolerated transient error is one more poke."""
        step = self.hook.check_batch(self.wait_core)
        if step.snapshot is None or step.action != "finish":
            return PokeReturnValue(is_done=False)
        return PokeReturnValue(is_done=True, xcom_value=raise_if_ended_badly(step.snapshot, self.succeed_on))

    @kimi_errors_explained
    def execute(self, context: Context) -> Any:
        """Poke, or check once and defer: a batch that has already ended needs no triggerer."""
        if not self.deferrable:
            return super().execute(context)
        step = self.hook.check_batch(self.wait_core)
        if step.snapshot is not None and step.action == "finish":
            return raise_if_ended_badly(step.snapshot, self.succeed_on)
        self.defer(
            trigger=KimiBatchTrigger(
                batch_id=self.wait_core.batch_id,
                conn_id=self.kimi_conn_id,
                poll_interval=self.poke_interval,
                end_time=time.time() + float(self.timeout),
                cancel_on_kill=self.cancel_on_kill,
                max_consecutive_errors=self.max_consecutive_errors,
                adaptive_polling=self.adaptive_polling,
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Context, event: Any = None) -> BatchSnapshot:
        """Resume after the trigger fired: validate its event and apply ``succeed_on``."""
        snapshot = finish_wait(event, self.succeed_on)
        self.log.info("%s", describe_progress(snapshot))
        return snapshot

    def on_kill(self) -> None:
        """Cancel the batch when asked to (a poke-mode task being killed)."""
        if self.cancel_on_kill:
            self.hook.cancel_batch(batch_id_of(self.batch_id))
            self.log.info("Cancelled batch %s because the task was killed.", self.batch_id)
