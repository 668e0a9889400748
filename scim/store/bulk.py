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

from scim.store.changes import ChangeDraft, ChangeRecord, record_row, watermark_row
from scim.store.keys import COUNTER_ROW_KEY, resource_key
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
    counter row's Total, Active and Seq counting them all. Sequence numbers are handed out here, in order,
    so the transactions need not write the counter row and ``writers`` never contend for it; the counter
    row is written once at the end. Without records the registry's watermark says all were delivered; with
    them they wait for the delivery sweep (none is handed to the listener). Not for concurrent writers of
    the same tenant: for seeding benchmarks and fixtures.
    """
    registry.register(tenant)
    counts = counters.counts(tenant)
    seq = counters.sequence(tenant)
    batches: list[list[Operation]] = [[]]
    active = 0
    for resource in resources:
        index_rows = sorted(entry.row_key(resource.id) for entry in resource.indexes)
        seq += 1
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
            rows.append(record_row(ChangeRecord.of(tenant, stream, seq, draft)))
        if len(batches[-1]) + len(rows) > TRANSACTION_LIMIT:
            batches.append([])
        batches[-1] += [(TransactionOperation.CREATE, row) for row in rows]
        active += resource.active
    batches = [batch for batch in batches if batch]
    with ThreadPoolExecutor(max_workers=writers) as pool:
        list(pool.map(submit, batches))
    counter = {"Total": counts.total + len(resources), "Active": counts.active + active, "Seq": seq}
    try:
        reads.client().upsert_entity({"PartitionKey": tenant, "RowKey": COUNTER_ROW_KEY, **counter})
        counters.forget(tenant)
        if not change_records:
            reads.client().upsert_entity(watermark_row(tenant, seq))
    except AzureError as exc:
        raise reads.storage_error(exc) from exc
    return len(batches)
