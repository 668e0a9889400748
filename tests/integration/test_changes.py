"""Change records: one per committed change, in the change's own transaction, numbered per resource's shard."""

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from scim2_models import UniquenessException

from scim.platform.changes import Change
from scim.store import resource_id_of
from tests.conftest import fixture_json, partition_rows
from tests.integration.conftest import Platform

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def user_body(name: str, **extra: Any) -> dict[str, Any]:
    return {"schemas": [USER], "userName": name, "emails": [{"type": "work", "value": name}], **extra}


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH], "Operations": list(operations)}


def summary(changes: list[Change]) -> list[tuple[str, str, str]]:
    return [(c.stream, c.operation, c.resource_id) for c in changes]


def increasing(changes: list[Change]) -> bool:
    """Numbered in the order they were made (one resource's changes): unique and growing."""
    return all(a.seq < b.seq for a, b in itertools.pairwise(changes))


def test_a_users_life_is_recorded_in_order_with_the_versions_a_get_returns(platform: Platform, tenant: str) -> None:
    users = platform.users
    created = users.create(tenant, user_body("ada@contoso.com"))
    uid = str(created.id)
    versions = [created.meta.version]  # type: ignore[union-attr]
    for body in (
        fixture_json("entra/patch_add_mobile_phone.json"),
        fixture_json("entra/patch_disable_default_dialect.json"),
        patch({"op": "replace", "path": "active", "value": True}),
    ):
        versions.append(users.patch(tenant, uid, body).meta.version)  # type: ignore[union-attr]
    versions.append(users.replace(tenant, uid, user_body("ada.l@contoso.com")).meta.version)  # type: ignore[union-attr]
    users.delete(tenant, uid)

    changes = platform.log.read(tenant)
    assert summary(changes) == [
        ("Users", "created", uid),
        ("Users", "updated", uid),
        ("Users", "disabled", uid),
        ("Users", "enabled", uid),
        ("Users", "updated", uid),
        ("Users", "deleted", uid),
    ]
    assert increasing(changes)
    assert [c.version for c in changes[:5]] == versions
    assert [c.name for c in changes] == ["ada@contoso.com"] * 4 + ["ada.l@contoso.com"] * 2
    assert len(set(versions)) == 5


def test_a_failed_or_empty_change_has_no_record(platform: Platform, tenant: str) -> None:
    users = platform.users
    uid = str(users.create(tenant, user_body("ada@contoso.com", active=True)).id)
    with pytest.raises(UniquenessException):
        users.create(tenant, user_body("ADA@contoso.com"))
    users.patch(tenant, uid, patch({"op": "replace", "path": "active", "value": True}))  # already active
    changes = platform.log.read(tenant)
    assert summary(changes) == [("Users", "created", uid)]
    assert platform.storage.resources("Users").sequence(tenant) == changes[0].seq


def test_group_and_membership_changes_are_numbered_in_the_groups_stream(platform: Platform, tenant: str) -> None:
    users, groups = platform.users, platform.groups
    uids = [str(users.create(tenant, user_body(f"u{n}@contoso.com")).id) for n in range(3)]
    group = groups.create(tenant, {**fixture_json("entra/create_group.json"), "members": [{"value": uids[0]}]})
    gid = str(group.id)
    groups.patch(tenant, gid, patch({"op": "Add", "path": "members", "value": [{"value": u} for u in uids[1:]]}))
    groups.patch(tenant, gid, patch({"op": "Remove", "path": "members", "value": [{"value": uids[1]}]}))
    users.delete(tenant, uids[2])  # leaves the group first: recorded on the group
    after = groups.get(tenant, gid, members=True)
    groups.delete(tenant, gid)

    changes = platform.log.read(tenant, stream="Groups")
    assert [(c.operation, c.members) for c in changes] == [
        ("created", ()),
        ("member-added", (uids[0],)),
        ("member-added", tuple(sorted(uids[1:]))),
        ("member-removed", (uids[1],)),
        ("member-removed", (uids[2],)),
        ("member-removed", (uids[0],)),
        ("deleted", ()),
    ]
    assert increasing(changes)
    assert {c.resource_id for c in changes} == {gid}
    assert changes[4].version == after.meta.version  # type: ignore[union-attr]
    # Named where the group row is read anyway (create, delete); a membership PATCH reads no group row.
    assert [c.name for c in changes] == ["displayName"] * 2 + [None, None, None] + ["displayName"] * 2
    # Both streams, merged by time; the Users stream numbers its own changes.
    assert [c.operation for c in platform.log.read(tenant, stream="Users")] == ["created"] * 3 + ["deleted"]
    assert len(platform.log.read(tenant)) == 11


