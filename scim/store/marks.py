"""Delivery watermarks: what the delivery has sent from a tenant partition, kept in the registry partitions
(Registry reads and writes them; ChangeRows hands its callers through).

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
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from azure.core import MatchConditions
from azure.core.exceptions import AzureError, ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, TableEntity, UpdateMode

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


class RegistryTable(Protocol):
    """What the registry rows need of a resource table (scim.store.tables.ResourceTable)."""

    def client(self) -> TableClient: ...

    def storage_error(self, exc: Exception) -> Exception: ...

    def query(
        self, query: str, params: dict[str, Any], *, page: int = 1000, select: list[str] | None = None
    ) -> Iterator[TableEntity]: ...


class Registry:
    """The registry rows of one resource table: the delivery watermark of each tenant partition."""

    def __init__(self, table: RegistryTable) -> None:
        self._table = table

    def watermarks(self) -> list[Watermark]:
        """Every tenant partition that has (or had) records, with its delivery watermark: one range read over the
        registry partitions; a row still in the older single partition is moved into its bucket."""
        rows = self._table.query(
            "PartitionKey ge @lo and PartitionKey lt @hi", {"lo": REGISTRY_PARTITION, "hi": REGISTRY_END}, page=1000
        )
        found: dict[str, list[Watermark]] = {}
        for row in rows:
            mark = Watermark.from_entity(row)
            found.setdefault(mark.tenant, []).append(mark)
        marks = []
        for _tenant, rows_of in sorted(found.items()):
            legacy = next((m for m in rows_of if m.partition == REGISTRY_PARTITION), None)
            bucket = next((m for m in rows_of if m.partition != REGISTRY_PARTITION), None)
            if legacy is not None:
                moved = self._move(legacy, bucket)
                bucket = moved or bucket or legacy
            if bucket is not None:
                marks.append(bucket)
        return marks

    def _move(self, legacy: Watermark, bucket: Watermark | None) -> Watermark | None:
        """The older registry row merged into the tenant's bucket row, then deleted; None if contended."""
        client = self._table.client()
        merged = legacy.union(bucket) if bucket is not None else dict(legacy.marks)
        row = {**registry_row(legacy.tenant), **marks_columns(merged)}
        try:
            if bucket is None:
                written = client.create_entity(row)
            else:
                written = client.update_entity(
                    row, mode=UpdateMode.MERGE, etag=bucket.etag, match_condition=MatchConditions.IfNotModified
                )
            client.delete_entity(
                REGISTRY_PARTITION, legacy.tenant, etag=legacy.etag, match_condition=MatchConditions.IfNotModified
            )
        except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
            return None
        except AzureError as exc:
            raise self._table.storage_error(exc) from exc
        return Watermark(legacy.tenant, str(written["etag"]), merged, registry_partition(legacy.tenant))

    def mark_sent(self, tenant: str, positions: Sequence[Position], known: Watermark | None = None) -> Watermark | None:
        """Record that these records were delivered: one conditional merge of the registry row.

        Each watermark moves over every record delivered without a gap; later ones are kept as ranges, so the
        sweep skips them. ``known`` (a cached copy) saves the read; None if the row stayed contended.
        """
        client = self._table.client()
        for _attempt in range(3):
            try:
                if known is None:
                    known = Watermark.from_entity(client.get_entity(registry_partition(tenant), tenant))
                marks = known.with_sent(positions)
                if marks == dict(known.marks):
                    return known
                written = client.update_entity(
                    {"PartitionKey": known.partition, "RowKey": tenant, **marks_columns(marks)},
                    mode=UpdateMode.MERGE,
                    etag=known.etag,
                    match_condition=MatchConditions.IfNotModified,
                )
                return Watermark(tenant, str(written["etag"]), marks, known.partition)
            except (ResourceModifiedError, ResourceNotFoundError):
                known = None  # another publisher moved it (or the cached copy is stale): read it again
            except AzureError as exc:
                raise self._table.storage_error(exc) from exc
        return None

    def reset(self, known: Watermark) -> Watermark | None:
        """Nothing delivered: for a partition purged since (its numbers start again)."""
        try:
            written = self._table.client().update_entity(
                {"PartitionKey": known.partition, "RowKey": known.tenant, **marks_columns({})},
                mode=UpdateMode.MERGE,
                etag=known.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except ResourceModifiedError:
            return None
        except AzureError as exc:
            raise self._table.storage_error(exc) from exc
        return Watermark(known.tenant, str(written["etag"]), {LEGACY: Mark()}, known.partition)
