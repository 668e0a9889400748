"""SCIM resources in Azure Table Storage: one partition per tenant, a row per resource, a row per index value.

The rows and their keys are scim.store.keys'. A resource and all its index rows are written in one
entity-group transaction with its counter shard and the change record (scim.store.commits), so a taken unique
value fails the whole write atomically (409) and a failed request leaves nothing behind, not even a change
record. Only scim.store imports azure.data.tables.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from azure.core import MatchConditions
from azure.data.tables import TransactionOperation, UpdateMode

from scim.store.bulk import LoadedResource, load_resources
from scim.store.changes import ChangeDraft
from scim.store.commits import NO_CHANGE, CommitTable
from scim.store.counters import CountChange
from scim.store.keys import resource_key
from scim.store.rows import IndexEntry, Operation, StoredResource, split_document

_ONE_MORE = CountChange(total=1)
_ONE_LESS = CountChange(total=-1)


def _index_moves(tenant: str, resource_id: str, old: Iterable[str], new: Iterable[str]) -> list[Operation]:
    """The index rows a resource no longer needs deleted, and its new ones created."""
    gone, added = sorted(set(old) - set(new)), sorted(set(new) - set(old))
    deletes: list[Operation] = [(TransactionOperation.DELETE, {"PartitionKey": tenant, "RowKey": k}) for k in gone]
    row = {"PartitionKey": tenant, "ResourceId": resource_id}
    return deletes + [(TransactionOperation.CREATE, {**row, "RowKey": key}) for key in added]


class ResourceTable(CommitTable):
    """One SCIM resource kind (Users, Groups) in one Azure table: its rows built, committed through CommitTable."""

    # -- writes -------------------------------------------------------------------------------

    def create(
        self,
        tenant: str,
        resource_id: str,
        document: dict[str, Any],
        indexes: Sequence[IndexEntry],
        now: datetime,
        *,
        change: CountChange = _ONE_MORE,
        operation: str = "created",
        absent: Sequence[IndexEntry] = (),
        name: str | None = None,
        summary: str | None = None,
    ) -> StoredResource:
        """Resource row, index rows, counter and change record in one transaction: one round trip, all or nothing
        (plus a point read per ``absent`` unique row, which must not exist: see _transact). ``summary``: what the
        record's brief readers show beside it (ChangeDraft.summary)."""
        index_rows = {entry.row_key(resource_id): entry.attribute for entry in indexes}
        guards = {entry.row_key(resource_id): entry.attribute for entry in absent}
        resource_row: dict[str, Any] = {
            "PartitionKey": tenant,
            "RowKey": resource_key(resource_id),
            "Created": now,
            "LastModified": now,
            "IndexRows": json.dumps(sorted(index_rows)),
            **split_document(document),
        }
        operations: list[Operation] = [(TransactionOperation.CREATE, resource_row)]
        operations += _index_moves(tenant, resource_id, (), index_rows)
        draft = ChangeDraft(operation, resource_id, now, name, document, now, stamps=0, summary=summary)
        results, records = self._transact(tenant, operations, index_rows, change, [draft], absent=guards)
        return StoredResource(
            id=resource_id,
            document=document,
            created=now,
            last_modified=now,
            etag=str(results[0]["etag"]),
            index_row_keys=tuple(sorted(index_rows)),
            seq=records[0].seq,
        )

    def replace(
        self,
        tenant: str,
        current: StoredResource,
        document: dict[str, Any],
        indexes: Sequence[IndexEntry],
        now: datetime,
        *,
        change: CountChange = NO_CHANGE,
        operation: str = "updated",
        absent: Sequence[IndexEntry] = (),
        name: str | None = None,
        summary: str | None = None,
    ) -> StoredResource:
        """Rewrite a resource if unchanged since read (ETag), moving only the index rows that changed (``absent``:
        unique rows another resource must not hold, as in create; the resource's own rows are not asked about)."""
        index_rows = {entry.row_key(current.id): entry.attribute for entry in indexes}
        old_keys = set(current.index_row_keys)
        guards = {key: entry.attribute for entry in absent if (key := entry.row_key(current.id)) not in old_keys}
        resource_row: dict[str, Any] = {
            "PartitionKey": tenant,
            "RowKey": resource_key(current.id),
            "Created": current.created,
            "LastModified": now,
            "IndexRows": json.dumps(sorted(index_rows)),
            **split_document(document),
        }
        operations: list[Operation] = [
            (
                TransactionOperation.UPDATE,
                resource_row,
                {"mode": UpdateMode.REPLACE, "etag": current.etag, "match_condition": MatchConditions.IfNotModified},
            )
        ]
        operations += _index_moves(tenant, current.id, old_keys, index_rows.keys())
        draft = ChangeDraft(operation, current.id, now, name, document, current.created, stamps=0, summary=summary)
        results, records = self._transact(tenant, operations, index_rows, change, [draft], absent=guards)
        return StoredResource(
            id=current.id,
            document=document,
            created=current.created,
            last_modified=now,
            etag=str(results[0]["etag"]),
            index_row_keys=tuple(sorted(index_rows)),
            seq=records[0].seq,
        )

    def delete(
        self,
        tenant: str,
        current: StoredResource,
        *,
        change: CountChange = _ONE_LESS,
        now: datetime | None = None,
        name: str | None = None,
    ) -> None:
        """Remove the resource (if unchanged since read), its index rows and its count, and record it: one
        transaction."""
        operations: list[Operation] = [
            (
                TransactionOperation.DELETE,
                {"PartitionKey": tenant, "RowKey": resource_key(current.id)},
                {"etag": current.etag, "match_condition": MatchConditions.IfNotModified},
            )
        ]
        operations += [
            (TransactionOperation.DELETE, {"PartitionKey": tenant, "RowKey": key}) for key in current.index_row_keys
        ]
        draft = ChangeDraft("deleted", current.id, now or datetime.now(UTC), name)
        self._transact(tenant, operations, {}, change, [draft])

    def move_index_rows(self, tenant: str, current: StoredResource, indexes: Sequence[IndexEntry]) -> StoredResource:
        """Give a resource the index rows ``indexes`` name, its document untouched (if unchanged since read): the
        rows it lists and no longer needs are deleted, the new ones created, in one transaction. No change
        record: nothing a reader of the resource sees has changed. UniqueValueTakenError
        if another resource holds one of the new unique rows (nothing moves)."""
        index_rows = {entry.row_key(current.id): entry.attribute for entry in indexes}
        old_keys = set(current.index_row_keys)
        operations: list[Operation] = [
            (
                TransactionOperation.UPDATE,
                {
                    "PartitionKey": tenant,
                    "RowKey": resource_key(current.id),
                    "IndexRows": json.dumps(sorted(index_rows)),
                },
                {"mode": UpdateMode.MERGE, "etag": current.etag, "match_condition": MatchConditions.IfNotModified},
            )
        ]
        operations += _index_moves(tenant, current.id, old_keys, index_rows.keys())
        results, _records = self._transact(tenant, operations, index_rows, NO_CHANGE, [])
        return dataclasses.replace(current, etag=str(results[0]["etag"]), index_row_keys=tuple(sorted(index_rows)))

    # -- bulk loading (benchmarks, fixtures) -------------------------------------------------------

    def load(
        self,
        tenant: str,
        resources: Sequence[LoadedResource],
        now: datetime,
        *,
        change_records: bool = False,
        writers: int = 2,
    ) -> int:
        """Many new resources, as many to a transaction as fit (scim.store.bulk); how many transactions it took."""
        return load_resources(
            self,
            self.stream,
            self.counters,
            self.registry,
            lambda batch: self._submit(batch, {}),
            tenant=tenant,
            resources=resources,
            now=now,
            change_records=change_records,
            writers=writers,
        )
