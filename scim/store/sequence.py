"""The counter shards of a tenant's partition read and cached: their counts, change sequences and ETags.

The shards themselves, and why a write updates only its own, are described in scim.store.counters; this is their
storage side: one range read of every counter row, a bounded cache per tenant of the shards as last read or
written, and the conditional operations that write the next ones inside a change's transaction.
"""

from __future__ import annotations

from azure.core import MatchConditions
from azure.core.exceptions import AzureError
from azure.data.tables import TableEntity, TransactionOperation, UpdateMode

from scim.store.counters import ActiveOf, CounterCache, CounterRow, CounterShards, Counts
from scim.store.keys import COUNTER_END, COUNTER_ROW_KEY, COUNTER_SHARDS, counter_shard_key, counter_shard_of
from scim.store.reads import PartitionReads
from scim.store.rows import Operation


def _row(entity: TableEntity) -> CounterRow:
    limit = entity.get("Limit")
    return CounterRow(
        Counts(int(entity.get("Total") or 0), int(entity.get("Active") or 0)),
        str(entity.metadata["etag"]),
        int(entity.get("Seq") or 0),
        None if limit is None else int(limit),
        int(entity.get("Base") or 0),
    )


class TenantCounters:
    """The counter shards of one resource table, read through its partition reads and cached per tenant."""

    def __init__(self, reads: PartitionReads) -> None:
        self._reads = reads
        self._cache = CounterCache()

    def cached(self, tenant: str) -> CounterShards | None:
        return self._cache.get(tenant)

    def remember(self, tenant: str, written: dict[int, CounterRow], legacy_gone: bool) -> None:
        self._cache.update(tenant, written, legacy_gone)

    def forget(self, tenant: str) -> None:
        self._cache.forget(tenant)

    def shards(self, tenant: str, active_of: ActiveOf | None = None) -> CounterShards:
        """Every counter row of the partition: one range read (at most COUNTER_SHARDS + 1 small rows); cached.

        A partition with none (new, or written before counters existed) is scanned once: its counts are given as
        an older row that does not exist (etag None), which the first write folds into the shards."""
        found = self._read(tenant)
        if not found.exists:
            total = active = 0
            for stored in self._reads.scan(tenant):
                total += 1
                active += active_of is None or active_of(stored.document)
            if total:
                # Writers that count may have committed between the read and the scan (their resources are
                # then in both): the scan's counts stand only if there are still no counter rows after it.
                found = self._read(tenant)
                if not found.exists:
                    found = CounterShards(found.shards, CounterRow(Counts(total, active), None))
        self._cache.put(tenant, found)
        return found

    def _read(self, tenant: str) -> CounterShards:
        rows = list(CounterShards.empty().shards)
        legacy = None
        try:
            entities = list(
                self._reads.query(
                    "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
                    {"pk": tenant, "lo": COUNTER_ROW_KEY, "hi": COUNTER_END},
                    page=COUNTER_SHARDS + 1,
                )
            )
        except AzureError as exc:
            raise self._reads.storage_error(exc) from exc
        for entity in entities:
            key = str(entity["RowKey"])
            shard = counter_shard_of(key)
            if shard is not None and shard < COUNTER_SHARDS:
                rows[shard] = _row(entity)
            elif key == COUNTER_ROW_KEY:
                legacy = _row(entity)
        return CounterShards(tuple(rows), legacy)

    def sequence(self, tenant: str) -> int:
        """The highest change number issued in the partition (0: none): one range read of the counter rows."""
        return self.shards(tenant).last_number()

    def counts(self, tenant: str, active_of: ActiveOf | None = None) -> Counts:
        """The tenant's exact counts: one range read; a partition written before counters existed is scanned."""
        return self.shards(tenant, active_of).counts

    @staticmethod
    def operation(tenant: str, shard: int, row: CounterRow, read: CounterRow) -> Operation:
        """The write of a shard's next row: created if none was read, else conditional on the ETag read."""
        entity: dict[str, object] = {
            "PartitionKey": tenant,
            "RowKey": counter_shard_key(shard),
            "Total": row.counts.total,
            "Active": row.counts.active,
            "Seq": row.seq,
            "Base": row.base,
        }
        if row.limit is not None:
            entity["Limit"] = row.limit
        if read.etag is None:
            return (TransactionOperation.CREATE, entity)
        options = {"mode": UpdateMode.REPLACE, "etag": read.etag, "match_condition": MatchConditions.IfNotModified}
        return (TransactionOperation.UPDATE, entity, options)

    @staticmethod
    def older_row(tenant: str, scanned: CounterRow) -> Operation:
        """The older counter row created with a scan's counts (fails if another writer created it first)."""
        entity = {"PartitionKey": tenant, "RowKey": COUNTER_ROW_KEY, "Total": scanned.counts.total}
        return (TransactionOperation.CREATE, {**entity, "Active": scanned.counts.active, "Seq": 0})

    @staticmethod
    def fold_legacy(tenant: str, legacy: CounterRow) -> Operation:
        """The older counter row's delete, once the shards hold its counts (conditional on its ETag)."""
        return (
            TransactionOperation.DELETE,
            {"PartitionKey": tenant, "RowKey": COUNTER_ROW_KEY},
            {"etag": legacy.etag, "match_condition": MatchConditions.IfNotModified},
        )
