"""How a write commits: its rows, its counter shards and its numbered change records in one transaction.

A table partitioned by tenant (scim.store.keys) whose every write goes through `CommitTable._transact`: the rows
a caller built, the counter shard of each change (scim.store.counters, scim.store.sequence) written
conditionally on its cached ETag, and the change records (scim.store.changes), all or nothing; retried while
another writer wins a shard's race, and taking the exact path when a write does not fit its shard's share of
the license cap. scim.store.tables builds the resources' rows on top of it. Only scim.store imports
azure.data.tables.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.data.tables import TableClient, TableTransactionError, TransactionOperation

from scim.store.changes import ChangeDraft, ChangeRecord, record_row
from scim.store.counters import (
    ActiveOf,
    CountChange,
    CounterConflictError,
    CounterRow,
    CounterShards,
    Counts,
    fits_shard,
    rebalanced,
)
from scim.store.keys import COUNTER_SHARDS, shard_of
from scim.store.outbox import ChangeListener, OutboxRegistry, notify
from scim.store.reads import PartitionReads
from scim.store.rows import (
    DocumentTooLargeError,
    Operation,
    StorageUnavailableError,
    UniqueValueTakenError,
    VersionMismatchError,
    access_denied,
)
from scim.store.sequence import TenantCounters
from scim.store.writers import WriterTurns

_TRANSACTION_LIMIT = 100
_COUNTER_RETRIES = 40
NO_CHANGE = CountChange()
"""A write that moves no count (a membership, an index move)."""


def _is_unavailable(exc: HttpResponseError) -> bool:
    return exc.status_code in (408, 429, 500, 502, 503, 504)


class CommitTable(PartitionReads):
    """One Azure table partitioned by tenant whose writes commit with their counter shards and change records."""

    def __init__(self, client: TableClient, stream: str = "Users") -> None:
        self._client = client
        self.stream = stream
        """The kind ("Users", "Groups"): names this table's change sequence."""
        self._table_ready = False
        self._ready_lock = threading.Lock()
        self.counters = TenantCounters(self)
        """The partition's counter shards: counts, change sequences, their cached ETags."""
        self.registry = OutboxRegistry(self)
        self.turns = WriterTurns()
        self.on_commit: ChangeListener | None = None
        """Told of each commit's change records (the publisher); one per table, so wiring twice cannot double it."""

    # -- plumbing -----------------------------------------------------------------------------

    def client(self) -> TableClient:
        """The table client; the table is created once per process if it does not exist yet."""
        if not self._table_ready:
            with self._ready_lock:
                if not self._table_ready:
                    try:
                        self._client.create_table()
                    except ResourceExistsError:
                        pass
                    except HttpResponseError as exc:
                        # In Azure the table is created by the infrastructure and the app's identity
                        # may lack the right to create tables: use the table as it is.
                        if exc.status_code != 403:
                            raise
                    self._table_ready = True
        return self._client

    def storage_error(self, exc: Exception) -> Exception:
        denied = access_denied(exc, self._client.table_name)
        if denied is not None:
            return denied
        if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
            return StorageUnavailableError(type(exc).__name__)
        if isinstance(exc, HttpResponseError) and _is_unavailable(exc):
            return StorageUnavailableError(f"Table Storage answered {exc.status_code}")
        return exc

    def _submit(
        self, operations: Sequence[Operation], index_attributes: dict[str, str], counter_ops: range = range(0)
    ) -> list[Any]:
        if len(operations) > _TRANSACTION_LIMIT:
            raise DocumentTooLargeError("too many index rows for one transaction")
        try:
            return list(self.client().submit_transaction(operations))
        except TableTransactionError as exc:
            code = str(getattr(exc, "error_code", None) or "")
            if exc.index in counter_ops:
                raise CounterConflictError() from exc
            if code == "EntityAlreadyExists":
                failed = operations[exc.index] if 0 <= exc.index < len(operations) else None
                row_key = str(failed[1]["RowKey"]) if failed is not None else ""
                raise UniqueValueTakenError(index_attributes.get(row_key, "a unique attribute")) from exc
            if code in ("UpdateConditionNotSatisfied", "ResourceNotFound", "ConditionNotMet"):
                raise VersionMismatchError(exc.index) from exc
            raise self.storage_error(exc) from exc
        except AzureError as exc:
            raise self.storage_error(exc) from exc

    def commit(
        self, tenant: str, operations: Sequence[Operation], drafts: Sequence[ChangeDraft]
    ) -> tuple[list[Any], list[ChangeRecord]]:
        """Rows that change no count (memberships) with their change records: one transaction."""
        return self._transact(tenant, operations, {}, NO_CHANGE, drafts)

    def _transact(
        self,
        tenant: str,
        operations: Sequence[Operation],
        index_attributes: dict[str, str],
        change: CountChange,
        drafts: Sequence[ChangeDraft],
        *,
        absent: Mapping[str, str] | None = None,
    ) -> tuple[list[Any], list[ChangeRecord]]:
        """Submit a change's rows with its counter shards and its numbered change records, all or nothing.

        Each draft is numbered in the shard of its resource, and the count change is made on the shard of the
        first draft's resource (the home shard); those shards are written conditionally on their (cached)
        ETags, so numbers are handed out once each and committed in order, and the transaction is retried while
        another writer wins the race. A raising write that does not fit its shard's share of the limit takes
        the exact path (scim.store.counters): every shard read fresh and rewritten in the transaction.

        ``absent`` (row key -> attribute) are unique index rows under an older key that must not exist: each is
        read before each attempt (UniqueValueTakenError if one exists). No write creates such a row any more, and
        a move of one to its current key creates the row this write would create, so no counter row is needed
        to keep the read and the commit together.

        Writers of the same tenant and shard in this process take turns (scim.store.writers): in turn, each
        commit finds the ETag its predecessor left in the cache and costs one call.
        """
        self.registry.register(tenant)
        home = shard_of(drafts[0].resource_id) if drafts else 0
        touched = {shard_of(draft.resource_id) for draft in drafts} | ({home} if not change.is_empty else set())
        with self.turns.turn(tenant, touched):
            results, records = self._commit_in_turn(
                tenant, operations, index_attributes, change, drafts, home=home, touched=touched, absent=absent
            )
        notify(self.on_commit, self.stream, tenant, records)
        return results, records

    def _commit_in_turn(
        self,
        tenant: str,
        operations: Sequence[Operation],
        index_attributes: dict[str, str],
        change: CountChange,
        drafts: Sequence[ChangeDraft],
        *,
        home: int,
        touched: set[int],
        absent: Mapping[str, str] | None = None,
    ) -> tuple[list[Any], list[ChangeRecord]]:
        for attempt in range(_COUNTER_RETRIES):
            for row_key, attribute in sorted((absent or {}).items()):
                if self._exists(tenant, row_key):
                    raise UniqueValueTakenError(attribute)
            if not touched:
                return self._submit(operations, index_attributes), []
            view = self.counters.cached(tenant) or self.counters.shards(tenant, change.active_of)
            fast = self._fits(view, home, touched, change)
            if fast:
                nexts = {
                    k: dataclasses.replace(
                        view.shards[k],
                        seq=view.local(k),
                        base=view.shards[k].base if view.shards[k].etag else view.base,
                    )
                    for k in touched
                }
                row = nexts[home]
                moved = Counts(row.counts.total + change.total, row.counts.active + change.active)
                nexts[home] = dataclasses.replace(row, counts=moved)
            else:
                view = self.counters.shards(tenant, change.active_of)  # the exact path reads every shard fresh
                nexts = dict(enumerate(rebalanced(view, home, change)))
            results, records, written = self._attempt(
                tenant, operations, index_attributes, drafts, view=view, nexts=nexts
            )
            if results is None:
                self.counters.forget(tenant)
                time.sleep(random.uniform(0, min(0.2, 0.002 * 2 ** min(attempt, 7))))  # noqa: S311 - jitter, not security
                continue
            if view.legacy is not None and view.legacy.etag is None:
                self.counters.forget(tenant)  # a scan's counts were just written down: read them as a row next time
            else:
                self.counters.remember(tenant, written, legacy_gone=not fast)
            return results, records
        raise StorageUnavailableError("the tenant's counter shards are contended; retry later")

    @staticmethod
    def _fits(view: CounterShards, home: int, touched: set[int], change: CountChange) -> bool:
        """May the write commit on the shards it touches alone (scim.store.counters), or must it take the exact
        path (rewrite every shard, folding the older counter row or a scan's counts into them)?"""
        if view.legacy is not None and change.active > 0 and change.active_limit is not None:
            return False  # counts outside every share (the older row's, or a scan's): fold them in first
        limited = any(row.limit is not None for row in view.shards)
        if limited and any(view.shards[k].etag is None for k in touched):
            return False  # every shard exists once any has a limit: this view is stale
        return fits_shard(view, home, change)

    def _attempt(
        self,
        tenant: str,
        operations: Sequence[Operation],
        index_attributes: dict[str, str],
        drafts: Sequence[ChangeDraft],
        *,
        view: CounterShards,
        nexts: dict[int, CounterRow],
    ) -> tuple[list[Any] | None, list[ChangeRecord], dict[int, CounterRow]]:
        """One transaction: the rows, the next shards (numbering the drafts), the records; None on a conflict."""
        locals_ = {k: row.seq for k, row in nexts.items()}
        stamped = list(operations)
        records: list[ChangeRecord] = []
        for draft in drafts:
            shard = shard_of(draft.resource_id)
            locals_[shard] += 1
            record = ChangeRecord.of(tenant, self.stream, shard, locals_[shard], draft)
            records.append(record)
            if draft.stamps is not None:
                kind, entity, *options = stamped[draft.stamps]
                stamped[draft.stamps] = (kind, {**entity, "Seq": record.seq}, *options)  # type: ignore[assignment]
        nexts = {k: dataclasses.replace(row, seq=locals_[k]) for k, row in nexts.items()}
        counter_ops = [self.counters.operation(tenant, k, nexts[k], view.shards[k]) for k in sorted(nexts)]
        if view.legacy is not None and len(nexts) == COUNTER_SHARDS and view.legacy.etag is not None:
            counter_ops.append(self.counters.fold_legacy(tenant, view.legacy))
        elif view.legacy is not None and len(nexts) < COUNTER_SHARDS and view.legacy.etag is None:
            # A partition written before counters existed: its first write keeps the scan's counts as the older
            # row (created, so two first writers cannot both), instead of rewriting every shard.
            counter_ops.append(self.counters.older_row(tenant, view.legacy))
        record_ops: list[Operation] = [(TransactionOperation.CREATE, record_row(r)) for r in records]
        first = len(stamped)
        try:
            results = self._submit(
                [*stamped, *counter_ops, *record_ops], index_attributes, range(first, first + len(counter_ops))
            )
        except CounterConflictError:
            return None, [], {}
        written = {
            k: dataclasses.replace(nexts[k], etag=str(results[first + i]["etag"])) for i, k in enumerate(sorted(nexts))
        }
        return results[:first], records, written

    def shards(self, tenant: str) -> CounterShards:
        """Every counter row of the partition: one range read."""
        return self.counters.shards(tenant)

    def sequence(self, tenant: str) -> int:
        """The partition's highest change number (0: none): one range read of the counter rows."""
        return self.counters.sequence(tenant)

    def counts(self, tenant: str, active_of: ActiveOf | None = None) -> Counts:
        """The tenant's exact counts: one range read of the counter rows (never a count scan once they exist;
        before they do, ``active_of`` tells which resources the scan counts as active)."""
        return self.counters.counts(tenant, active_of)

    def adjust_counts(self, tenant: str, change: CountChange) -> None:
        """Move the tenant's counts by ``change`` with no row and no record (after a load of uncounted rows)."""
        self._transact(tenant, [], {}, change, [])
