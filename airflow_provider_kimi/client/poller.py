"""One poller per connection and event loop: every deferred wait's status from as few requests as possible.

A triggerer can hold thousands of waits on one account, and Kimi counts every request against the
account's rate limit. One retrieve per wait per interval stops scaling at the limit (200 a
minute on Tier1 is 200 waits at a 60 s interval). Kimi's batch list is organization-wide and
answers up to a page of batches per request, so the poller serves every due wait together:

- Waits ask :meth:`BatchPoller.status` when their own interval says so, and let a round start
  up to a tenth of their interval later, so the requests of waits that poll close together
  share one round. Requests that arrive while a round runs are served by the next round (or by
  the current one when its listing shows their batch).
- Each round picks the cheaper way: one due batch is retrieved; two or more are listed page by
  page with the largest page size the server accepts (a page can answer a hundred waits, a
  retrieve one), until every due batch was seen, or the pages pass the ``created_at`` of every
  unseen one, or more pages in a row answered nothing than batches remain unseen (they lie
  deep: retrieving them is cheaper). The rest are retrieved one by one.
- The listing's order (newest first) is checked as it is read; once it breaks, the poller stops
  inferring that a batch was passed. Whatever the listing did (skip a batch, fail a page, stop
  early), every due batch it did not show is retrieved on its own, so no wait is missed or
  stalled.
- One answer fans out to every wait of that batch. Every request goes through the connection's
  shared client, so the request budget and a 429's pause govern the poller as they govern
  everything else.

The poller holds only what is pending: waits keep their own deadline, interval and error count
(the wait core), so nothing new is serialized and a restarted triggerer starts afresh.
"""

from __future__ import annotations

import asyncio
import json
import math
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import openai

from airflow_provider_kimi.batch.identity import same_batch
from airflow_provider_kimi.batch.snapshot import BatchSnapshot, batch_snapshot
from airflow_provider_kimi.client.errors import KimiPaginationError
from airflow_provider_kimi.client.listing import ListingGuard
from airflow_provider_kimi.client.shared import SharedAsyncClient

# Page sizes tried in turn until the server accepts one: OpenAI's maximum, then Kimi's default.
LIST_PAGE_SIZES: tuple[int, ...] = (100, 50, 20)


@dataclass
class PollerCounts:
    """What the poller sent, for logs, tests and benchmarks."""

    rounds: int = 0
    pages: int = 0
    retrieves: int = 0
    fallbacks: int = 0
    served_by_list: int = 0


