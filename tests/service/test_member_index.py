"""Member checks through the member index (scim.store.user_entries), on the in-memory store: what a membership
change costs in storage calls, that a member must be a user of the tenant, and that create and delete keep the
index and the Users table in step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from scim2_models import InvalidValueException

from scim.platform.invariants import check_tenant
from scim.resources.groups import GroupService
from scim.resources.member_index import repair_member_index
from scim.resources.users import UserService
from scim.store import TableStorage, user_entry_of

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture
def groups(storage: TableStorage) -> GroupService:
    return GroupService(storage.resources("Groups"), storage.resources("Users"))


@pytest.fixture
def users(storage: TableStorage, groups: GroupService) -> UserService:
    return UserService(storage.resources("Users"), memberships=groups.memberships)


def make_users(users: UserService, tenant: str, count: int, prefix: str = "u") -> list[str]:
    out = []
    for n in range(count):
        name = f"{prefix}{n}@contoso.com"
        out.append(str(users.create(tenant, {"schemas": [USER], "userName": name, "emails": [{"value": name}]}).id))
    return out


def add_members(ids: list[str]) -> dict[str, Any]:
    return {"schemas": [PATCH], "Operations": [{"op": "Add", "path": "members", "value": [{"value": i} for i in ids]}]}


def calls(storage: TableStorage, action: Any) -> int:
    before = storage.round_trips.count
    action()
    return storage.round_trips.count - before


def members(groups: GroupService, tenant: str, group_id: str) -> list[str]:
    return list(groups.memberships.members(tenant, group_id))


def entries(storage: TableStorage, tenant: str) -> set[str]:
    rows = storage.resources("Groups").rows(tenant)
    return {uid for row in rows if (uid := user_entry_of(str(row["RowKey"]))) is not None}


def test_a_100_member_patch_costs_at_most_10_storage_calls(
    storage: TableStorage, users: UserService, groups: GroupService, tenant: str
) -> None:
    ids = make_users(users, tenant, 100)
    group = groups.create(tenant, {"schemas": [GROUP], "displayName": "Staff"})
    spent = calls(storage, lambda: groups.patch(tenant, str(group.id), add_members(ids), answer=False))
    assert spent <= 10, spent
    assert sorted(members(groups, tenant, str(group.id))) == sorted(ids)
    assert check_tenant(storage, tenant).ok


def test_a_1000_member_patch_costs_no_read_per_member(
    storage: TableStorage, users: UserService, groups: GroupService, tenant: str
) -> None:
    ids = make_users(users, tenant, 1000)
    group = groups.create(tenant, {"schemas": [GROUP], "displayName": "Everyone"})
    spent = calls(storage, lambda: groups.patch(tenant, str(group.id), add_members(ids), answer=False))
    # 10 check transactions of 100 ids, 32 transactions of 32 pairs: no point read at all
    assert spent <= 10 + 32 + 2, spent
    assert len(members(groups, tenant, str(group.id))) == 1000


def test_one_member_add_is_one_transaction(
    storage: TableStorage, users: UserService, groups: GroupService, tenant: str
) -> None:
    (uid,) = make_users(users, tenant, 1)
    group = groups.create(tenant, {"schemas": [GROUP], "displayName": "Solo"})
    groups.patch(tenant, str(group.id), add_members(make_users(users, tenant, 1, "w")), answer=False)  # warm
    assert calls(storage, lambda: groups.patch(tenant, str(group.id), add_members([uid]), answer=False)) == 1


@pytest.mark.parametrize("count", [1, 100])
def test_a_member_that_is_not_a_user_is_refused_and_nothing_is_stored(
    storage: TableStorage, users: UserService, groups: GroupService, tenant: str, count: int
) -> None:
    ids = make_users(users, tenant, count)
    group = groups.create(tenant, {"schemas": [GROUP], "displayName": "Team"})
    stranger = "f" * 32
    before = sorted(map(str, storage.resources("Groups").rows(tenant)))
    with pytest.raises(InvalidValueException) as refused:
        groups.patch(tenant, str(group.id), add_members([*ids, stranger]), answer=False)
    assert refused.value.detail == f"Member {stranger!r} is not a user of this tenant"
    assert sorted(map(str, storage.resources("Groups").rows(tenant))) == before
    assert members(groups, tenant, str(group.id)) == []


def test_another_tenants_user_is_not_a_member(
    storage: TableStorage, users: UserService, groups: GroupService, tenant: str
) -> None:
    (theirs,) = make_users(users, tenant + "x", 1)
    group = groups.create(tenant, {"schemas": [GROUP], "displayName": "Mine"})
    with pytest.raises(InvalidValueException):
        groups.patch(tenant, str(group.id), add_members([theirs]), answer=False)
    with pytest.raises(InvalidValueException):
        groups.create(tenant, {"schemas": [GROUP], "displayName": "Mine too", "members": [{"value": theirs}]})


def test_a_deleted_user_leaves_the_index_and_cannot_join(
    storage: TableStorage, users: UserService, groups: GroupService, tenant: str
) -> None:
    alice, bob = make_users(users, tenant, 2)
    group = groups.create(tenant, {"schemas": [GROUP], "displayName": "Pair", "members": [{"value": alice}]})
    assert entries(storage, tenant) == {alice, bob}
    users.delete(tenant, alice)
    assert entries(storage, tenant) == {bob}
    assert members(groups, tenant, str(group.id)) == []
    with pytest.raises(InvalidValueException):
        groups.patch(tenant, str(group.id), add_members([alice]), answer=False)
    assert check_tenant(storage, tenant).ok


def test_users_stored_before_the_index_join_it_on_their_first_membership(
    storage: TableStorage, users: UserService, groups: GroupService, tenant: str
) -> None:
    legacy = UserService(storage.resources("Users"))  # writes no index entry, as the code before it did
    ids = [
        str(legacy.create(tenant, {"schemas": [USER], "userName": f"old{n}@c.com", "emails": [{"value": "a@c"}]}).id)
        for n in range(40)
    ]
    assert entries(storage, tenant) == set()
    one, many = (
        groups.create(tenant, {"schemas": [GROUP], "displayName": "One"}),
        groups.create(tenant, {"schemas": [GROUP], "displayName": "Many"}),
    )
    groups.patch(tenant, str(one.id), add_members(ids[:1]), answer=False)
    groups.patch(tenant, str(many.id), add_members(ids), answer=False)
    assert entries(storage, tenant) == set(ids)
    assert sorted(members(groups, tenant, str(many.id))) == sorted(ids)
    assert check_tenant(storage, tenant).ok


def test_the_checker_finds_and_the_repair_fixes_what_a_crash_leaves(
    storage: TableStorage, users: UserService, groups: GroupService, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (alice,) = make_users(users, tenant, 1)
    legacy = UserService(storage.resources("Users"))  # no entry: a user stored before the index
    old = str(legacy.create(tenant, {"schemas": [USER], "userName": "old@c.com", "emails": [{"value": "o@c"}]}).id)
    group = groups.create(tenant, {"schemas": [GROUP], "displayName": "G", "members": [{"value": alice}]})
    gid = str(group.id)
    rows = groups.memberships
    ghost, stray = "e" * 32, "d" * 32
    rows.users.register(tenant, [ghost])  # a create that stopped after its entry: no user row
    rows.add(tenant, gid, [ghost], datetime.now(UTC))
    rows.load(tenant, gid, [stray], datetime.now(UTC))  # a membership written unchecked, of no user
    report = check_tenant(storage, tenant)
    problems = {(v.row_key, v.problem) for v in report.violations}
    assert any(ghost in key and "does not exist" in problem for key, problem in problems)
    assert any(stray in key and "does not exist" in problem for key, problem in problems)
    assert (report.unindexed_users, report.orphan_entries) == (1, 1)

    monkeypatch.setattr("scim.resources.member_index.USER_ENTRY_ORPHAN_GRACE", timedelta(0))
    repaired = repair_member_index(storage.resources("Users"), rows, tenant)
    assert repaired.resources == 2 and repaired.moved == 3
    after = check_tenant(storage, tenant)
    assert after.ok and (after.unindexed_users, after.orphan_entries) == (0, 0)
    assert entries(storage, tenant) == {alice, old}
    assert members(groups, tenant, gid) == [alice]
    assert repair_member_index(storage.resources("Users"), rows, tenant).moved == 0  # nothing left to do
