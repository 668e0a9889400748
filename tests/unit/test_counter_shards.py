"""The counter shards' arithmetic: shares that sum to the limit, and a rebalance that keeps every shard in its
share (what makes a write on one shard alone exact under the cap)."""

from __future__ import annotations

import random

import pytest

from scim.store import COUNTER_SHARDS, ActiveLimitReachedError, CountChange, Counts
from scim.store.counters import CounterRow, CounterShards, fits_shard, rebalanced, share


@pytest.mark.parametrize("limit", [0, 1, 15, 16, 17, 100, 1001])
def test_the_shares_of_a_limit_sum_to_it(limit: int) -> None:
    assert sum(share(limit, k) for k in range(COUNTER_SHARDS)) == limit


def test_a_rebalance_keeps_each_shard_in_its_share_and_the_total_exact() -> None:
    rng = random.Random(23)
    for _ in range(200):
        limit = rng.randrange(1, 400)
        rows = tuple(
            CounterRow(Counts(rng.randrange(-5, 40), rng.randrange(-5, 30)), f"e{k}", rng.randrange(50))
            for k in range(COUNTER_SHARDS)
        )
        view = CounterShards(rows)
        home = rng.randrange(COUNTER_SHARDS)
        change = CountChange(total=1, active=1, active_limit=limit)
        if view.counts.active + 1 > limit:
            with pytest.raises(ActiveLimitReachedError):
                rebalanced(view, home, change)
            continue
        after = rebalanced(view, home, change)
        assert sum(r.counts.active for r in after) == view.counts.active + 1
        assert sum(r.counts.total for r in after) == view.counts.total + 1
        assert all(r.counts.active <= share(limit, k) and r.limit == limit for k, r in enumerate(after))
        assert [r.seq for r in after] == [r.seq for r in rows]


def test_a_raising_write_fits_its_shard_only_within_its_share_of_the_same_limit() -> None:
    balanced = CounterShards(tuple(CounterRow(Counts(3, 3), "e", 1, 64) for _ in range(COUNTER_SHARDS)))
    assert fits_shard(balanced, 0, CountChange(total=1, active=1, active_limit=64))  # 4 <= 64 / 16
    assert not fits_shard(balanced, 0, CountChange(total=1, active=2, active_limit=64))  # 5 > 4
    assert not fits_shard(balanced, 0, CountChange(total=1, active=1, active_limit=65))  # balanced for another
    assert fits_shard(balanced, 0, CountChange(total=-1, active=-1, active_limit=64))  # lowering always fits
    unbalanced = CounterShards(tuple(CounterRow(Counts(3, 3), "e", 1) for _ in range(COUNTER_SHARDS)))
    assert not fits_shard(unbalanced, 0, CountChange(total=1, active=1, active_limit=1000))
    assert fits_shard(unbalanced, 0, CountChange(total=1, active=1))  # no cap, no shares
