"""What the services rely on of the store, on both implementations: transactions all or nothing, errors by kind,
pages and continuations, memberships, change records and counts; and the same rows from the same calls."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from devhost.azurite import Azurite
from scim.store import (
    COUNTER_ROW_KEY,
    ChangeRows,
    CountChange,
    IndexEntry,
    MemberNotUserError,
    Memberships,
    MemoryStorage,
    RoundTripCounter,
    StoredResource,
    TableStorage,
    UniqueValueTakenError,
    VersionMismatchError,
    counted_calls,
    counting,
    decode_cursor,
    encode_cursor,
    member_key,
    member_of_key,
    resource_key,
    shard_of,
    start_counting,
)

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def rows_of(storage: TableStorage, kind: str, tenant: str) -> list[dict[str, Any]]:
    return sorted(storage.resources(kind).rows(tenant), key=lambda row: str(row["RowKey"]))


def user(storage: TableStorage, tenant: str, rid: str, name: str, **more: Any) -> StoredResource:
    document = {"userName": name, **more}
    indexes = [IndexEntry("userName", name.lower(), True), IndexEntry("externalId", f"ext-{name}", False)]
    return storage.resources("Users").create(tenant, rid, document, indexes, NOW, name=name)


def group(storage: TableStorage, tenant: str, rid: str, name: str) -> StoredResource:
    entry = IndexEntry("displayName", name.lower(), True)
    return storage.resources("Groups").create(
        tenant, rid, {"displayName": name}, [entry], NOW, change=CountChange(total=1), name=name
    )


def test_a_failed_operation_leaves_the_whole_transaction_unwritten(storage: TableStorage, tenant: str) -> None:
    table = storage.resources("Users")
    user(storage, tenant, "a" * 32, "alice")
    before = rows_of(storage, "Users", tenant)
    last = table.sequence(tenant)
    fresh = {"PartitionKey": tenant, "RowKey": resource_key("b" * 32), "LastModified": NOW}
    missing = {"PartitionKey": tenant, "RowKey": resource_key("c" * 32), "LastModified": NOW}
    with pytest.raises(VersionMismatchError) as caught:
        table.commit(tenant, [("create", fresh), ("update", missing, {"mode": "merge"})], [])  # type: ignore[list-item]
    assert caught.value.index == 1
    assert rows_of(storage, "Users", tenant) == before
    assert table.sequence(tenant) == last > 0 and table.counts(tenant).total == 1


def test_a_duplicate_resource_row_is_refused_and_nothing_changes(storage: TableStorage, tenant: str) -> None:
    user(storage, tenant, "a" * 32, "alice")
    before = rows_of(storage, "Users", tenant)
    with pytest.raises(UniqueValueTakenError):
        user(storage, tenant, "a" * 32, "someone-else")
    assert rows_of(storage, "Users", tenant) == before


def test_a_deleted_row_is_missing_for_reads_and_conditional_writes(storage: TableStorage, tenant: str) -> None:
    table = storage.resources("Users")
    alice = user(storage, tenant, "a" * 32, "alice")
    table.delete(tenant, alice, change=CountChange(total=-1, active=-1), now=NOW)
    assert table.get(tenant, alice.id) is None
    assert table.first_missing_id(tenant, [alice.id]) == alice.id
    with pytest.raises(VersionMismatchError):
        table.replace(tenant, alice, {"userName": "alice"}, [], NOW)
    with pytest.raises(VersionMismatchError):
        table.delete(tenant, alice, now=NOW)


def test_a_stale_delete_changes_nothing(storage: TableStorage, tenant: str) -> None:
    table = storage.resources("Users")
    alice = user(storage, tenant, "a" * 32, "alice")
    table.replace(tenant, alice, {"userName": "alice", "title": "x"}, [IndexEntry("userName", "alice", True)], NOW)
    before = rows_of(storage, "Users", tenant)
    with pytest.raises(VersionMismatchError):
        table.delete(tenant, alice, now=NOW)
    assert rows_of(storage, "Users", tenant) == before


def test_scans_and_pages_return_every_resource_in_id_order(storage: TableStorage, tenant: str) -> None:
    table = storage.resources("Users")
    ids = sorted(uuid.uuid4().hex for _ in range(25))
    for n, rid in enumerate(ids):
        user(storage, tenant, rid, f"user{n}")
    assert [stored.id for stored in table.scan(tenant, page_size=7)] == ids
    assert [stored.id for stored in table.scan(tenant, after=ids[9])] == ids[10:]
    assert [stored.id for stored in table.page(tenant, 11, 5, 1_000_000)] == ids[10:15]
    assert [stored.id for stored in table.page(tenant, 24, 10, 1_000_000)] == ids[23:]
    assert table.page(tenant, 26, 10, 1_000_000) == []
    assert table.counts(tenant).total == 25


def test_queries_continue_page_after_page(storage: TableStorage, tenant: str) -> None:
    table = storage.resources("Users")
    for n in range(12):
        user(storage, tenant, f"{n:032x}", f"user{n}")
    total = len(list(table.rows(tenant)))  # 12 resources, 24 index rows, 12 change records, their counter shards
    assert total == 48 + len({shard_of(f"{n:032x}") for n in range(12)})
    pages = table.client().query_entities("PartitionKey eq @pk", parameters={"pk": tenant}, results_per_page=5)
    assert [len(list(page)) for page in pages.by_page()] == [5] * (total // 5) + [total % 5]
    before = storage.round_trips.count
    assert len(list(table.query("PartitionKey eq @pk", {"pk": tenant}, page=5, select=["RowKey"]))) == total
    assert storage.round_trips.count - before == total // 5 + 1  # a round trip a page


def test_point_reads_answer_which_rows_exist(storage: TableStorage, tenant: str) -> None:
    table = storage.resources("Users")
    user(storage, tenant, "a" * 32, "alice")
    keys = {resource_key("a" * 32), resource_key("b" * 32), COUNTER_ROW_KEY}
    assert table.existing_keys(tenant, keys) == {resource_key("a" * 32)}  # a new partition has counter shards
    assert [(rid, stored is not None) for rid, stored in table.get_each(tenant, ["a" * 32, "b" * 32])] == [
        ("a" * 32, True),
        ("b" * 32, False),
    ]


def test_memberships_are_pairs_recorded_as_changes(storage: TableStorage, tenant: str) -> None:
    for n in range(3):
        user(storage, tenant, f"{n:032x}", f"user{n}")
    group(storage, tenant, "9" * 32, "Staff")
    memberships = Memberships(storage.resources("Groups"))
    memberships.users.register(tenant, [f"{n:032x}" for n in range(3)])
    memberships.add(tenant, "9" * 32, [f"{n:032x}" for n in range(3)], NOW, name="Staff")
    memberships.remove(tenant, "9" * 32, [f"{1:032x}"], NOW, name="Staff")
    assert list(memberships.members(tenant, "9" * 32)) == [f"{0:032x}", f"{2:032x}"]
    assert memberships.groups_of(tenant, f"{2:032x}") == ["9" * 32]
    assert memberships.held(tenant, "9" * 32, [f"{n:032x}" for n in range(3)]) == {f"{0:032x}", f"{2:032x}"}
    keys = {str(row["RowKey"]) for row in rows_of(storage, "Groups", tenant)}
    assert {member_key("9" * 32, f"{0:032x}"), member_of_key(f"{0:032x}", "9" * 32)} <= keys
    assert member_key("9" * 32, f"{1:032x}") not in keys
    records = ChangeRows(storage.resources("Groups")).read(tenant)
    assert [(r.operation, r.members) for r in records] == [
        ("created", ()),
        ("member-added", tuple(f"{n:032x}" for n in range(3))),
        ("member-removed", (f"{1:032x}",)),
    ]
    assert records[0].seq < records[1].seq < records[2].seq  # one group's changes: numbered in commit order


def test_a_membership_needs_its_members_index_entry(storage: TableStorage, tenant: str) -> None:
    """The member index: an add merges each member's entry, so one without an entry fails the whole transaction
    (naming that member) and nothing is written; a check of 100 ids is one call that writes nothing it refuses."""
    group(storage, tenant, "9" * 32, "Staff")
    memberships = Memberships(storage.resources("Groups"))
    ids = [f"{n:032x}" for n in range(150)]
    memberships.users.register(tenant, ids[:-1])
    memberships.users.register(tenant, [ids[-1]])
    memberships.users.unregister(tenant, ids[7])
    memberships.users.unregister(tenant, ids[7])  # twice: no error
    before = rows_of(storage, "Groups", tenant)
    calls = RoundTripCounter()
    with counting(calls):
        assert memberships.first_unregistered(tenant, ids) == ids[7]
        assert memberships.first_unregistered(tenant, ids[8:]) is None
    assert calls.count == 3  # 100 ids, then 42 in one call
    with pytest.raises(MemberNotUserError) as refused:
        memberships.add(tenant, "9" * 32, ids[:10], NOW)
    assert refused.value.user_id == ids[7]
    assert comparable(rows_of(storage, "Groups", tenant)) == comparable(before)
    assert sorted(uid for uid, _ in memberships.users.registered(tenant)) == sorted(set(ids) - {ids[7]})
    memberships.add(tenant, "9" * 32, ids[8:40], NOW)
    assert list(memberships.members(tenant, "9" * 32)) == ids[8:40]


def test_change_records_number_every_change_in_order(storage: TableStorage, tenant: str) -> None:
    table = storage.resources("Users")
    alice = user(storage, tenant, "a" * 32, "alice")
    bob = user(storage, tenant, "b" * 32, "bob")
    table.replace(tenant, alice, {"userName": "alice", "active": False}, [], NOW, operation="disabled", name="alice")
    table.delete(tenant, bob, now=NOW, name="bob")
    records = ChangeRows(table).read(tenant)
    assert sorted((r.operation, r.resource_id, r.name) for r in records) == [
        ("created", "a" * 32, "alice"),
        ("created", "b" * 32, "bob"),
        ("deleted", "b" * 32, "bob"),
        ("disabled", "a" * 32, "alice"),
    ]
    seqs = [r.seq for r in records]
    assert seqs == sorted(set(seqs))  # unique, lowest first
    for rid in ("a" * 32, "b" * 32):  # each resource's changes are numbered in the order they were made
        assert next(r.operation for r in records if r.resource_id == rid) == "created"
    middle = seqs[1]
    assert [r.seq for r in ChangeRows(table).read(tenant, after=middle)] == seqs[2:]
    assert table.sequence(tenant) == seqs[-1]


def test_a_cursor_pages_the_feed_missing_nothing(storage: TableStorage, tenant: str) -> None:
    table = storage.resources("Users")
    rows = ChangeRows(table)
    ids = [f"{n:032x}" for n in range(40)]
    for rid in ids[:20]:
        user(storage, tenant, rid, f"user-{rid}")
    seen: list[str] = []
    found, cursor = rows.page(tenant, None, 7)
    while found:
        seen += [r.resource_id for r in found]
        if len(seen) == 14:  # writers keep committing, in every shard, while the reader pages
            for rid in ids[20:]:
                user(storage, tenant, rid, f"user-{rid}")
        found, cursor = rows.page(tenant, decode_cursor(encode_cursor(cursor)), 7)
    assert sorted(seen) == ids  # each record once, none lost
    assert rows.page(tenant, cursor, 7) == ([], cursor)


def test_the_active_limit_refuses_and_writes_nothing(storage: TableStorage, tenant: str) -> None:
    from scim.store import ActiveLimitReachedError

    table = storage.resources("Users")
    one = CountChange(total=1, active=1, active_limit=1)
    table.create(tenant, "a" * 32, {"userName": "a"}, [IndexEntry("userName", "a", True)], NOW, change=one)
    before = rows_of(storage, "Users", tenant)
    with pytest.raises(ActiveLimitReachedError):
        table.create(tenant, "b" * 32, {"userName": "b"}, [IndexEntry("userName", "b", True)], NOW, change=one)
    assert rows_of(storage, "Users", tenant) == before


def comparable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows without what the service stamps (Timestamp) and nothing else."""
    return [{k: v for k, v in row.items() if k != "Timestamp"} for row in rows]


