"""A small initial cycle through bench.cycle on the in-memory store: every user, group and membership stored,
the invariants clean, and a 100-member PATCH within its storage-call budget (issue 24)."""

from __future__ import annotations

from bench.cycle import Cycle, Shape
from scim.store import MemoryStorage


def test_a_small_initial_cycle_stores_everything_and_stays_consistent() -> None:
    storage = MemoryStorage(table_prefix="cycle")
    cycle = Cycle(storage, Shape(users=250, groups=3, largest=210), clients=1)
    result = cycle.execute()
    assert result["invariants"]["ok"], result["invariants"]
    assert result["complete"]
    assert result["invariants"]["resources"] == {"Users": 250, "Groups": 3}
    patches = cycle.requests["PATCH /Groups adding 100"]
    assert patches.requests >= 2 and patches.most_calls <= 10
    assert cycle.requests["POST /Users"].statuses == {201: 250}
