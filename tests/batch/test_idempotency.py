"""Which listed batch a retry re-attaches to, whatever order the listing comes in."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from airflow_provider_kimi.batch.idempotency import (
    FINGERPRINT_FIELD,
    RUN_KEY_FIELD,
    reusable_batch,
)

OURS = {RUN_KEY_FIELD: "k", FINGERPRINT_FIELD: "f"}


@dataclass
class Listed:
    id: str
    created_at: int
    status: str = "in_progress"
    metadata: dict[str, Any] | None = field(default_factory=lambda: dict(OURS))


def other(batch_id: str, created_at: int) -> Listed:
    return Listed(batch_id, created_at, metadata={"team": "data"})


def test_the_tagged_batch_is_found_in_a_newest_first_listing():
    listing = [other("b3", 300), Listed("b2", 200), other("b1", 100)]
    assert reusable_batch(listing, "k", "f", created_after=150).id == "b2"


def test_a_newest_first_listing_stops_at_the_first_batch_older_than_the_run():
    def listing():
        yield other("b3", 300)
        yield other("b1", 100)
        raise AssertionError("read past the run's start")

    assert reusable_batch(listing(), "k", "f", created_after=150) is None


def test_a_listing_seen_out_of_order_is_read_to_the_end():
    """Once a newer batch follows an older one, an old batch no longer ends the search."""
    listing = [other("b2", 200), other("b4", 400), other("b1", 100), Listed("b3", 300)]
    assert reusable_batch(listing, "k", "f", created_after=150).id == "b3"


def test_batches_older_than_the_run_are_never_re_attached_even_out_of_order():
    listing = [other("b3", 300), Listed("b0", 50), other("b4", 400)]
    assert reusable_batch(listing, "k", "f", created_after=150) is None


def test_a_changed_fingerprint_or_another_task_is_not_re_attached():
    listing = [
        Listed("b2", 200, metadata={RUN_KEY_FIELD: "k", FINGERPRINT_FIELD: "changed"}),
        Listed("b1", 190, metadata={RUN_KEY_FIELD: "other", FINGERPRINT_FIELD: "f"}),
    ]
    assert reusable_batch(listing, "k", "f", created_after=None) is None


def test_a_batch_that_ended_badly_makes_a_new_one_but_an_unknown_status_is_re_attached():
    for ended in ("failed", "expired", "cancelled"):
        assert reusable_batch([Listed("b1", 100, status=ended)], "k", "f", created_after=None) is None
    # A status this version does not know yet: waiting on it beats paying for the requests twice.
    assert reusable_batch([Listed("b1", 100, status="archiving")], "k", "f", created_after=None).id == "b1"