class BatchPoller:
    """Serves the status requests of every wait of one shared client (see the module doc)."""

    def __init__(self, shared: SharedAsyncClient) -> None:
        self.shared = shared
        self.counts = PollerCounts()
        self.page_sizes = list(LIST_PAGE_SIZES)
        self.listing = True
        self.order_trusted = True
        self._pending: dict[str, list[asyncio.Future[BatchSnapshot]]] = {}
        self._created: dict[str, float] = {}
        self._rounds: asyncio.Task[None] | None = None
        # When the next round starts at the latest: the earliest a pending request may be served.
        self._start_by = math.inf

    async def status(
        self, batch_id: str, created_at: float | None = None, within: float = 0.0, timeout: float | None = None
    ) -> BatchSnapshot:
        """The batch's snapshot from the next round that learns it; raises what that request raised.

        ``created_at`` (learnt from an earlier snapshot) tells the round when its listing has
        passed the batch; ``within`` is how many seconds the caller lets the round wait for other
        requests to join; after ``timeout`` seconds ``TimeoutError`` is raised (a timer, not a
        task: thousands of pending requests stay small).
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[BatchSnapshot] = loop.create_future()
        self._pending.setdefault(batch_id, []).append(future)
        if created_at is not None:
            self._created[batch_id] = created_at
        self._start_by = min(self._start_by, loop.time() + within)
        if self._rounds is None or self._rounds.done():
            self._rounds = loop.create_task(self._run_rounds())
        timer = None if timeout is None else loop.call_later(max(0.0, timeout), _expire, future)
        try:
            return await future
        finally:
            if timer is not None:
                timer.cancel()
            # Answered: already gone. Cancelled or expired (deadline, kill): forget its request.
            self._forget(batch_id, future)

    def _forget(self, batch_id: str, future: asyncio.Future[BatchSnapshot]) -> None:
        waiting = self._pending.get(batch_id)
        if waiting is None:
            return
        if future in waiting:
            waiting.remove(future)
        if not waiting:
            del self._pending[batch_id]
            self._created.pop(batch_id, None)

    def _answer(self, batch_id: str, snapshot: BatchSnapshot) -> None:
        for future in self._pending.pop(batch_id, ()):
            if not future.done():
                future.set_result(snapshot)
        self._created.pop(batch_id, None)

    def _fail(self, batch_id: str, err: BaseException) -> None:
        for future in self._pending.pop(batch_id, ()):
            if not future.done():
                future.set_exception(err)
        self._created.pop(batch_id, None)

    async def _run_rounds(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            # Start when the first request's patience ends, or when the budget's next send time
            # comes if that is later: the requests that come meanwhile join this round.
            now = loop.time()
            gather = max(self._start_by, self.shared.budget.next_free(now)) - now
            if gather > 0:
                await asyncio.sleep(gather)
            self._start_by = math.inf
            if not self._pending:
                return
            self.counts.rounds += 1
            due = list(self._pending)
            try:
                listed = self.should_list(due)
                answered = await self._list(due) if listed else set()
                # A wait answered by the listing may already ask again: that is the next round's.
                rest = [batch_id for batch_id in due if batch_id in self._pending and batch_id not in answered]
                if listed:
                    self.counts.fallbacks += len(rest)
                await self._retrieve_each(rest)
            except Exception as err:  # never leave a wait hanging on a round that broke
                for batch_id in due:
                    self._fail(batch_id, err)

    def should_list(self, due: list[str]) -> bool:
        """List when two or more batches are due: a page may answer them all, a retrieve one."""
        return self.listing and len(due) >= 2

    async def _list(self, due: list[str]) -> set[str]:
        """List pages until the due batches are seen or listing stops paying; answer what it shows.

        Every pending request a page shows is answered, including those that came after the round
        began, so a long listing serves the waits that fall due while it runs. Returns the ids
        it answered.
        """
        unseen = set(due)
        answered_ids: set[str] = set()
        after: str | None = None
        reached = math.inf
        idle_pages = 0  # pages in a row that answered no request
        guard = ListingGuard("GET /v1/batches")
        while True:
            body = await self._page(after)
            if body is None:
                return answered_ids
            try:
                # Only ids not seen before count: a server that ignores ``after`` ends the listing.
                data, next_after = guard.take(body.get("data") or [], body.get("has_more"))
            except KimiPaginationError:
                return answered_ids  # a server paging without end: retrieve the rest instead
            answered = 0
            for item in data:
                created = item.get("created_at")
                if isinstance(created, (int, float)):
                    if created > reached:
                        self.order_trusted = False  # not newest first: "passed" means nothing now
                    reached = created
                batch_id = item.get("id")
                if batch_id in self._pending:
                    answered += 1
                    self._answer(batch_id, batch_snapshot(item))
                    answered_ids.add(batch_id)
                    unseen.discard(batch_id)
            self.counts.served_by_list += answered
            idle_pages = 0 if answered else idle_pages + 1
            if next_after is None:
                return answered_ids
            unseen = {batch_id for batch_id in unseen if batch_id in self._pending and batch_id not in answered_ids}
            if self._listing_done(unseen, idle_pages, reached):
                return answered_ids
            after = next_after

    def _listing_done(self, unseen: set[str], idle_pages: int, reached: float) -> bool:
        """Whether to stop listing and retrieve the rest.

        Stop when nothing due is unseen; when the order holds and every unseen batch was created
        after the pages' position (the listing passed it without showing it); or when more pages
        in a row answered nothing than there are unseen batches (they lie deep: retrieving them
        is cheaper, and a listing never costs more than twice what retrieving would have).
        """
        if not unseen or idle_pages >= len(unseen):
            return True
        if not self.order_trusted:
            return False
        return all(self._created.get(batch_id, -math.inf) > reached for batch_id in unseen)

    async def _page(self, after: str | None) -> dict[str, Any] | None:
        """One page of the batch list as JSON, at the largest page size the server accepts.

        ``None`` when the page failed: the round then retrieves what it did not see.
        """
        while self.page_sizes:
            limit = self.page_sizes[0]
            self.counts.pages += 1
            try:
                response = await self.shared.call(
                    lambda client, limit=limit: client.batches.with_raw_response.list(  # type: ignore[misc]
                        limit=limit, after=after if after is not None else openai.omit
                    )
                )
            except openai.BadRequestError:
                self.page_sizes.pop(0)  # too large for this server: try the next size
                continue
            except Exception:
                return None
            body = json.loads(response.content)
            return body if isinstance(body, dict) else None
        self.listing = False  # the server takes no page size we know: retrieve from now on
        return None

    async def _retrieve_each(self, batch_ids: Iterable[str]) -> None:
        """Retrieve batches one request each, a few at a time (the shared client's concurrency)."""
        queue = list(batch_ids)
        if not queue:
            return

        async def worker() -> None:
            while queue:
                batch_id = queue.pop()
                if batch_id not in self._pending:
                    continue
                self.counts.retrieves += 1
                try:
                    response = await self.shared.call(
                        lambda client, batch_id=batch_id: client.batches.with_raw_response.retrieve(batch_id)  # type: ignore[misc]
                    )
                    # An answer about another batch is refused, as the hook refuses it.
                    snapshot = batch_snapshot(same_batch(batch_id, json.loads(response.content)))
                except Exception as err:
                    self._fail(batch_id, err)
                else:
                    self._answer(batch_id, snapshot)

        await asyncio.gather(*(worker() for _ in range(min(len(queue), self.shared.max_in_flight))))


def _expire(future: asyncio.Future[BatchSnapshot]) -> None:
    if not future.done():
        future.set_exception(TimeoutError("the wait's deadline passed before its batch's status came"))


_POLLERS: weakref.WeakKeyDictionary[SharedAsyncClient, BatchPoller] = weakref.WeakKeyDictionary()


def poller_for(shared: SharedAsyncClient) -> BatchPoller:
    """The poller of a shared client, built on first use; it lives as long as the client."""
    poller = _POLLERS.get(shared)
    if poller is None:
        poller = _POLLERS[shared] = BatchPoller(shared)
    return poller
