"""The transactional outbox: one change record per change, in the change's own entity-group transaction.

Rows in a tenant's partition of each resource table (Users, Groups), beside the resources:
- ``o|<seq, 12 digits>``  a change record: Seq, Time, Operation, ResourceType, ResourceId, Name, Members,
                          and for a created or changed resource its SCIM document (Document0..n) and Created

Each table partition numbers its changes 1, 2, 3, … with the ``Seq`` of its counter row (scim.store.counters),
which every change updates conditionally in the same transaction: a change that commits has its record and
its number, a change that fails has neither, and numbers are committed in order with no gaps. The resource row
written by a change carries the same ``Seq`` (its ``meta.version`` derives from it), so a record and the
resource it describes agree on the version.

Rows in the table's registry partition ``~changes`` (no tenant id can start with ``~``):
- ``<tenant>``  Published: every record up to this sequence number was delivered (the sweep's watermark);
                Sent: ranges of later records delivered already, so the sweep re-sends only what was lost

A tenant's registry row is written once per process before its first change, so the sweeper finds every
partition that may hold undelivered records by reading one small partition, never the whole table. Records
are trimmed by key range from the oldest, so trimming reads only what it deletes.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from azure.core import MatchConditions
from azure.core.exceptions import AzureError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, TableEntity, TableTransactionError, TransactionOperation, UpdateMode

from scim.store.keys import RECORD_END, RECORD_PREFIX, record_key
from scim.store.rows import join_document, split_document

REGISTRY_PARTITION = "~changes"
_NAME_CHARS = 1024
_DELETES_PER_TRANSACTION = 100

OPERATIONS = ("created", "updated", "disabled", "enabled", "deleted", "member-added", "member-removed")
"""What a change did; member-added and member-removed are changes to a group's members."""


def version_key(seq: int) -> str:
    """What meta.version derives from for a resource last written by change ``seq`` (see StoredResource)."""
    return f"seq:{seq}"


@dataclass(frozen=True)
class ChangeDraft:
    """A change about to be written: it gets its sequence number inside the transaction that commits it.

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


@dataclass(frozen=True)
class ChangeRecord:
    """A committed change: what the change log holds and what the queue message is made of."""

    tenant: str
    stream: str
    """The table whose partition numbered the change: "Users" or "Groups" (each has its own sequence)."""
    seq: int
    time: datetime
    operation: str
    resource_type: str
    resource_id: str
    name: str | None
    document: dict[str, Any] | None
    created: datetime | None
    members: tuple[str, ...]

    @property
    def version_key(self) -> str:
        return version_key(self.seq)

    @classmethod
    def of(cls, tenant: str, stream: str, seq: int, draft: ChangeDraft) -> ChangeRecord:
        return cls(
            tenant=tenant,
            stream=stream,
            seq=seq,
            time=draft.time,
            operation=draft.operation,
            resource_type=resource_type_of(stream),
            resource_id=draft.resource_id,
            name=draft.name[:_NAME_CHARS] if draft.name else None,
            document=draft.document,
            created=draft.created,
            members=draft.members,
        )


def resource_type_of(stream: str) -> str:
    """'Users' -> 'User', 'Groups' -> 'Group'."""
    return stream[:-1] if stream.endswith("s") else stream


def record_row(record: ChangeRecord) -> dict[str, Any]:
    row: dict[str, Any] = {
        "PartitionKey": record.tenant,
        "RowKey": record_key(record.seq),
        "Seq": record.seq,
        "Time": record.time,
        "Operation": record.operation,
        "ResourceType": record.resource_type,
        "ResourceId": record.resource_id,
    }
    if record.name:
        row["Name"] = record.name
    if record.members:
        row["Members"] = json.dumps(list(record.members))
    if record.document is not None:
        row.update(split_document(record.document))
        row["HasDocument"] = True
    if record.created is not None:
        row["Created"] = record.created
    return row


def record_from_entity(stream: str, entity: TableEntity) -> ChangeRecord:
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
    )


_BRIEF = ["PartitionKey", "RowKey", "Seq", "Time", "Operation", "ResourceType", "ResourceId", "Name", "Members"]
"""A record's columns without its document."""

_SENT_RANGES = 64
"""Ranges of delivered records kept beyond the watermark; past that the oldest are forgotten (re-sent)."""


@dataclass(frozen=True)
class Watermark:
    """What was delivered from a tenant partition: every record up to ``published``, and the ``sent`` ranges."""

    tenant: str
    published: int
    etag: str
    sent: tuple[tuple[int, int], ...] = ()

    def delivered(self, seq: int) -> bool:
        return seq <= self.published or any(lo <= seq <= hi for lo, hi in self.sent)

    @classmethod
    def from_entity(cls, entity: TableEntity) -> Watermark:
        sent = tuple((int(lo), int(hi)) for lo, hi in json.loads(entity.get("Sent") or "[]"))
        return cls(str(entity["RowKey"]), int(entity.get("Published") or 0), str(entity.metadata["etag"]), sent)

    def with_sent(self, seqs: Iterable[int]) -> tuple[int, tuple[tuple[int, int], ...]]:
        """The watermark and ranges once ``seqs`` are delivered too: ranges merged, the prefix absorbed."""
        ranges = sorted([*self.sent, *((s, s) for s in seqs if s > self.published)])
        merged: list[tuple[int, int]] = []
        for lo, hi in ranges:
            if merged and lo <= merged[-1][1] + 1:
                merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
            else:
                merged.append((lo, hi))
        published = self.published
        while merged and merged[0][0] <= published + 1:
            published = max(published, merged.pop(0)[1])
        return published, tuple(merged[-_SENT_RANGES:])


