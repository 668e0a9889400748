"""Per-tenant resource counts and change sequence, kept in one row of the tenant's partition and written in
the same transaction as the change they count, so ``totalResults`` needs no count scan, a license cap can
never be passed, and every change record (scim.store.changes) gets the next number.

The row (RowKey ``c|count``) holds Total, Active and Seq (the number of the partition's last change record).
Every write updates it conditionally on its ETag, in the change's own entity-group transaction: two writers
racing on the same tenant cannot both commit on one count or one sequence number. The last known row is
cached per tenant (bounded), so a write costs no extra read while this process is the one writing; a stale
ETag fails the transaction, which is then retried after a fresh read.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

_CACHE_SIZE = 10_000

ActiveOf = Callable[[Mapping[str, Any]], bool]
"""Does a stored document count as active (e.g. a user that is not disabled)?"""


@dataclass(frozen=True)
class Counts:
    """How many resources a tenant has in one table, and how many of them are active (users)."""

    total: int = 0
    active: int = 0


@dataclass(frozen=True)
class CounterRow:
    """The counter row as last read or written: etag None means the row does not exist yet."""

    counts: Counts
    etag: str | None
    seq: int = 0
    """The sequence number of the partition's last change record (0: none yet)."""


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
    """The counter row changed since it was read: re-read it and retry the whole transaction."""


class CounterCache:
    """Last known counter row per tenant, bounded (least recently used out first), safe across threads."""

    def __init__(self, size: int = _CACHE_SIZE) -> None:
        self._rows: OrderedDict[str, CounterRow] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, tenant: str) -> CounterRow | None:
        with self._lock:
            row = self._rows.get(tenant)
            if row is not None:
                self._rows.move_to_end(tenant)
            return row

    def put(self, tenant: str, row: CounterRow) -> None:
        with self._lock:
            self._rows[tenant] = row
            self._rows.move_to_end(tenant)
            while len(self._rows) > self._size:
                self._rows.popitem(last=False)

    def forget(self, tenant: str) -> None:
        with self._lock:
            self._rows.pop(tenant, None)


def apply_change(row: CounterRow, change: CountChange) -> Counts:
    """The counts after a change, or ActiveLimitReachedError if an increase would pass the limit."""
    counts = Counts(total=row.counts.total + change.total, active=row.counts.active + change.active)
    if change.active > 0 and change.active_limit is not None and counts.active > change.active_limit:
        raise ActiveLimitReachedError(change.active_limit, row.counts.active)
    return counts
