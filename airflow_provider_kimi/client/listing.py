"""Every list call, bounded: pages followed while the server says there are more, and no further.

Kimi's ``GET /v1/batches`` pages with ``after`` and ``has_more``; its ``GET /v1/files`` has no
pagination at all (no ``has_more``), and a server may ignore ``after`` and send the first page
again. So a listing follows ``after`` only while ``has_more`` is true, ends normally at a page
that brings no id not already seen, and raises :class:`KimiPaginationError` past
``MAX_LIST_PAGES`` pages, naming the endpoint and the count, rather than asking forever.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from airflow_provider_kimi.client.errors import KimiPaginationError

MAX_LIST_PAGES = 10_000
"""More pages than any account holds (a million batches at 100 a page): past it, the server loops."""


def item_id(item: Any) -> str | None:
    """The ``id`` of a listed item: an SDK object or a decoded JSON object."""
    value = item.get("id") if isinstance(item, Mapping) else getattr(item, "id", None)
    return value if isinstance(value, str) else None


class ListingGuard:
    """The rules of one listing, for sync and async callers alike: what is new, whether to go on.

    Feed it each page's items and ``has_more``; it answers the items not seen before (in the
    server's order) and the ``after`` of the next page, or ``None`` when the listing is over.
    """

    def __init__(self, endpoint: str, max_pages: int | None = None) -> None:
        self.endpoint = endpoint
        self.max_pages = MAX_LIST_PAGES if max_pages is None else max_pages
        self.pages = 0
        self.seen: set[str] = set()

    def take(self, items: Iterable[Any], has_more: Any) -> tuple[list[Any], str | None]:
        """``(new items, next after)``; raises :class:`KimiPaginationError` past the page cap."""
        self.pages += 1
        fresh: list[Any] = []
        for item in items:
            key = item_id(item)
            if key is None or key in self.seen:
                continue
            self.seen.add(key)
            fresh.append(item)
        if has_more is not True or not fresh:
            return fresh, None
        if self.pages >= self.max_pages:
            raise KimiPaginationError(
                f"{self.endpoint} still answered has_more after {self.pages} pages ({len(self.seen)} items): "
                "the server pages without end, so the listing stopped there."
            )
        return fresh, item_id(fresh[-1])


def iter_listed(fetch: Callable[[str | None], Any], endpoint: str) -> Iterator[Any]:
    """Each item of every page ``fetch(after)`` answers (an SDK page), once, in the server's order.

    ``fetch`` gets ``None`` for the first page and the last new id for the next ones.
    """
    guard = ListingGuard(endpoint)
    after: str | None = None
    while True:
        page = fetch(after)
        fresh, after = guard.take(page.data or [], getattr(page, "has_more", None))
        yield from fresh
        if after is None:
            return
