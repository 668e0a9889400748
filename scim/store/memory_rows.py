"""The rows of an in-memory table (scim.store.memory), kept so that every call costs what it costs Table Storage:
a point read or write O(1) (amortised O(log n) for a new key), a key-range page O(log n + page), a transaction
O(its operations). A 100,000-user tenant's initial cycle (bench.cycle) needs this: a copy of the table per
transaction or a sort of its keys per page made that cycle quadratic.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from datetime import datetime
from typing import Any

Stored = tuple[dict[str, Any], str, datetime]
"""A row's properties (with its keys), its ETag and its Timestamp."""
Key = tuple[str, str]

_BUCKET = 1000
"""Keys a bucket of SortedKeys holds before it splits in two (sortedcontainers' load factor)."""


class SortedKeys:
    """Row keys in order as a list of sorted buckets: insert and remove O(log n + bucket), ordered scans from a
    bound. The idea of sortedcontainers' SortedList, cut to what one partition needs."""

    def __init__(self) -> None:
        self._buckets: list[list[str]] = []
        self._maxes: list[str] = []

    def add(self, key: str) -> None:
        if not self._buckets:
            self._buckets, self._maxes = [[key]], [key]
            return
        at = min(bisect.bisect_left(self._maxes, key), len(self._buckets) - 1)
        bucket = self._buckets[at]
        bisect.insort(bucket, key)
        self._maxes[at] = bucket[-1]
        if len(bucket) > 2 * _BUCKET:
            self._buckets[at : at + 1] = [bucket[:_BUCKET], bucket[_BUCKET:]]
            self._maxes[at : at + 1] = [bucket[_BUCKET - 1], bucket[-1]]

    def remove(self, key: str) -> None:
        at = bisect.bisect_left(self._maxes, key)
        bucket = self._buckets[at]
        del bucket[bisect.bisect_left(bucket, key)]
        if bucket:
            self._maxes[at] = bucket[-1]
        else:
            del self._buckets[at], self._maxes[at]

    def from_key(self, low: str, inclusive: bool) -> Iterator[str]:
        """The keys at or after ``low`` (after it only, unless ``inclusive``), in order."""
        at = bisect.bisect_left(self._maxes, low)
        for index in range(at, len(self._buckets)):
            bucket = self._buckets[index]
            start = 0
            if index == at:
                start = (bisect.bisect_left if inclusive else bisect.bisect_right)(bucket, low)
            yield from bucket[start:]


class Partition:
    """One partition's rows by RowKey, and their keys in order."""

    def __init__(self) -> None:
        self.rows: dict[str, Stored] = {}
        self.keys = SortedKeys()

    def put(self, row_key: str, stored: Stored) -> None:
        if row_key not in self.rows:
            self.keys.add(row_key)
        self.rows[row_key] = stored

    def drop(self, row_key: str) -> None:
        if self.rows.pop(row_key, None) is not None:
            self.keys.remove(row_key)


class TableRows:
    """A table's partitions: what MemoryTableClient reads and writes."""

    def __init__(self) -> None:
        self.partitions: dict[str, Partition] = {}

    def get(self, key: Key) -> Stored | None:
        part = self.partitions.get(key[0])
        return part.rows.get(key[1]) if part is not None else None

    def put(self, key: Key, stored: Stored) -> None:
        self.partitions.setdefault(key[0], Partition()).put(key[1], stored)

    def drop(self, key: Key) -> None:
        part = self.partitions.get(key[0])
        if part is not None:
            part.drop(key[1])
            if not part.rows:
                del self.partitions[key[0]]

    def scan(self, partition: str | None, low: str, inclusive: bool, after: Key | None) -> Iterator[Key]:
        """Keys in (PartitionKey, RowKey) order from ``low`` in each partition (one partition, or all), after
        ``after`` (a continuation)."""
        names = [partition] if partition is not None else sorted(self.partitions)
        for name in names:
            if after is not None and name < after[0]:
                continue
            part = self.partitions.get(name)
            if part is None:
                continue
            start, start_inclusive = low, inclusive
            if after is not None and name == after[0] and (after[1] > low or (after[1] == low and inclusive)):
                start, start_inclusive = after[1], False
            for row_key in part.keys.from_key(start, start_inclusive):
                yield name, row_key


class Overlay:
    """Writes of one transaction held apart from the table until all succeed (then ``commit``)."""

    def __init__(self, table: TableRows) -> None:
        self._table = table
        self.changes: dict[Key, Stored | None] = {}

    def get(self, key: Key) -> Stored | None:
        return self.changes[key] if key in self.changes else self._table.get(key)

    def __setitem__(self, key: Key, stored: Stored) -> None:
        self.changes[key] = stored

    def __delitem__(self, key: Key) -> None:
        self.changes[key] = None

    def commit(self) -> None:
        for key, stored in self.changes.items():
            if stored is None:
                self._table.drop(key)
            else:
                self._table.put(key, stored)
