"""Group membership as rows: one per (group, member) and its reverse, so a change costs O(changes), not O(group).

Rows in the tenant's partition of the Groups table (beside the group rows of scim.store.tables):
- ``m|<group id>|<user id>``   the group holds the user (paged to list a group's members)
- ``u|<user id>|<group id>``   the reverse row (which groups hold a user: filters and the user's ``groups``)

Both rows of a pair are written or deleted in the same entity-group transaction, so a membership is whole or
absent. A transaction that adds pairs also merges each member's entry in the member index
(scim.store.user_entries), which fails it if the member is not a user of the tenant: the check costs no read.
Each transaction that changes a group's members also merges the group row (its LastModified and Seq), which
fails the transaction if the group has been deleted meanwhile and moves the group's version, and
writes a change record (member-added or member-removed, with the user ids) numbered in the Groups table's
sequence (scim.store.changes). Ids are checked as our own uuid hex before they reach a key.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime

from azure.data.tables import TransactionOperation, UpdateMode

from scim.store.changes import ChangeDraft
from scim.store.keys import member_key, member_of_key, member_of_prefix, members_prefix, resource_key
from scim.store.rows import Operation, StorageUnavailableError, VersionMismatchError
from scim.store.tables import ResourceTable
from scim.store.user_entries import MemberNotUserError, UserEntries, entry_check

PAIRS_PER_TRANSACTION = 48
"""Pairs a removal deletes a transaction: two rows each, the group row, its counter shard and the change record:
99 operations of the 100 allowed."""
ADDS_PER_TRANSACTION = 32
"""Pairs an addition writes a transaction: two rows and the member's index entry each (96), the group row, its
counter shard and the change record."""
_GROUPS_PER_USER_TRANSACTION = 16
"""A deleted user leaves 16 groups a transaction: its two rows, the group row and a record each, plus the counter
shard of each group (up to 16): 80 operations."""
_RACE_RETRIES = 5
_DISPLAY_CHARS = 1024
"""A member's display name is kept with the row, cut to a length no real name reaches."""


class GroupGoneError(Exception):
    """The group was deleted while its members were being changed."""


