"""Per-tenant resource counts and change sequences in counter shards, written in the same transaction as the
change they count, so ``totalResults`` needs no count scan, a license cap can never be passed, and every change
record (scim.store.changes) gets its number; with no one row that every writer of the tenant must update.

A partition has COUNTER_SHARDS shard rows (``c|count|<nn>``), each holding part of the counts (Total, Active,
which may be negative: only their sum means anything), its own change sequence (Seq) and the license limit it
was last balanced for (Limit). Every change of a resource is counted and numbered in the shard of its id
(scim.store.keys.shard_of), conditionally on that shard's ETag, in the change's own entity-group transaction:
writers of different resources mostly touch different shards and do not wait for each other, while the
changes of one resource are numbered in one sequence, in the order they commit.

The license cap stays exact without a shared row: a shard whose Limit is L never holds more active resources
than its share of L (shares sum to L), and either every shard has Limit L or none has. So a write that raises
the active count commits on its own shard alone while that shard has room in its share of the writer's limit
(the shares of all shards then sum to at most L); otherwise it takes the exact path: it reads every shard and
rewrites all of them, conditionally on all their ETags, with the limit it knows and the active count spread
evenly over the shares (refused only if the fresh total would pass the limit). Far below the cap writes stay on
their shard; near it every raising write takes the exact path, one at a time.

A partition written before shards existed has one counter row (``c|count``) with the counts and the single
sequence of its older records: it is read as the base of the counts, new shards number their records after its
sequence (so a resource's numbers keep growing), and the first exact path folds it into the shards (a partition
with no counter row at all is counted once by a scan, which its first write keeps as that older row). The last
known shards are cached per tenant (bounded), so a write costs no extra read while this process writes; a
stale ETag fails the transaction, which is then retried after a fresh read.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from scim.store.keys import COUNTER_SHARDS

_CACHE_SIZE = 10_000

ActiveOf = Callable[[Mapping[str, Any]], bool]
"""Does a stored document count as active (e.g. a user that is not disabled)?"""


@dataclass(frozen=True)
class Counts:
    """How many resources a tenant has in one table, and how many of them are active (users)."""

    total: int = 0
    active: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.total + other.total, self.active + other.active)


@dataclass(frozen=True)
class CounterRow:
    """A counter shard (or the older counter row) as last read or written: etag None means it does not exist."""

    counts: Counts
    etag: str | None
    seq: int = 0
    """The shard's last change number in its own sequence (local; see record_number), or for the older row the
    number of its last change record."""
    limit: int | None = None
    """The active limit the shard was balanced for: its Active is at most share(limit, shard)."""
    base: int = 0
    """The older sequence's last number when the shard was created: its records are numbered after it."""


def record_number(shard: int, local: int) -> int:
    """The number a change record carries (its seq): unique in the table partition, increasing in each shard."""
    return local * COUNTER_SHARDS + shard


def share(limit: int, shard: int) -> int:
    """The shard's share of an active limit: the shares of all shards sum to the limit."""
    return limit // COUNTER_SHARDS + (1 if shard < limit % COUNTER_SHARDS else 0)


@dataclass(frozen=True)
class CounterShards:
    """Every counter row of a partition, as read together in one range read (or kept since)."""

    shards: tuple[CounterRow, ...]
    legacy: CounterRow | None = None

    @classmethod
    def empty(cls) -> CounterShards:
        return cls(tuple(CounterRow(Counts(), None) for _ in range(COUNTER_SHARDS)))

    @property
    def exists(self) -> bool:
        return (self.legacy is not None and self.legacy.etag is not None) or any(r.etag for r in self.shards)

    @property
    def counts(self) -> Counts:
        total = self.legacy.counts if self.legacy is not None else Counts()
        for row in self.shards:
            total += row.counts
        return total

    @property
    def base(self) -> int:
        """The last number of the older single sequence (0: none), below every shard's numbers."""
        return max([self.legacy.seq if self.legacy is not None else 0, *(row.base for row in self.shards)])

    def local(self, shard: int) -> int:
        """The shard's last local number; a shard not written yet starts after the older sequence."""
        row = self.shards[shard]
        return row.seq if row.etag is not None else self.base // COUNTER_SHARDS

    def last_number(self) -> int:
        """The highest record number issued in the partition (0: none)."""
        numbers = [record_number(k, row.seq) for k, row in enumerate(self.shards) if row.etag is not None and row.seq]
        return max([self.base, *numbers])

    def with_shard(self, shard: int, row: CounterRow) -> CounterShards:
        rows = list(self.shards)
        rows[shard] = row
        return replace(self, shards=tuple(rows))


