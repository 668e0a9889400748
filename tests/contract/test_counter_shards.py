"""Counter shards on both stores: counts and the exact cap without one hot row, and partitions written by the
older single counter row (and its single sequence and registry partition) working on."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from scim.platform.delivery import Delivery
from scim.store import (
    COUNTER_ROW_KEY,
    ActiveLimitReachedError,
    ChangeRows,
    CountChange,
    IndexEntry,
    LoadedResource,
    StoredResource,
    TableStorage,
    is_counter_key,
    record_key,
    resource_key,
)

NOW = datetime(2026, 12, 4, 4, 0, tzinfo=UTC)


def create(storage: TableStorage, tenant: str, rid: str, limit: int | None = None) -> StoredResource:
    change = CountChange(total=1, active=1, active_limit=limit)
    index = [IndexEntry("userName", rid, True)]
    return storage.resources("Users").create(tenant, rid, {"userName": rid}, index, NOW, change=change, name=rid)


def counter_rows(storage: TableStorage, tenant: str) -> list[dict[str, Any]]:
    return [row for row in storage.resources("Users").rows(tenant) if is_counter_key(str(row["RowKey"]))]


def test_a_write_far_below_the_cap_touches_its_own_shard_in_one_round_trip(storage: TableStorage, tenant: str) -> None:
    create(storage, tenant, f"{0:032x}", limit=1000)  # the first capped write balances every shard for the limit
    assert len(counter_rows(storage, tenant)) == 16
    before = storage.round_trips.count
    for n in range(1, 6):
        create(storage, tenant, f"{n:032x}", limit=1000)
    assert storage.round_trips.count - before == 5
    counts = storage.resources("Users").counts(tenant)
    assert (counts.total, counts.active) == (6, 6)


def test_the_cap_is_exact_whichever_shards_the_writes_land_on(storage: TableStorage, tenant: str) -> None:
    for n in range(20):
        create(storage, tenant, f"{n:032x}", limit=20)
    with pytest.raises(ActiveLimitReachedError):
        create(storage, tenant, f"{99:032x}", limit=20)
    assert storage.resources("Users").counts(tenant).active == 20


def test_the_cap_stays_exact_after_writes_without_it_and_a_new_limit(storage: TableStorage, tenant: str) -> None:
    for n in range(8):
        create(storage, tenant, f"{n:032x}", limit=16)  # balanced for 16: a share of one a shard
    for n in range(8, 28):
        create(storage, tenant, f"{n:032x}")  # no cap: the shares are left behind (and the limits cleared)
    with pytest.raises(ActiveLimitReachedError):
        create(storage, tenant, f"{99:032x}", limit=16)
    create(storage, tenant, f"{28:032x}", limit=30)
    create(storage, tenant, f"{29:032x}", limit=30)
    with pytest.raises(ActiveLimitReachedError):
        create(storage, tenant, f"{98:032x}", limit=30)
    counts = storage.resources("Users").counts(tenant)
    assert (counts.total, counts.active) == (30, 30)


def older_partition(storage: TableStorage, tenant: str) -> list[str]:
    """A partition as the single counter row wrote it: two users, three records, the first one delivered."""
    ids = [f"{n:032x}" for n in (1, 2)]
    client = storage.table_client(storage.table_name("Users"))
    for rid in ids:
        document = json.dumps({"userName": rid})
        row = {"PartitionKey": tenant, "RowKey": resource_key(rid), "Created": NOW, "LastModified": NOW}
        client.create_entity({**row, "IndexRows": "[]", "Document0": document, "Seq": ids.index(rid) + 1})
    for seq, (rid, operation) in enumerate([(ids[0], "created"), (ids[1], "created"), (ids[0], "updated")], 1):
        record = {"PartitionKey": tenant, "RowKey": record_key(seq), "Seq": seq, "Time": NOW, "Operation": operation}
        client.create_entity({**record, "ResourceType": "User", "ResourceId": rid})
    client.upsert_entity({"PartitionKey": tenant, "RowKey": resource_key(ids[0]), "Seq": 3})
    client.create_entity({"PartitionKey": tenant, "RowKey": COUNTER_ROW_KEY, "Total": 2, "Active": 2, "Seq": 3})
    client.upsert_entity({"PartitionKey": "~changes", "RowKey": tenant, "Published": 1, "Sent": "[]"})
    return ids


def test_a_partition_of_the_single_counter_row_works_on(storage: TableStorage, tenant: str) -> None:
    ids = older_partition(storage, tenant)
    table = storage.resources("Users")
    assert (table.counts(tenant).total, table.counts(tenant).active) == (2, 2)
    current = table.get(tenant, ids[0])
    assert current is not None and current.seq == 3
    replaced = table.replace(tenant, current, {"userName": ids[0], "title": "x"}, [], NOW, name=ids[0])
    assert replaced.seq is not None and replaced.seq > 3  # the resource's numbers keep growing
    create(storage, tenant, f"{3:032x}", limit=4)  # the exact path folds the older row into the shards
    assert COUNTER_ROW_KEY not in {str(row["RowKey"]) for row in counter_rows(storage, tenant)}
    create(storage, tenant, f"{4:032x}", limit=4)
    with pytest.raises(ActiveLimitReachedError):
        create(storage, tenant, f"{5:032x}", limit=4)
    assert (table.counts(tenant).total, table.counts(tenant).active) == (4, 4)
    records = ChangeRows(table).read(tenant)
    assert [r.seq for r in records][:3] == [1, 2, 3] and len(records) == 6
    assert [r.operation for r in records if r.resource_id == ids[0]] == ["created", "updated", "updated"]

    # The sweep finds the tenant in the older registry partition, moves it into its bucket, and sends every
    # record not delivered yet: the older sequence's after its watermark, and the shards'.
    sent: list[str] = []
    delivery = Delivery({"Users": ChangeRows(table)}, None, send=sent.append)
    report = delivery.sweep()
    mine = [json.loads(m) for m in sent if json.loads(m)["tenant"] == tenant]
    assert not report.failed and sorted(m["seq"] for m in mine) == [r.seq for r in records[1:]]
    registry = storage.table_client(storage.table_name("Users"))
    assert [row["PartitionKey"] for row in registry.query_entities("RowKey eq @t", parameters={"t": tenant})] == [
        next(m.partition for m in ChangeRows(table).watermarks() if m.tenant == tenant)
    ]
    sent.clear()
    delivery.sweep()
    assert [m for m in sent if json.loads(m)["tenant"] == tenant] == []


def test_a_bulk_load_counts_and_numbers_like_creates(storage: TableStorage, tenant: str) -> None:
    table = storage.resources("Users")
    create(storage, tenant, f"{0:032x}", limit=100)
    loaded = [
        LoadedResource(f"{n:032x}", {"userName": f"{n:032x}"}, [IndexEntry("userName", f"{n:032x}", True)])
        for n in range(1, 31)
    ]
    table.load(tenant, loaded, NOW, change_records=True)
    assert (table.counts(tenant).total, table.counts(tenant).active) == (31, 31)
    records = ChangeRows(table).read(tenant, limit=100)
    assert len(records) == 31 and len({r.seq for r in records}) == 31
    stored = table.get(tenant, f"{7:032x}")
    assert stored is not None and stored.seq in {r.seq for r in records}
    later = create(storage, tenant, f"{7:031x}a", limit=32)  # capped again: the shards are rebalanced
    assert later.seq not in {r.seq for r in records}
    with pytest.raises(ActiveLimitReachedError):
        create(storage, tenant, f"{8:031x}a", limit=32)
    sent: list[str] = []
    Delivery({"Users": ChangeRows(table)}, None, send=sent.append).sweep()
    assert len([m for m in sent if json.loads(m)["tenant"] == tenant]) == 32


def test_a_partition_written_before_counters_is_counted_once_by_a_scan(storage: TableStorage, tenant: str) -> None:
    table = storage.resources("Users")
    client = storage.table_client(storage.table_name("Users"))
    for n in (1, 2):
        row = {"PartitionKey": tenant, "RowKey": resource_key(f"{n:032x}"), "Created": NOW, "LastModified": NOW}
        client.create_entity({**row, "IndexRows": "[]", "Document0": json.dumps({"userName": f"{n:032x}"})})
    assert (table.counts(tenant).total, table.counts(tenant).active) == (2, 2)
    create(storage, tenant, f"{3:032x}")  # keeps the scan's counts as the older row, beside its shard
    assert COUNTER_ROW_KEY in {str(row["RowKey"]) for row in counter_rows(storage, tenant)}
    create(storage, tenant, f"{4:032x}", limit=4)  # the exact path folds them into the shards
    with pytest.raises(ActiveLimitReachedError):
        create(storage, tenant, f"{5:032x}", limit=4)
    assert (table.counts(tenant).total, table.counts(tenant).active) == (4, 4)
    assert COUNTER_ROW_KEY not in {str(row["RowKey"]) for row in counter_rows(storage, tenant)}