class PairGoneError(Exception):
    """A membership being removed was removed by someone else first; read again and retry."""


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Memberships:
    """The membership rows of one Groups table."""

    def __init__(self, groups: ResourceTable) -> None:
        self._groups = groups
        self.users = UserEntries(groups)
        """The member index: which ids are users of the tenant."""

    @property
    def table(self) -> ResourceTable:
        """The Groups table the pairs live in."""
        return self._groups

    def _touch(self, tenant: str, group_id: str, now: datetime) -> Operation:
        row = {"PartitionKey": tenant, "RowKey": resource_key(group_id), "LastModified": now}
        return (TransactionOperation.UPDATE, row, {"mode": UpdateMode.MERGE})

    def _pair_ops(
        self, kind: TransactionOperation, tenant: str, group_id: str, user_id: str, display: str | None = None
    ) -> list[Operation]:
        member = {"PartitionKey": tenant, "RowKey": member_key(group_id, user_id), "UserId": user_id}
        if display:
            member["Display"] = display[:_DISPLAY_CHARS]
        reverse = {"PartitionKey": tenant, "RowKey": member_of_key(user_id, group_id), "GroupId": group_id}
        if kind == TransactionOperation.UPSERT:
            return [(kind, member, {"mode": UpdateMode.REPLACE}), (kind, reverse, {"mode": UpdateMode.REPLACE})]
        return [(kind, member), (kind, reverse)]

    def _submit_batch(
        self,
        tenant: str,
        group_id: str,
        operations: list[Operation],
        now: datetime,
        *,
        operation: str,
        user_ids: Sequence[str],
        name: str | None,
        checked: Sequence[str] = (),
    ) -> None:
        """One transaction that also merges the group row (which fails if the group is gone) and records it;
        ``checked`` are users whose index entries it merges too (MemberNotUserError if one is absent)."""
        start = len(operations)
        operations = [*operations, *(entry_check(tenant, uid) for uid in checked), self._touch(tenant, group_id, now)]
        draft = ChangeDraft(operation, group_id, now, name, members=tuple(user_ids), stamps=len(operations) - 1)
        try:
            self._groups.commit(tenant, operations, [draft])
        except VersionMismatchError as exc:
            if exc.index == len(operations) - 1:
                raise GroupGoneError(group_id) from exc
            if start <= exc.index < start + len(checked):
                raise MemberNotUserError(checked[exc.index - start]) from exc
            raise PairGoneError() from exc

    def load(self, tenant: str, group_id: str, user_ids: Sequence[str], now: datetime) -> None:
        """New memberships for seeding (benchmarks, fixtures): the transactions ``add`` commits, the pairs created
        rather than upserted (for a new pair the rows are the same; Azurite reads an upserted row twice), the
        members taken as users without a check."""
        for chunk in _chunks(list(user_ids), PAIRS_PER_TRANSACTION):
            ops = [op for uid in chunk for op in self._pair_ops(TransactionOperation.CREATE, tenant, group_id, uid)]
            self._submit_batch(tenant, group_id, ops, now, operation="member-added", user_ids=chunk, name=None)

    def add(
        self,
        tenant: str,
        group_id: str,
        user_ids: Sequence[str],
        now: datetime,
        displays: Mapping[str, str] | None = None,
        *,
        name: str | None = None,
    ) -> None:
        """Add members (re-adding one is a no-op, but recorded): one transaction and record per 32 members, each
        conditional on the members being users (MemberNotUserError names the first that is not; the
        transactions before it stay written: callers that need all or nothing call ``first_unregistered``
        first, unless the members fit one transaction)."""
        shown = displays or {}
        for chunk in _chunks(sorted(set(user_ids)), ADDS_PER_TRANSACTION):
            ops = [
                op
                for uid in chunk
                for op in self._pair_ops(TransactionOperation.UPSERT, tenant, group_id, uid, shown.get(uid))
            ]
            self._submit_batch(
                tenant, group_id, ops, now, operation="member-added", user_ids=chunk, name=name, checked=chunk
            )

    def first_unregistered(self, tenant: str, user_ids: Sequence[str]) -> str | None:
        """The first of these ids (in id order) that is not in the member index: a call per 100 ids, no read."""
        return self.users.first_unregistered(tenant, user_ids)

    @staticmethod
    def fits_one_transaction(user_ids: Sequence[str]) -> bool:
        """Would ``add`` write these members in one transaction (so that it is its own all-or-nothing check)?"""
        return len(set(user_ids)) <= ADDS_PER_TRANSACTION

    def remove(
        self, tenant: str, group_id: str, user_ids: Sequence[str], now: datetime, name: str | None = None
    ) -> None:
        """Remove the given members that the group holds; the others are ignored (and not recorded)."""
        for chunk in _chunks(sorted(set(user_ids)), PAIRS_PER_TRANSACTION):
            self._delete_pairs(tenant, group_id, chunk, now, name)

    def _delete_pairs(
        self, tenant: str, group_id: str, user_ids: Sequence[str], now: datetime, name: str | None
    ) -> None:
        for _attempt in range(_RACE_RETRIES):
            present = sorted(self.held(tenant, group_id, user_ids))
            if not present:
                return
            ops = [op for uid in present for op in self._pair_ops(TransactionOperation.DELETE, tenant, group_id, uid)]
            try:
                self._submit_batch(tenant, group_id, ops, now, operation="member-removed", user_ids=present, name=name)
                return
            except PairGoneError:
                continue  # a concurrent request removed one of them first
        raise StorageUnavailableError("membership rows are contended; retry later")

    def remove_all(self, tenant: str, group_id: str, now: datetime, name: str | None = None) -> None:
        """Remove every member, any number, a page of keys at a time."""
        while True:
            page = list(itertools.islice(self.members(tenant, group_id), 1000))
            if not page:
                return
            for chunk in _chunks(page, PAIRS_PER_TRANSACTION):
                self._delete_pairs(tenant, group_id, chunk, now, name)

    def forget_user(self, tenant: str, user_id: str, now: datetime | None = None) -> None:
        """A deleted user leaves every group it was in: each group is touched and gets a member-removed record."""
        for _attempt in range(_RACE_RETRIES):
            try:
                for chunk in _chunks(self.groups_of(tenant, user_id), _GROUPS_PER_USER_TRANSACTION):
                    self._leave(tenant, user_id, chunk, now or datetime.now(UTC))
                return
            except PairGoneError:
                continue  # a concurrent request removed one membership (or its group) first: read them again
        raise StorageUnavailableError("membership rows are contended; retry later")

    def _leave(self, tenant: str, user_id: str, group_ids: Sequence[str], now: datetime) -> None:
        operations: list[Operation] = []
        drafts: list[ChangeDraft] = []
        for gid in group_ids:
            operations += self._pair_ops(TransactionOperation.DELETE, tenant, gid, user_id)
            operations.append(self._touch(tenant, gid, now))
            drafts.append(ChangeDraft("member-removed", gid, now, members=(user_id,), stamps=len(operations) - 1))
        try:
            self._groups.commit(tenant, operations, drafts)
        except VersionMismatchError as exc:
            raise PairGoneError() from exc

    def members(self, tenant: str, group_id: str) -> Iterator[str]:
        """The group's member ids in id order, read 1,000 keys a round trip."""
        yield from self._range(tenant, members_prefix(group_id), "UserId")

    def members_shown(self, tenant: str, group_id: str) -> Iterator[tuple[str, str | None]]:
        """The group's members as (id, display) in id order, read 1,000 rows a round trip."""
        for row in self._groups.key_range(tenant, members_prefix(group_id), select=["UserId", "Display"]):
            display = row.get("Display")
            yield str(row["UserId"]), str(display) if display else None

    def groups_of(self, tenant: str, user_id: str) -> list[str]:
        """Ids of the groups that hold the user: one range query over the reverse rows."""
        return list(self._range(tenant, member_of_prefix(user_id), "GroupId"))

    def held(self, tenant: str, group_id: str, user_ids: Iterable[str]) -> set[str]:
        """Which of these users the group holds: a point read of each pair's row, whatever the group's size."""
        keys = {member_key(group_id, uid): uid for uid in user_ids}
        return {keys[key] for key in self._groups.existing_keys(tenant, keys)}

    def _range(self, tenant: str, prefix: str, column: str) -> Iterator[str]:
        for row in self._groups.key_range(tenant, prefix, select=[column]):
            yield str(row[column])
