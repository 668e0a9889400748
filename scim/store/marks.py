"""Delivery watermarks: what the delivery has sent from a tenant partition, kept in the registry partitions.

Rows in a resource table's registry partitions ``~changes|<bucket>`` (no tenant id can start with ``~``), one
per tenant, in the bucket of its id (REGISTRY_BUCKETS of them, so their load grows with the number of
partitions and no one partition is written by every tenant):
- ``<tenant>``  for each sequence of the partition (a counter shard's, or the older single one), Published:
                every record up to this local number was delivered (the sweep's watermark), and Sent: ranges
                of later records delivered already, so the sweep re-sends only what was lost. The older
                sequence's are the columns Published and Sent; the shards' are the JSON column Shards.

Older deployments kept the rows in the single partition ``~changes``: the sweep reads it too (one range read
covers it and every bucket) and moves each row into its bucket, merged with what the bucket row says.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from azure.data.tables import TableEntity

REGISTRY_PARTITION = "~changes"
"""The older single registry partition; also the prefix of the buckets' partition keys."""
REGISTRY_END = "~changes}"
"""Sorts after the older partition and every bucket: one range read finds every registry row."""
REGISTRY_BUCKETS = 32
LEGACY = -1
"""The part of a watermark for the older single sequence (counter shards are 0 .. COUNTER_SHARDS - 1)."""

_SENT_RANGES = 16
"""Ranges of delivered records kept beyond a watermark; past that the oldest are forgotten (re-sent)."""

Ranges = tuple[tuple[int, int], ...]
Position = tuple[int, int]
"""(part, local number): where a record is in its sequence (part LEGACY or a counter shard)."""


def registry_partition(tenant: str) -> str:
    return f"{REGISTRY_PARTITION}|{zlib.crc32(tenant.encode('utf-8')) % REGISTRY_BUCKETS:02d}"


def registry_row(tenant: str) -> dict[str, Any]:
    return {"PartitionKey": registry_partition(tenant), "RowKey": tenant}


@dataclass(frozen=True)
class Mark:
    """One sequence's delivery: every record up to ``published``, and the ``sent`` ranges beyond it."""

    published: int = 0
    sent: Ranges = ()

    def delivered(self, local: int) -> bool:
        return local <= self.published or any(lo <= local <= hi for lo, hi in self.sent)

    def with_sent(self, locals_: Iterable[int]) -> Mark:
        """The mark once ``locals_`` are delivered too: ranges merged, the prefix absorbed."""
        ranges = sorted([*self.sent, *((n, n) for n in locals_ if n > self.published)])
        merged: list[tuple[int, int]] = []
        for lo, hi in ranges:
            if merged and lo <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
            else:
                merged.append((lo, hi))
        published = self.published
        while merged and merged[0][0] <= published + 1:
            published = max(published, merged.pop(0)[1])
        return Mark(published, tuple(merged[-_SENT_RANGES:]))

    def union(self, other: Mark) -> Mark:
        """What both say was delivered (two rows of one tenant, merged)."""
        top = max(self, other, key=lambda mark: mark.published)
        low = other if top is self else self
        return top.with_sent(n for lo, hi in (*low.sent, *top.sent) for n in range(lo, hi + 1))


@dataclass(frozen=True)
class Watermark:
    """What was delivered from a tenant partition: a Mark per sequence (LEGACY or a counter shard)."""

    tenant: str
    etag: str
    marks: Mapping[int, Mark]
    partition: str = ""
    """The registry partition the row is in (the older single one until the sweep moves it)."""

    def mark(self, part: int) -> Mark:
        return self.marks.get(part, Mark())

    def delivered(self, position: Position) -> bool:
        return self.mark(position[0]).delivered(position[1])

    @property
    def published(self) -> int:
        """The older sequence's watermark (what a partition without shards was delivered up to)."""
        return self.mark(LEGACY).published

    def with_sent(self, positions: Iterable[Position]) -> dict[int, Mark]:
        by_part: dict[int, list[int]] = {}
        for part, local in positions:
            by_part.setdefault(part, []).append(local)
        marks = dict(self.marks)
        for part, locals_ in by_part.items():
            marks[part] = self.mark(part).with_sent(locals_)
        return marks

    def union(self, other: Watermark) -> dict[int, Mark]:
        return {part: self.mark(part).union(other.mark(part)) for part in {*self.marks, *other.marks}}

    @classmethod
    def from_entity(cls, entity: TableEntity) -> Watermark:
        marks = {LEGACY: Mark(int(entity.get("Published") or 0), _ranges(json.loads(entity.get("Sent") or "[]")))}
        for part, (published, sent) in json.loads(entity.get("Shards") or "{}").items():
            marks[int(part)] = Mark(int(published), _ranges(sent))
        return cls(str(entity["RowKey"]), str(entity.metadata["etag"]), marks, str(entity["PartitionKey"]))


def _ranges(pairs: Iterable[Iterable[Any]]) -> Ranges:
    return tuple((int(lo), int(hi)) for lo, hi in pairs)


def marks_columns(marks: Mapping[int, Mark]) -> dict[str, Any]:
    """The registry row's columns for these marks."""
    legacy = marks.get(LEGACY, Mark())
    shards = {str(part): [mark.published, [list(r) for r in mark.sent]] for part, mark in marks.items() if part >= 0}
    return {
        "Published": legacy.published,
        "Sent": json.dumps([list(r) for r in legacy.sent]),
        "Shards": json.dumps(shards, sort_keys=True),
    }


def watermark_row(tenant: str, marks: Mapping[int, Mark]) -> dict[str, Any]:
    """The registry row saying these marks were delivered."""
    return {**registry_row(tenant), **marks_columns(marks)}
