"""The transactional outbox: one change record per change, in the change's own entity-group transaction.

Rows in a tenant's partition of each resource table (Users, Groups), beside the resources:
- ``o|s<shard>|<local, 12 digits>``  a change record: Seq, Shard, Time, Operation, ResourceType, ResourceId,
                                    Name, Members, Summary, and for a created or changed resource its SCIM document
                                    (Document0..n) and Created
- ``o|<seq, 12 digits>``             a record of the older single sequence (no Shard), kept until trimmed

Each change is numbered in the sequence of its resource's counter shard (scim.store.counters), which the change
updates conditionally in the same transaction: a change that commits has its record and its number, a change
that fails has neither, and each shard's local numbers are committed in order with no gaps. A record's Seq is
record_number(shard, local): unique in the table partition, and increasing over the changes of one resource
(they all go through one shard), above every number of the older sequence. The resource row written by a
change carries the same Seq (its ``meta.version`` derives from it), so a record and the resource it describes
agree on the version. A consumer keeps the highest Seq applied per resource (and per membership pair) and
converges whatever the order of delivery.

The feed is read losslessly with a FeedCursor: each sequence's last local number read (records of one shard
commit in key order, so nothing can appear behind a cursor). Reading "after a number" (read) is a filter: the
records numbered above it. Delivery watermarks live in the registry partitions (scim.store.marks). Records are
trimmed by key range from the oldest of each sequence, so trimming reads only what it deletes (and one row a
sequence).
"""

from __future__ import annotations

import heapq
import itertools
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from azure.core.exceptions import AzureError
from azure.data.tables import TableClient, TableEntity, TableTransactionError, TransactionOperation

from scim.store.counters import CounterShards, record_number
from scim.store.keys import (
    COUNTER_SHARDS,
    LEGACY_RECORD_END,
    RECORD_PREFIX,
    record_key,
    shard_record_key,
    shard_records_prefix,
)
from scim.store.marks import LEGACY, Position, Registry, Watermark
from scim.store.rows import join_document, split_document

_NAME_CHARS = 1024
_SUMMARY_CHARS = 2000
"""A record's Summary at most (its writer bounds it below this: scim.protocol.custom_values)."""
_DELETES_PER_TRANSACTION = 100

OPERATIONS = ("created", "updated", "disabled", "enabled", "deleted", "member-added", "member-removed")
"""What a change did; member-added and member-removed are changes to a group's members."""

FeedCursor = dict[int, int]
"""Where a reader of the feed is: each sequence's (LEGACY or a shard's) last local number read."""


def version_key(seq: int) -> str:
    """What meta.version derives from for a resource last written by change ``seq`` (see StoredResource)."""
    return f"seq:{seq}"


def encode_cursor(cursor: Mapping[int, int]) -> str:
    """A cursor as a token for a command line or a URL: ``part.local`` pairs joined by ``-`` (``L`` the older)."""
    return "-".join(f"{'L' if part == LEGACY else part}.{local}" for part, local in sorted(cursor.items())) or "0"


def decode_cursor(token: str) -> FeedCursor:
    """The cursor a token stands for; ValueError for anything encode_cursor does not make."""
    cursor: FeedCursor = {}
    if token == "0":  # noqa: S105 - a cursor at the start, not a secret
        return cursor
    for pair in token.split("-"):
        part, _, local = pair.partition(".")
        number = LEGACY if part == "L" else int(part)
        if not (number == LEGACY or 0 <= number < COUNTER_SHARDS) or not local.isdigit():
            raise ValueError(f"not a change feed cursor: {token!r}")
        cursor[number] = int(local)
    return cursor


@dataclass(frozen=True)
class ChangeDraft:
    """A change about to be written: it gets its number inside the transaction that commits it.

    ``stamps`` is the index of the transaction operation that writes the resource's row: that row gets the
    record's Seq, so the resource's meta.version is the one the record carries.
    """

    operation: str
    resource_id: str
    time: datetime
    name: str | None = None
    document: dict[str, Any] | None = None
    created: datetime | None = None
    members: tuple[str, ...] = ()
    stamps: int | None = None
    summary: str | None = None
    """A short text the views show beside the change (a user's custom attribute values), read with brief records."""