def test_both_stores_hold_the_same_rows_after_the_same_calls(azurite: Azurite) -> None:
    """The same calls on Azurite and on the twin leave the same rows, property for property."""
    stores = [TableStorage(connection_string=azurite.connection_string, table_prefix="twin"), MemoryStorage()]
    tenant = f"t-{uuid.uuid4().hex[:16]}"
    seen = []
    for storage in stores:
        alice = user(storage, tenant, "a" * 32, "alice", emails=[{"value": "a@contoso.com"}])
        user(storage, tenant, "b" * 32, "bob")
        group(storage, tenant, "9" * 32, "Staff")
        storage.resources("Users").replace(
            tenant, alice, {"userName": "Alice"}, [IndexEntry("userName", "alice", True)], NOW, name="Alice"
        )
        memberships = Memberships(storage.resources("Groups"))
        memberships.users.register(tenant, ["a" * 32])
        memberships.users.register(tenant, ["b" * 32])
        memberships.add(tenant, "9" * 32, ["a" * 32, "b" * 32], NOW, name="Staff")
        seen.append((comparable(rows_of(storage, "Users", tenant)), comparable(rows_of(storage, "Groups", tenant))))
        storage.close()
    assert seen[0] == seen[1]


def test_a_request_counts_its_own_storage_calls(storage: TableStorage, tenant: str) -> None:
    table = storage.resources("Users")
    user(storage, tenant, "a" * 32, "alice")
    mine, other = RoundTripCounter(), RoundTripCounter()
    with counting(mine):
        table.get(tenant, "a" * 32)
        assert table.existing_keys(tenant, [resource_key(f"{n:032x}") for n in range(5)]) == set()  # pooled reads
        with counting(other):
            table.get(tenant, "a" * 32)
        table.get(tenant, "a" * 32)
    table.get(tenant, "a" * 32)  # after the block: counted by nobody
    assert (mine.count, other.count) == (7, 1)
    start_counting()
    table.get(tenant, "a" * 32)
    assert counted_calls() == 1