def test_a_large_membership_change_is_split_into_transactions_under_the_limit(platform: Platform, tenant: str) -> None:
    uids = [f"{n:032x}" for n in range(1, 101)]
    gid = str(platform.groups.create(tenant, fixture_json("entra/create_group.json")).id)
    platform.groups.memberships.users.register(tenant, uids)  # as POST /Users does (the member index)
    platform.groups.memberships.add(tenant, gid, uids, datetime.now(UTC))
    added = [c for c in platform.log.read(tenant, stream="Groups") if c.operation == "member-added"]
    assert [len(c.members) for c in added] == [32, 32, 32, 4]  # 3 operations a member: its 2 rows and its entry
    assert sorted(u for c in added for u in c.members) == uids


def test_read_pages_after_a_sequence_number(platform: Platform, tenant: str) -> None:
    for n in range(5):
        platform.users.create(tenant, user_body(f"u{n}@contoso.com"))
    seqs = [c.seq for c in platform.log.read(tenant, stream="Users")]
    assert len(seqs) == 5 and seqs == sorted(set(seqs))
    assert [c.seq for c in platform.log.read(tenant, after=seqs[1], limit=2, stream="Users")] == seqs[2:4]
    assert platform.log.read(tenant, after=seqs[-1]) == []
    assert platform.log.read("t-nobody-here") == []


def test_trim_deletes_only_old_delivered_records_reading_no_further(platform: Platform, tenant: str) -> None:
    for n in range(4):
        platform.users.create(tenant, user_body(f"u{n}@contoso.com"))
    rows = platform.rows["Users"]
    records = rows.read(tenant)
    delivered: dict[int, int] = {}
    for record in records[:2]:  # the two lowest numbers delivered, the others not yet
        part, local = record.position
        delivered[part] = max(delivered.get(part, 0), local)
    future = datetime.now(UTC) + timedelta(days=1)
    assert rows.trim(tenant, future, up_to=delivered) == 2
    assert rows.read(tenant) == records[2:]
    everything = dict.fromkeys(range(-1, 16), 10**9)
    assert rows.trim(tenant, datetime.now(UTC) - timedelta(days=1), up_to=everything) == 0  # too recent
    # The resources are untouched, and the next change goes on numbering in its shard.
    assert platform.users.create(tenant, user_body("u9@contoso.com")).meta is not None
    assert len(rows.read(tenant)) == 3
    assert len([r for r in partition_rows(platform.storage, "Users", tenant) if resource_id_of(r["RowKey"])]) == 5


def test_a_write_costs_the_same_round_trips_as_before(platform: Platform, tenant: str) -> None:
    users, storage = platform.users, platform.storage
    users.create(tenant, user_body("first@contoso.com"))  # table, registry row, counter: once per process
    platform.delivery.flush()

    def trips(action: Any) -> int:
        before = storage.round_trips.count
        action()
        return storage.round_trips.count - before

    platform.storage.resources("Users").on_commit = None  # count the SCIM write alone; publishing is apart
    assert trips(lambda: users.create(tenant, user_body("ada@contoso.com"))) == 2  # member-index entry, user
    uid = platform.log.read(tenant)[-1].resource_id
    assert trips(lambda: users.patch(tenant, uid, fixture_json("entra/patch_disable_default_dialect.json"))) == 2
