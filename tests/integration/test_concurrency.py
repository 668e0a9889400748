"""Overlapping requests against Azurite: each outcome equals some serial order, nothing lost or duplicated."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from scim2_models import UniquenessException

from devhost.azurite import Azurite
from scim.resources.groups import GroupService
from scim.resources.users import UserService
from scim.store import TableStorage, is_counter_key, resource_id_of
from tests.conftest import partition_rows

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture
def groups(storage: TableStorage) -> GroupService:
    return GroupService(storage.resources("Groups"), storage.resources("Users"))


@pytest.fixture
def users(storage: TableStorage, groups: GroupService) -> UserService:
    return UserService(storage.resources("Users"), memberships=groups.memberships)


def user_body(name: str) -> dict[str, Any]:
    return {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, "emails": [{"value": name}]}


def test_twenty_concurrent_member_adds_all_take_effect(users: UserService, groups: GroupService, tenant: str) -> None:
    members = [str(users.create(tenant, user_body(f"u{n}@x.test")).id) for n in range(20)]
    gid = str(groups.create(tenant, {"schemas": [GROUP], "displayName": "Everyone"}).id)

    def add(user_id: str) -> None:
        groups.patch(
            tenant,
            gid,
            {"schemas": [PATCH], "Operations": [{"op": "Add", "path": "members", "value": [{"value": user_id}]}]},
        )

    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(add, members))
    assert set(groups.memberships.members(tenant, gid)) == set(members)
    # Each membership is whole: both rows of every pair are there, and nothing else.
    for user_id in members:
        assert groups.memberships.groups_of(tenant, user_id) == [gid]


def test_concurrent_adds_and_removes_leave_whole_pairs(users: UserService, groups: GroupService, tenant: str) -> None:
    members = [str(users.create(tenant, user_body(f"p{n}@x.test")).id) for n in range(10)]
    gid = str(
        groups.create(
            tenant, {"schemas": [GROUP], "displayName": "Pairs", "members": [{"value": m} for m in members[:5]]}
        ).id
    )

    def change(n: int) -> None:
        op = "remove" if n < 5 else "add"
        groups.patch(
            tenant,
            gid,
            {"schemas": [PATCH], "Operations": [{"op": op, "path": "members", "value": [{"value": members[n]}]}]},
        )

    with ThreadPoolExecutor(max_workers=10) as pool:
        list(pool.map(change, range(10)))
    assert set(groups.memberships.members(tenant, gid)) == set(members[5:])
    assert all(groups.memberships.groups_of(tenant, m) == ([gid] if i >= 5 else []) for i, m in enumerate(members))


def test_twenty_concurrent_creates_of_one_user_name_give_one_user(
    users: UserService, storage: TableStorage, tenant: str
) -> None:
    def create(n: int) -> str:
        try:
            users.create(tenant, user_body("Same@X.test" if n % 2 else "same@x.test"))
            return "201"
        except UniquenessException:
            return "409"

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(create, range(20)))
    assert outcomes.count("201") == 1 and outcomes.count("409") == 19
    rows = partition_rows(storage, "Users", tenant)
    assert sum(row["Total"] for row in rows if is_counter_key(row["RowKey"])) == 1
    assert len([row for row in rows if resource_id_of(row["RowKey"])]) == 1


def test_counts_stay_exact_under_concurrent_creates_disables_and_deletes(
    users: UserService, storage: TableStorage, tenant: str
) -> None:
    ids = [str(users.create(tenant, user_body(f"c{n}@x.test")).id) for n in range(10)]
    disable = {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}

    def work(n: int) -> None:
        if n < 10:
            users.create(tenant, user_body(f"new{n}@x.test"))
        elif n < 15:
            users.patch(tenant, ids[n - 10], disable)
        else:
            users.delete(tenant, ids[n - 10])

    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(work, range(20)))
    counts = storage.resources("Users").counts(tenant)
    # 10 + 10 created, 5 deleted (ids 5..9, never disabled), 5 disabled (ids 0..4).
    assert (counts.total, counts.active) == (15, 10)


def test_eight_writers_of_one_tenant_on_two_workers_all_succeed_with_exact_counts(
    users: UserService, storage: TableStorage, azurite: Azurite, tenant: str
) -> None:
    """Eight writers, half of them on a second worker (its own counter cache, as another Function instance),
    create, disable and delete users of one tenant at once: every write succeeds and the counts are exact."""
    second = TableStorage(connection_string=azurite.connection_string, table_prefix="test")
    workers = [users, UserService(second.resources("Users"))]
    disable = {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}

    def writer(n: int) -> int:
        service = workers[n % 2]
        ids = [str(service.create(tenant, user_body(f"w{n}-{k}@x.test")).id) for k in range(6)]
        service.patch(tenant, ids[0], disable)
        service.delete(tenant, ids[1])
        return len(ids)

    try:
        with ThreadPoolExecutor(max_workers=8) as pool:
            created = sum(pool.map(writer, range(8)))
    finally:
        second.close()
    counts = storage.resources("Users").counts(tenant)
    assert created == 48
    assert (counts.total, counts.active) == (40, 32)
    stored = list(storage.resources("Users").scan(tenant))
    assert len(stored) == 40 and sum(1 for u in stored if u.document.get("active") is not False) == 32
