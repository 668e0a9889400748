"""The counter row of a tenant's partition read and cached: its counts, its change sequence, its ETag.

The row itself and why every write updates it are described in scim.store.counters; this is its storage side:
one point read, a bounded cache per tenant of the row as last read or written, and the conditional operation
that writes the next one inside a change's transaction.
"""

from __future__ import annotations

from azure.core import MatchConditions
from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.data.tables import TransactionOperation, UpdateMode

from scim.store.counters import ActiveOf, CounterCache, CounterRow, Counts
from scim.store.keys import COUNTER_ROW_KEY
from scim.store.reads import PartitionReads
from scim.store.rows import Operation


class TenantCounters:
    """The counter rows of one resource table, read through its partition reads and cached per tenant."""

    def __init__(self, reads: PartitionReads) -> None:
        self._reads = reads
        self._cache = CounterCache()

    def cached(self, tenant: str) -> CounterRow | None:
        return self._cache.get(tenant)

    def remember(self, tenant: str, row: CounterRow) -> None:
        self._cache.put(tenant, row)

    def forget(self, tenant: str) -> None:
        self._cache.forget(tenant)

    def read(self, tenant: str, active_of: ActiveOf | None = None) -> CounterRow:
        """The counter row; a tenant written before counters existed gets its counts from one scan."""
        try:
            entity = self._reads.client().get_entity(tenant, COUNTER_ROW_KEY)
        except ResourceNotFoundError:
            total = active = 0
            for stored in self._reads.scan(tenant):
                total += 1
                active += active_of is None or active_of(stored.document)
            return CounterRow(Counts(total, active), None)
        except AzureError as exc:
            raise self._reads.storage_error(exc) from exc
        counts = Counts(int(entity["Total"]), int(entity["Active"]))
        return CounterRow(counts, str(entity.metadata["etag"]), int(entity.get("Seq") or 0))

    def sequence(self, tenant: str) -> int:
        """The number of the partition's last change record (0: none): one point read."""
        try:
            entity = self._reads.client().get_entity(tenant, COUNTER_ROW_KEY, select=["Seq"])
        except ResourceNotFoundError:
            return 0
        except AzureError as exc:
            raise self._reads.storage_error(exc) from exc
        return int(entity.get("Seq") or 0)

    def counts(self, tenant: str, active_of: ActiveOf | None = None) -> Counts:
        """The tenant's exact counts: one point read (never a count scan once the row exists)."""
        row = self.read(tenant, active_of)
        if row.etag is not None:
            self._cache.put(tenant, row)
        return row.counts

    @staticmethod
    def operation(tenant: str, counts: Counts, seq: int, read: CounterRow) -> Operation:
        """The write of the next counter row: created if none was read, else conditional on the ETag read."""
        row = {
            "PartitionKey": tenant,
            "RowKey": COUNTER_ROW_KEY,
            "Total": counts.total,
            "Active": counts.active,
            "Seq": seq,
        }
        if read.etag is None:
            return (TransactionOperation.CREATE, row)
        options = {"mode": UpdateMode.REPLACE, "etag": read.etag, "match_condition": MatchConditions.IfNotModified}
        return (TransactionOperation.UPDATE, row, options)
