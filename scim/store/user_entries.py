"""The member index: one small row per user of a tenant in its Groups partition, so a membership write can
prove its member is a user inside its own transaction, with no read at all.

A membership transaction (scim.store.membership) merges each member's ``x|<user id>`` row: a merge of an
absent row fails the whole transaction (ResourceNotFound at that operation), so a pair cannot be written for
an id that is not a user, and a user deleted meanwhile makes the write fail instead of leaving a membership
behind. A PATCH larger than one transaction first checks every id the same way (``first_unregistered``: a
transaction of up to 100 merges and nothing else, one storage call per 100 ids), so a made-up id fails it
before anything is stored. Never a query of OR-ed row keys, which Table Storage answers by scanning the
partition.

The rows live in the Groups table because a transaction cannot span two tables; the Users table stays the
truth. The order of the two tables' writes is what keeps them agreeing (scim.resources.users):
- create: the entry first, then the user row. A failure between leaves an entry for an id nobody was given
  (the POST failed), which no client can name; the service deletes it, and a repair removes any left over.
- delete: the entry first, then the user's memberships, then the user row. Once the entry is gone no new
  membership can be written for the user, so the memberships removed next are all it will ever have, and at
  no moment is a membership held by an id that is not a user. A failure between leaves a user without an
  entry: still a user, added to groups through the fallback below; Entra retries the DELETE.
Users written before the index existed have no entry: a membership write that fails for want of one reads
the ids from the Users table (today's point reads, once per user) and writes their entries (``register``),
so a tenant migrates itself on first use; `scim-admin tenant reindex` does the whole tenant at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta

from azure.core.exceptions import AzureError, ResourceExistsError
from azure.data.tables import TableTransactionError, TransactionOperation, UpdateMode

from scim.store.keys import USER_ENTRY_PREFIX, user_entry_key, user_entry_of
from scim.store.rows import Operation
from scim.store.tables import ResourceTable

CHECKS_PER_TRANSACTION = 100
"""Merges one check transaction carries: Table Storage's limit for an entity-group transaction."""

ORPHAN_GRACE = timedelta(minutes=10)
"""An entry without its user younger than this may be a create in flight (entry first, then the user row: a
request ends within the 230 s HTTP limit), so a repair leaves it alone."""


class MemberNotUserError(Exception):
    """A member id that is not a user of the tenant (its entry is absent)."""

    def __init__(self, user_id: str) -> None:
        super().__init__(user_id)
        self.user_id = user_id


def entry_check(tenant: str, user_id: str) -> Operation:
    """The transaction operation that fails unless the user is in the index: a merge of its entry."""
    return (
        TransactionOperation.UPDATE,
        {"PartitionKey": tenant, "RowKey": user_entry_key(user_id)},
        {"mode": UpdateMode.MERGE},
    )


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class UserEntries:
    """The member index of one Groups table."""

    def __init__(self, groups: ResourceTable) -> None:
        self._groups = groups

    def register(self, tenant: str, user_ids: Sequence[str]) -> None:
        """Put these users in the index: one call for one (a create), 100 a transaction for more (upserts)."""
        if len(user_ids) == 1:
            row = {"PartitionKey": tenant, "RowKey": user_entry_key(user_ids[0])}
            try:
                self._groups.client().create_entity(row)
            except ResourceExistsError:
                return
            except AzureError as exc:
                raise self._groups.storage_error(exc) from exc
            return
        for chunk in _chunks(sorted(set(user_ids)), CHECKS_PER_TRANSACTION):
            ops: list[Operation] = [
                (
                    TransactionOperation.UPSERT,
                    {"PartitionKey": tenant, "RowKey": user_entry_key(uid)},
                    {"mode": UpdateMode.REPLACE},
                )
                for uid in chunk
            ]
            self._submit(ops)

    def unregister(self, tenant: str, user_id: str) -> None:
        """Take the user out of the index (no error if it was not in it): one call."""
        try:
            self._groups.client().delete_entity(tenant, user_entry_key(user_id))
        except AzureError as exc:
            if getattr(exc, "status_code", None) == 404:
                return
            raise self._groups.storage_error(exc) from exc

    def first_unregistered(self, tenant: str, user_ids: Sequence[str]) -> str | None:
        """The first of these ids (in id order) not in the index, or None: a transaction of merges per 100 ids.

        The merges write nothing a reader sees (an entry holds no property); a failed one writes nothing at
        all and names the operation that failed, which is the first absent id of its chunk.
        """
        for chunk in _chunks(sorted(set(user_ids)), CHECKS_PER_TRANSACTION):
            try:
                self._submit([entry_check(tenant, uid) for uid in chunk])
            except TableTransactionError as exc:
                if str(getattr(exc, "error_code", "")) == "ResourceNotFound" and 0 <= exc.index < len(chunk):
                    return str(chunk[exc.index])
                raise self._groups.storage_error(exc) from exc
        return None

    def registered(self, tenant: str) -> Iterator[tuple[str, datetime]]:
        """(user id, last written) of every entry, in id order, 1,000 a round trip: for the repair only."""
        for row in self._groups.key_range(tenant, USER_ENTRY_PREFIX, select=["RowKey"]):
            uid = user_entry_of(str(row["RowKey"]))
            stamp = row.metadata.get("timestamp") if hasattr(row, "metadata") else None
            if uid is not None:
                yield uid, stamp if isinstance(stamp, datetime) else datetime.now(UTC)

    def _submit(self, ops: list[Operation]) -> None:
        try:
            self._groups.client().submit_transaction(ops)
        except TableTransactionError:
            raise
        except AzureError as exc:
            raise self._groups.storage_error(exc) from exc
