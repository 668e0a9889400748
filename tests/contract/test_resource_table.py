"""ResourceTable on both stores: transactional index rows, conditional writes, round-trip counts."""

from datetime import UTC, datetime

import pytest

from scim.store import (
    IndexEntry,
    StoredResource,
    TableStorage,
    UniqueValueTakenError,
    VersionMismatchError,
    is_counter_key,
    is_record_key,
)
from tests.conftest import partition_rows

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def name_index(value: str) -> IndexEntry:
    return IndexEntry("userName", value.lower(), True)


def ext_index(value: str) -> IndexEntry:
    return IndexEntry("externalId", value, False)


def create(storage: TableStorage, tenant: str, rid: str, name: str, ext: str | None = None) -> StoredResource:
    indexes = [name_index(name)] + ([ext_index(ext)] if ext else [])
    return storage.resources("Users").create(tenant, rid, {"userName": name}, indexes, NOW)


def test_create_writes_resource_and_index_rows_in_one_round_trip(storage: TableStorage, tenant: str) -> None:
    # Table creation and the tenant's first counter read are one-offs per process, not per operation.
    create(storage, tenant, "0" * 32, "first")
    before = storage.round_trips.count
    create(storage, tenant, "a" * 32, "alice#EXT#/x", "ext-1")
    assert storage.round_trips.count - before == 1
    rows = [row for row in partition_rows(storage, "Users", tenant) if not row["RowKey"].endswith("0" * 32)]
    counters = [row for row in rows if is_counter_key(row["RowKey"])]
    rows = [row for row in rows if not is_counter_key(row["RowKey"])]
    # Three index rows, a change record for each of the two creates, the resource; counter shards summing to 2.
    assert [row["RowKey"].split("|")[0] for row in rows] == ["i", "i", "i", "o", "o", "r"]
    assert (sum(row["Total"] for row in counters), sum(row["Active"] for row in counters)) == (2, 0)
    assert 1 <= len(counters) <= 2
    # Raw user data never reaches a key: '#' and '/' are forbidden there.
    assert all("#" not in row["RowKey"] and "/" not in row["RowKey"].replace("|", "") for row in rows)


def test_taken_unique_value_fails_atomically(storage: TableStorage, tenant: str) -> None:
    create(storage, tenant, "a" * 32, "alice")
    before = partition_rows(storage, "Users", tenant)
    with pytest.raises(UniqueValueTakenError) as caught:
        create(storage, tenant, "b" * 32, "ALICE", "ext-2")
    assert caught.value.attribute == "userName"
    assert partition_rows(storage, "Users", tenant) == before


def test_non_unique_index_holds_several_resources(storage: TableStorage, tenant: str) -> None:
    table = storage.resources("Users")
    create(storage, tenant, "a" * 32, "alice", "shared")
    create(storage, tenant, "b" * 32, "bob", "shared")
    create(storage, tenant, "c" * 32, "carol", "Shared")
    assert sorted(table.find_ids(tenant, ext_index("shared"))) == ["a" * 32, "b" * 32]
    assert table.find_ids(tenant, name_index("BOB")) == ["b" * 32]
    assert table.find_ids(tenant, name_index("nobody")) == []


def test_replace_moves_only_changed_index_rows(storage: TableStorage, tenant: str) -> None:
    table = storage.resources("Users")
    current = create(storage, tenant, "a" * 32, "alice", "ext-1")
    updated = table.replace(tenant, current, {"userName": "alice2"}, [name_index("alice2"), ext_index("ext-1")], NOW)
    assert table.find_ids(tenant, name_index("alice")) == []
    assert table.find_ids(tenant, name_index("alice2")) == ["a" * 32]
    assert table.find_ids(tenant, ext_index("ext-1")) == ["a" * 32]
    assert updated.etag != current.etag
    # its counter shard, resource, two index rows, and the change records of the create and the replace
    assert len(partition_rows(storage, "Users", tenant)) == 6
    assert updated.seq is not None and current.seq is not None and updated.seq > current.seq
    assert updated.version_key != current.version_key


def test_replace_with_stale_etag_changes_nothing(storage: TableStorage, tenant: str) -> None:
    table = storage.resources("Users")
    current = create(storage, tenant, "a" * 32, "alice")
    table.replace(tenant, current, {"userName": "alice"}, [name_index("alice")], NOW)
    before = partition_rows(storage, "Users", tenant)
    with pytest.raises(VersionMismatchError):
        table.replace(tenant, current, {"userName": "zed"}, [name_index("zed")], NOW)
    assert partition_rows(storage, "Users", tenant) == before


def test_delete_removes_resource_and_index_rows(storage: TableStorage, tenant: str) -> None:
    table = storage.resources("Users")
    current = create(storage, tenant, "a" * 32, "alice", "ext-1")
    table.delete(tenant, current)
    rows = partition_rows(storage, "Users", tenant)
    assert [row.get("Total") for row in rows if not is_record_key(row["RowKey"])] == [0]
    assert all(is_counter_key(row["RowKey"]) for row in rows if not is_record_key(row["RowKey"]))
    assert [row["Operation"] for row in rows if is_record_key(row["RowKey"])] == ["created", "deleted"]
    assert table.get(tenant, "a" * 32) is None


def test_large_documents_are_split_and_joined(storage: TableStorage, tenant: str) -> None:
    table = storage.resources("Users")
    big = {"userName": "big", "title": "é" * 70_000}
    table.create(tenant, "d" * 32, big, [name_index("big")], NOW)
    stored = table.get(tenant, "d" * 32)
    assert stored is not None and stored.document == big


def test_tenants_do_not_see_each_other(storage: TableStorage, tenant: str) -> None:
    table = storage.resources("Users")
    create(storage, tenant, "a" * 32, "alice")
    other = tenant + "-other"
    assert table.get(other, "a" * 32) is None
    assert table.find_ids(other, name_index("alice")) == []
    assert list(table.scan(other)) == []
    create(storage, other, "b" * 32, "alice")  # the same userName is free in another tenant
