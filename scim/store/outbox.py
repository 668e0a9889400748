"""The outbox's side of a commit: the tenant's registry row (in its bucket, scim.store.marks) written before its
first change record, and the listener (the queue publisher) told of each commit's records. The records
themselves: scim.store.changes."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from azure.core.exceptions import AzureError
from azure.data.tables import UpdateMode

from scim.store.changes import ChangeRecord
from scim.store.marks import registry_row
from scim.store.reads import PartitionReads

REGISTERED_LIMIT = 100_000
"""Tenants remembered as registered per table and process; past it, the set starts again (a re-upsert is harmless)."""

log = logging.getLogger("scim.store")

ChangeListener = Callable[[str, Sequence[ChangeRecord]], None]
"""Told (tenant, records) right after a transaction with change records commits; it must not block."""


class OutboxRegistry:
    """Registry rows of one table: once per tenant and process, before its first change commits, so the sweeper
    finds every partition that may hold undelivered records by reading one small partition."""

    def __init__(self, reads: PartitionReads) -> None:
        self._reads = reads
        self._registered: set[str] = set()

    def register(self, tenant: str) -> None:
        if tenant in self._registered:
            return
        try:
            self._reads.client().upsert_entity(registry_row(tenant), mode=UpdateMode.MERGE)
        except AzureError as exc:
            raise self._reads.storage_error(exc) from exc
        if len(self._registered) >= REGISTERED_LIMIT:
            self._registered.clear()
        self._registered.add(tenant)


def notify(listener: ChangeListener | None, stream: str, tenant: str, records: Sequence[ChangeRecord]) -> None:
    """Tell the listener (the publisher) what committed; its failure never fails the write."""
    if listener is None or not records:
        return
    try:
        listener(tenant, records)
    except Exception:
        log.exception("change listener failed: stream=%s", stream)
