"""An answer about a batch must be about the batch asked for.

A misrouted proxy, a cache keyed wrongly, or a server that is not Kimi can answer a retrieve or a
cancel with another batch. Taking that answer would report another batch's status as this one's,
or download its results: it is refused instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from airflow_provider_kimi.batch.errors import KimiValueError

Answer = TypeVar("Answer")


class UnexpectedBatchError(KimiValueError):
    """The server answered about another batch than the one asked for."""


def same_batch(asked: str, answer: Answer) -> Answer:
    """``answer`` when its ``id`` is ``asked``; :class:`UnexpectedBatchError` otherwise."""
    got = answer.get("id") if isinstance(answer, Mapping) else getattr(answer, "id", None)
    if got != asked:
        raise UnexpectedBatchError(
            f"Asked for batch {asked!r} but the server answered about batch {got!r}; the answer is "
            "refused. Check that the connection's host is Kimi's API and no proxy rewrites answers."
        )
    return answer