@dataclass(frozen=True)
class CountChange:
    """What a write does to the counts; ``active_limit`` refuses a write that would pass it."""

    total: int = 0
    active: int = 0
    active_limit: int | None = None
    active_of: ActiveOf | None = None
    """Which stored documents count as active, should the counts be rebuilt from a scan (a partition written
    before the counter row existed); None: every resource counts. The service knows, the store does not."""

    @property
    def is_empty(self) -> bool:
        return self.total == 0 and self.active == 0


class ActiveLimitReachedError(Exception):
    """The write would take the tenant's active resources past its limit; nothing was written."""

    def __init__(self, limit: int, active: int) -> None:
        super().__init__(f"active limit {limit} reached ({active} active)")
        self.limit = limit
        self.active = active


class CounterConflictError(Exception):
    """A counter shard changed since it was read: re-read the shards and retry the whole transaction."""


def fits_shard(view: CounterShards, home: int, change: CountChange) -> bool:
    """May the change commit on its home shard alone (conditional on that shard's ETag), the cap staying exact?"""
    row = view.shards[home]
    limited = any(r.limit is not None for r in view.shards)
    if row.etag is None and limited:
        return False  # every shard exists once any has a limit: this view is stale
    if change.active <= 0:
        return True
    if change.active_limit is not None:
        return row.limit == change.active_limit and row.counts.active + change.active <= share(row.limit, home)
    return row.limit is None or row.counts.active + change.active <= share(row.limit, home)


def rebalanced(view: CounterShards, home: int, change: CountChange) -> list[CounterRow]:
    """Every shard's next counts on the exact path (the caller conditions on all ETags, folds the older row).

    With a limit, the active count is spread so each shard has an even part of the headroom left under its
    share; ActiveLimitReachedError if the fresh total passes the limit. Without one, shards keep their counts.
    """
    current = view.counts
    after = current + Counts(change.total, change.active)
    limit = change.active_limit
    if limit is not None and change.active > 0 and after.active > limit:
        raise ActiveLimitReachedError(limit, current.active)
    legacy = view.legacy.counts if view.legacy is not None else Counts()
    totals = [row.counts.total for row in view.shards]
    totals[home] += change.total
    totals[0] += legacy.total
    if limit is not None and after.active <= limit:
        headroom = limit - after.active
        actives = [
            share(limit, k) - (headroom // COUNTER_SHARDS + (1 if k < headroom % COUNTER_SHARDS else 0))
            for k in range(COUNTER_SHARDS)
        ]
    else:
        limit = None
        actives = [row.counts.active for row in view.shards]
        actives[home] += change.active
        actives[0] += legacy.active
    base = view.base
    return [
        CounterRow(Counts(totals[k], actives[k]), row.etag, view.local(k), limit, row.base if row.etag else base)
        for k, row in enumerate(view.shards)
    ]


class CounterCache:
    """Last known counter shards per tenant, bounded (least recently used out first), safe across threads."""

    def __init__(self, size: int = _CACHE_SIZE) -> None:
        self._rows: OrderedDict[str, CounterShards] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, tenant: str) -> CounterShards | None:
        with self._lock:
            found = self._rows.get(tenant)
            if found is not None:
                self._rows.move_to_end(tenant)
            return found

    def put(self, tenant: str, shards: CounterShards) -> None:
        with self._lock:
            self._rows[tenant] = shards
            self._rows.move_to_end(tenant)
            while len(self._rows) > self._size:
                self._rows.popitem(last=False)

    def update(self, tenant: str, written: Mapping[int, CounterRow], legacy_gone: bool) -> None:
        """Merge the shards a commit wrote into the cached view (a view not cached stays uncached)."""
        with self._lock:
            found = self._rows.get(tenant)
            if found is None:
                return
            rows = list(found.shards)
            for shard, row in written.items():
                rows[shard] = row
            self._rows[tenant] = CounterShards(tuple(rows), None if legacy_gone else found.legacy)

    def forget(self, tenant: str) -> None:
        with self._lock:
            self._rows.pop(tenant, None)
