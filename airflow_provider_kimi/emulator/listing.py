"""How the list routes page, so that a client iterating them with the openai SDK comes to an end.

- Batches (Kimi documents it): ``after`` (the last id of the previous page), ``limit`` (default
  20), ``has_more``; no ``first_id``/``last_id``; newest first (OpenAI's order, Kimi names none).
- Files: Kimi documents no pagination and no ``has_more``, and the SDK then asks again with
  ``after`` set to the last id it saw. By default (``files_list_paging="cursor"``) the list answers
  like OpenAI's cursor pages: ``after``, ``limit`` (1..10,000, default 10,000), ``order``
  (``desc`` by default: newest first) and ``purpose`` are honoured, still without ``has_more``, so
  the SDK's next call gets an empty page and stops. ``"none"`` ignores them all and answers every
  file on every call, the strictest reading of "no pagination": an SDK iterating it never ends.

An ``after`` id the server does not hold (never existed, or deleted since) yields an empty page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from airflow_provider_kimi.emulator.errors import bad_request
from airflow_provider_kimi.emulator.store import FileRecord

DEFAULT_BATCH_PAGE = 20
ORDERS = ("asc", "desc")
T = TypeVar("T")


def page_limit(raw: str | None, default: int, largest: int) -> int:
    """The ``limit`` query parameter, or 400 naming it when it is not an integer in 1..largest."""
    try:
        limit = default if raw is None else int(raw)
    except ValueError:
        raise bad_request(f"limit must be an integer, got {raw!r}") from None
    if not 1 <= limit <= largest:
        raise bad_request(f"limit must be between 1 and {largest}, got {limit}")
    return limit


def after_cursor(items: Sequence[T], ids: Sequence[str], after: str | None) -> Sequence[T]:
    """The items that follow the one whose id is ``after`` (all without it, none for an unknown id)."""
    if after is None:
        return items
    return items[ids.index(after) + 1 :] if after in ids else []


@dataclass(frozen=True)
class FilesQuery:
    """The file list's query parameters, checked."""

    after: str | None
    limit: int
    order: str
    purpose: str | None

    @classmethod
    def parse(cls, params: Mapping[str, str], largest: int) -> FilesQuery:
        order = params.get("order") or "desc"
        if order not in ORDERS:
            raise bad_request(f"order must be one of {list(ORDERS)}, got {order!r}")
        return cls(
            after=params.get("after") or None,
            limit=page_limit(params.get("limit"), largest, largest),
            order=order,
            purpose=params.get("purpose") or None,
        )


def newest_first(records: Sequence[FileRecord]) -> list[FileRecord]:
    """Files by ``created_at``, newest first (of two with the same second, the later stored first)."""
    oldest_first = sorted(enumerate(records), key=lambda pair: (pair[1].created_at, pair[0]))
    return [record for _, record in reversed(oldest_first)]


def files_page(records: Sequence[FileRecord], query: FilesQuery) -> list[FileRecord]:
    """One page of the file list as ``query`` asks for it."""
    ordered = newest_first(records)
    if query.order == "asc":
        ordered.reverse()
    if query.purpose is not None:
        ordered = [record for record in ordered if record.purpose == query.purpose]
    following = after_cursor(ordered, [record.id for record in ordered], query.after)
    return list(following[: query.limit])
