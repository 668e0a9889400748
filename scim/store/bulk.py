"""Many new resources stored at once, as many to a transaction as fit: for seeding benchmarks and fixtures."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from azure.core.exceptions import AzureError
from azure.data.tables import TransactionOperation

from scim.store.changes import ChangeDraft, ChangeRecord, record_row
from scim.store.counters import CounterRow, Counts, record_number
from scim.store.keys import COUNTER_ROW_KEY, COUNTER_SHARDS, resource_key, shard_of
from scim.store.marks import LEGACY, Mark, watermark_row
from scim.store.outbox import OutboxRegistry
from scim.store.reads import PartitionReads
from scim.store.rows import IndexEntry, Operation, split_document
from scim.store.sequence import TenantCounters

TRANSACTION_LIMIT = 100


@dataclass(frozen=True)
class LoadedResource:
    """A resource for ResourceTable.load: its id, document, index entries, name (for its record), activity."""

    id: str
    document: dict[str, Any]
    indexes: Sequence[IndexEntry]
    name: str | None = None
    active: bool = True


def load_resources(
    reads: PartitionReads,
    stream: str,
    counters: TenantCounters,
    registry: OutboxRegistry,
    submit: Callable[[Sequence[Operation]], list[Any]],
    *,
    tenant: str,
    resources: Sequence[LoadedResource],
    now: datetime,
    change_records: bool = False,
    writers: int = 2,
) -> int:
    """Store many new resources as many to a transaction as fit; how many transactions it took.

    The partition ends as if each had been created by ``create`` and, unless ``change_records``, its
    "created" record delivered and trimmed since: resource rows stamped with their Seq, index rows, and the
    counter shards' Total, Active and Seq counting them all. Numbers are handed out here, in each resource's
    shard, so the transactions need not write the counter shards and ``writers`` never contend for them; every
    shard is written once at the end (with no limit: the next capped write rebalances them, and the older
    counter row, if any, is folded in). Without records the registry's watermark says all were delivered; with
    them they wait for the delivery sweep (none is handed to the listener). Not for concurrent writers of
    the same tenant: for seeding benchmarks and fixtures.
    """
    registry.register(tenant)
    view = counters.shards(tenant)
    locals_ = [view.local(k) for k in range(COUNTER_SHARDS)]
    batches: list[list[Operation]] = [[]]
    active = 0
    for resource in resources:
        index_rows = sorted(entry.row_key(resource.id) for entry in resource.indexes)
        shard = shard_of(resource.id)
        locals_[shard] += 1
        seq = record_number(shard, locals_[shard])
        rows: list[dict[str, Any]] = [
            {
                "PartitionKey": tenant,
                "RowKey": resource_key(resource.id),
                "Created": now,
                "LastModified": now,
                "IndexRows": json.dumps(index_rows),
                **split_document(resource.document),
                "Seq": seq,
            },
            *({"PartitionKey": tenant, "RowKey": key, "ResourceId": resource.id} for key in index_rows),
        ]
        if change_records:
            draft = ChangeDraft("created", resource.id, now, resource.name, resource.document, now)
            rows.append(record_row(ChangeRecord.of(tenant, stream, shard, locals_[shard], draft)))
        if len(batches[-1]) + len(rows) > TRANSACTION_LIMIT:
            batches.append([])
        batches[-1] += [(TransactionOperation.CREATE, row) for row in rows]
        active += resource.active
    batches = [batch for batch in batches if batch]
    with ThreadPoolExecutor(max_workers=writers) as pool:
        list(pool.map(submit, batches))
    counts = view.counts + Counts(len(resources), active)
    try:
        for k, row in enumerate(view.shards):
            held = counts if k == 0 else Counts(0, 0)
            written = CounterRow(held, None, locals_[k], None, row.base if row.etag else view.base)
            _kind, entity, *_ = counters.operation(tenant, k, written, CounterRow(Counts(), None))
            reads.client().upsert_entity(entity)
        if view.legacy is not None and view.legacy.etag is not None:
            reads.client().delete_entity(tenant, COUNTER_ROW_KEY)
        counters.forget(tenant)
        if not change_records:
            marks = {k: Mark(locals_[k]) for k in range(COUNTER_SHARDS)}
            reads.client().upsert_entity(watermark_row(tenant, {**marks, LEGACY: Mark(view.base)}))
    except AzureError as exc:
        raise reads.storage_error(exc) from exc
    return len(batches)