@dataclass(frozen=True)
class ChangeRecord:
    """A committed change: what the change log holds and what the queue message is made of."""

    tenant: str
    stream: str
    """The table whose partition numbered the change: "Users" or "Groups" (each has its own sequences)."""
    seq: int
    time: datetime
    operation: str
    resource_type: str
    resource_id: str
    name: str | None
    document: dict[str, Any] | None
    created: datetime | None
    members: tuple[str, ...]
    shard: int | None = None
    """The counter shard whose sequence numbered it; None for a record of the older single sequence."""
    summary: str | None = None
    """What the views show beside the change (ChangeDraft.summary); in brief records too."""

    @property
    def version_key(self) -> str:
        return version_key(self.seq)

    @property
    def position(self) -> Position:
        """(sequence, local number): where the record is in its shard's sequence (or the older one)."""
        if self.shard is None:
            return (LEGACY, self.seq)
        return (self.shard, self.seq // COUNTER_SHARDS)

    @classmethod
    def of(cls, tenant: str, stream: str, shard: int, local: int, draft: ChangeDraft) -> ChangeRecord:
        return cls(
            tenant=tenant,
            stream=stream,
            seq=record_number(shard, local),
            time=draft.time,
            operation=draft.operation,
            resource_type=resource_type_of(stream),
            resource_id=draft.resource_id,
            name=draft.name[:_NAME_CHARS] if draft.name else None,
            document=draft.document,
            created=draft.created,
            members=draft.members,
            shard=shard,
            summary=draft.summary if draft.summary and len(draft.summary) <= _SUMMARY_CHARS else None,
        )


def resource_type_of(stream: str) -> str:
    """'Users' -> 'User', 'Groups' -> 'Group'."""
    return stream[:-1] if stream.endswith("s") else stream


def _key_of(record: ChangeRecord) -> str:
    part, local = record.position
    return record_key(local) if part == LEGACY else shard_record_key(part, local)


def record_row(record: ChangeRecord) -> dict[str, Any]:
    row: dict[str, Any] = {
        "PartitionKey": record.tenant,
        "RowKey": _key_of(record),
        "Seq": record.seq,
        "Time": record.time,
        "Operation": record.operation,
        "ResourceType": record.resource_type,
        "ResourceId": record.resource_id,
    }
    if record.shard is not None:
        row["Shard"] = record.shard
    if record.name:
        row["Name"] = record.name
    if record.members:
        row["Members"] = json.dumps(list(record.members))
    if record.document is not None:
        row.update(split_document(record.document))
        row["HasDocument"] = True
    if record.created is not None:
        row["Created"] = record.created
    if record.summary:
        row["Summary"] = record.summary
    return row


def record_from_entity(stream: str, entity: TableEntity) -> ChangeRecord:
    shard = entity.get("Shard")
    return ChangeRecord(
        tenant=str(entity["PartitionKey"]),
        stream=stream,
        seq=int(entity["Seq"]),
        time=entity["Time"],
        operation=str(entity["Operation"]),
        resource_type=str(entity["ResourceType"]),
        resource_id=str(entity["ResourceId"]),
        name=str(entity["Name"]) if entity.get("Name") else None,
        document=join_document(entity) if entity.get("HasDocument") else None,
        created=entity.get("Created"),
        members=tuple(json.loads(entity.get("Members") or "[]")),
        shard=None if shard is None else int(shard),
        summary=str(entity["Summary"]) if entity.get("Summary") else None,
    )


_BRIEF = [
    "PartitionKey",
    "RowKey",
    "Seq",
    "Shard",
    "Time",
    "Operation",
    "ResourceType",
    "ResourceId",
    "Name",
    "Members",
    "Summary",
]
"""A record's columns without its document."""


def _part_range(part: int, after_local: int) -> tuple[str, str]:
    """The key range of a sequence's records after a local number."""
    if part == LEGACY:
        return record_key(max(after_local, 0)), LEGACY_RECORD_END
    prefix = shard_records_prefix(part)
    return shard_record_key(part, max(after_local, 0)), prefix[:-1] + "}"


def last_locals(view: CounterShards) -> dict[int, int]:
    """Each sequence's last local number (sequences with none left out)."""
    found = {part: row.seq for part, row in enumerate(view.shards) if row.etag is not None and row.seq}
    if view.base:
        found[LEGACY] = view.base
    return found


class ChangeTable(Protocol):
    """What the change records need of a resource table (scim.store.tables.ResourceTable)."""

    stream: str

    def client(self) -> TableClient: ...

    def storage_error(self, exc: Exception) -> Exception: ...

    def shards(self, tenant: str) -> CounterShards: ...

    def query(
        self, query: str, params: dict[str, Any], *, page: int = 1000, select: list[str] | None = None
    ) -> Iterator[TableEntity]: ...


class ChangeRows:
    """The change records and delivery watermarks of one resource table."""

    def __init__(self, table: ChangeTable) -> None:
        self._table = table
        self.stream = table.stream
        self._registry = Registry(table)

    def _part(
        self, tenant: str, part: int, after_local: int, limit: int, *, brief: bool, before_local: int | None = None
    ) -> Iterator[ChangeRecord]:
        lo, hi = _part_range(part, after_local)
        if before_local is not None:
            hi = record_key(before_local) if part == LEGACY else shard_record_key(part, before_local)
        rows = self._query(
            "PartitionKey eq @pk and RowKey gt @lo and RowKey lt @hi",
            {"pk": tenant, "lo": lo, "hi": hi},
            page=min(max(limit, 1), 1000),
            select=_BRIEF if brief else None,
        )
        return (record_from_entity(self.stream, row) for row in itertools.islice(rows, limit))

    def read(self, tenant: str, *, after: int = 0, limit: int = 100, brief: bool = False) -> list[ChangeRecord]:
        """Records numbered above ``after``, lowest number first: a range read of the counter rows, then one
        range query per sequence that has such records.

        A filter, not a cursor: a record committed later in a slower shard may be numbered below ``after``;
        page with ``page`` to miss nothing. ``brief`` leaves the documents out (the operator's views).
        """
        if limit <= 0:
            return []
        lists = []
        for part, last in last_locals(self._table.shards(tenant)).items():
            if part == LEGACY:
                if last > after:
                    lists.append(list(self._part(tenant, part, after, limit, brief=brief)))
            elif record_number(part, last) > after:
                lists.append(list(self._part(tenant, part, (after - part) // COUNTER_SHARDS, limit, brief=brief)))
        merged = heapq.merge(*lists, key=lambda record: record.seq)
        return [record for record in itertools.islice(merged, limit) if record.seq > after]

    def below(self, tenant: str, bounds: Mapping[int, int] | None, limit: int) -> list[ChangeRecord]:
        """Up to ``limit`` records below each sequence's bound (a local number; a sequence without one: from its
        newest), newest first by time, each sequence's records kept in their own order; without documents.

        The range read of the counter rows and one bounded range query per sequence (each numbers without gaps,
        so its ``limit`` records below a bound are one key range). A reader pages back by passing, for each
        sequence, the lowest local number it has shown (ChangeRecord.position).
        """
        if limit <= 0:
            return []
        lists = []
        for part, last in last_locals(self._table.shards(tenant)).items():
            top = min((bounds or {}).get(part, last + 1), last + 1)
            if top > 1:
                found = list(self._part(tenant, part, top - 1 - limit, limit, brief=True, before_local=top))
                lists.append(found[::-1])
        merged = heapq.merge(*lists, key=lambda record: (record.time, record.seq), reverse=True)
        return list(itertools.islice(merged, limit))

    def page(
        self, tenant: str, cursor: Mapping[int, int] | None = None, limit: int = 100, *, brief: bool = False
    ) -> tuple[list[ChangeRecord], FeedCursor]:
        """Up to ``limit`` records after ``cursor`` (None: from the oldest kept), oldest first by time, and the
        cursor after them: paging with it misses no record, whatever shard commits it and when."""
        at: FeedCursor = dict(cursor or {})
        if limit <= 0:
            return [], at
        lists = [
            list(self._part(tenant, part, at.get(part, 0), limit, brief=brief))
            for part, last in last_locals(self._table.shards(tenant)).items()
            if last > at.get(part, 0)
        ]
        merged = heapq.merge(*lists, key=lambda record: (record.time, record.seq))
        taken = list(itertools.islice(merged, limit))
        for record in taken:
            part, local = record.position
            at[part] = max(at.get(part, 0), local)
        return taken, at

    def last_seq(self, tenant: str) -> int:
        """The partition's highest record number (0 for none): one range read of its counter rows."""
        return self._table.shards(tenant).last_number()

    def sequences(self, tenant: str) -> dict[int, int]:
        """Each sequence's last local number: one range read of the counter rows."""
        return last_locals(self._table.shards(tenant))

    def since(self, tenant: str, part: int, after_local: int, limit: int) -> list[ChangeRecord]:
        """One sequence's records after a local number, in order (the sweep)."""
        return list(self._part(tenant, part, after_local, limit, brief=False))

    # -- delivery watermarks (scim.store.marks) ------------------------------------------------------------

    def watermarks(self) -> list[Watermark]:
        """Every tenant partition that has (or had) records, with its delivery watermark (see Registry)."""
        return self._registry.watermarks()

    def mark_sent(self, tenant: str, positions: Sequence[Position], known: Watermark | None = None) -> Watermark | None:
        """Record that these records were delivered: one conditional merge of the registry row (see Registry)."""
        return self._registry.mark_sent(tenant, positions, known)

    def reset(self, known: Watermark) -> Watermark | None:
        """Nothing delivered: for a partition purged since (its numbers start again)."""
        return self._registry.reset(known)

    def trim(self, tenant: str, before: datetime, up_to: Mapping[int, int]) -> int:
        """Delete each sequence's oldest records made before ``before`` and already delivered (local number at
        most ``up_to[part]``); how many. Reads keys from the oldest record of each sequence on and stops at the
        first one to keep: the cost is what it deletes, and one row a sequence."""
        deleted = 0
        for part in sorted({LEGACY, *range(COUNTER_SHARDS)}):
            keys: list[str] = []
            lo, hi = _part_range(part, 0)
            rows = self._query(
                "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
                {"pk": tenant, "lo": lo if part != LEGACY else RECORD_PREFIX, "hi": hi},
                page=_DELETES_PER_TRANSACTION,
                select=["RowKey", "Seq", "Shard", "Time"],
            )
            for row in rows:
                local = record_from_position(row)
                if local > up_to.get(part, 0) or row["Time"] >= before:
                    break
                keys.append(str(row["RowKey"]))
            deleted += self._delete(tenant, keys)
        return deleted

    def _delete(self, tenant: str, keys: list[str]) -> int:
        client = self._table.client()
        deleted = 0
        for start in range(0, len(keys), _DELETES_PER_TRANSACTION):
            batch = keys[start : start + _DELETES_PER_TRANSACTION]
            try:
                client.submit_transaction(
                    [(TransactionOperation.DELETE, {"PartitionKey": tenant, "RowKey": key}) for key in batch]
                )
                deleted += len(batch)
            except TableTransactionError:
                return deleted  # another sweep is trimming the same records
            except AzureError as exc:
                raise self._table.storage_error(exc) from exc
        return deleted

    def _query(
        self, query: str, params: dict[str, Any], *, page: int, select: list[str] | None = None
    ) -> Iterator[TableEntity]:
        return self._table.query(query, params, page=page, select=select)


def record_from_position(row: TableEntity) -> int:
    """A record row's local number in its sequence (from its Seq and Shard)."""
    seq = int(row["Seq"])
    return seq if row.get("Shard") is None else seq // COUNTER_SHARDS