def registry_row(tenant: str) -> dict[str, Any]:
    return {"PartitionKey": REGISTRY_PARTITION, "RowKey": tenant}


def watermark_row(tenant: str, published: int) -> dict[str, Any]:
    """The registry row saying every record up to ``published`` was delivered."""
    return {**registry_row(tenant), "Published": published, "Sent": "[]"}


class ChangeTable(Protocol):
    """What the change records need of a resource table (scim.store.tables.ResourceTable)."""

    stream: str

    def client(self) -> TableClient: ...

    def storage_error(self, exc: Exception) -> Exception: ...

    def sequence(self, tenant: str) -> int: ...

    def query(
        self, query: str, params: dict[str, Any], *, page: int = 1000, select: list[str] | None = None
    ) -> Iterator[TableEntity]: ...


class ChangeRows:
    """The change records and delivery watermarks of one resource table."""

    def __init__(self, table: ChangeTable) -> None:
        self._table = table
        self.stream = table.stream

    def read(self, tenant: str, *, after: int = 0, limit: int = 100, brief: bool = False) -> list[ChangeRecord]:
        """Records with sequence numbers after ``after``, oldest first: one range query per 1,000.

        ``brief`` leaves the documents out (what the operator's views show, at a fraction of the bytes).
        """
        if limit <= 0:
            return []
        rows = self._query(
            "PartitionKey eq @pk and RowKey gt @lo and RowKey lt @hi",
            {"pk": tenant, "lo": record_key(max(after, 0)), "hi": RECORD_END},
            page=min(limit, 1000),
            select=_BRIEF if brief else None,
        )
        return [record_from_entity(self.stream, row) for row in itertools.islice(rows, limit)]

    def last_seq(self, tenant: str) -> int:
        """The partition's newest sequence number (0 for none): one point read of its counter row."""
        return self._table.sequence(tenant)

    def watermarks(self) -> list[Watermark]:
        """Every tenant partition that has (or had) records, with its delivery watermark: one small partition."""
        rows = self._query("PartitionKey eq @pk", {"pk": REGISTRY_PARTITION}, page=1000)
        return [Watermark.from_entity(row) for row in rows]

    def mark_sent(self, tenant: str, seqs: Sequence[int], known: Watermark | None = None) -> Watermark | None:
        """Record that these records were delivered: one conditional merge of the registry row.

        The watermark moves over every record delivered without a gap; later ones are kept as ranges, so the
        sweep skips them. ``known`` (a cached copy) saves the read; None if the row stayed contended.
        """
        client = self._table.client()
        for _attempt in range(3):
            try:
                if known is None:
                    known = Watermark.from_entity(client.get_entity(REGISTRY_PARTITION, tenant))
                published, sent = known.with_sent(seqs)
                if (published, sent) == (known.published, known.sent):
                    return known
                written = client.update_entity(
                    {**registry_row(tenant), "Published": published, "Sent": json.dumps([list(r) for r in sent])},
                    mode=UpdateMode.MERGE,
                    etag=known.etag,
                    match_condition=MatchConditions.IfNotModified,
                )
                return Watermark(tenant, published, str(written["etag"]), sent)
            except (ResourceModifiedError, ResourceNotFoundError):
                known = None  # another publisher moved it (or the cached copy is stale): read it again
            except AzureError as exc:
                raise self._table.storage_error(exc) from exc
        return None

    def reset(self, known: Watermark) -> Watermark | None:
        """Nothing delivered: for a partition purged since (its numbers start again from 1)."""
        try:
            written = self._table.client().update_entity(
                {**registry_row(known.tenant), "Published": 0, "Sent": "[]"},
                mode=UpdateMode.MERGE,
                etag=known.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except ResourceModifiedError:
            return None
        except AzureError as exc:
            raise self._table.storage_error(exc) from exc
        return Watermark(known.tenant, 0, str(written["etag"]))

    def trim(self, tenant: str, before: datetime, up_to: int) -> int:
        """Delete the oldest records made before ``before`` and already delivered (seq <= up_to); how many.

        Reads keys from the oldest record on and stops at the first one to keep: the cost is what it deletes.
        """
        keys: list[str] = []
        rows = self._query(
            "PartitionKey eq @pk and RowKey gt @lo and RowKey lt @hi",
            {"pk": tenant, "lo": RECORD_PREFIX, "hi": RECORD_END},
            page=_DELETES_PER_TRANSACTION,
            select=["RowKey", "Seq", "Time"],
        )
        for row in rows:
            if int(row["Seq"]) > up_to or row["Time"] >= before:
                break
            keys.append(str(row["RowKey"]))
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
