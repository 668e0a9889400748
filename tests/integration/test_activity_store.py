"""The activity table against Azurite: newest first, key-range pages, name search, retention, bounded reads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from scim.platform.activity import ActivityRecorder, Outcome
from scim.platform.activity_report import build_activity_report
from scim.resources.users import UserService
from scim.store import ActivityPage, ActivityRecord, ChangeRows, TableStorage, name_key


def trips(storage: TableStorage) -> int:
    return storage.activity().round_trips.count


T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def record(minutes: float, status: int = 201, name: str = "ada@contoso.com", rid: str = "", op: str = "create"):
    return ActivityRecord(
        time=T0 + timedelta(minutes=minutes),
        operation=op,
        resource_type="User",
        resource_id=rid,
        name=name,
        status=status,
        scim_type="uniqueness" if status == 409 else "",
        detail="taken" if status == 409 else "",
        latency_ms=12.5,
    )


def test_pages_are_newest_first_and_continue_by_row_key(storage: TableStorage, tenant: str) -> None:
    table = storage.activity()
    table.append(tenant, [(record(n), f"s{n:03d}") for n in range(12)])
    first = table.page(tenant, limit=5)
    assert [r.time for r in first.records] == [T0 + timedelta(minutes=n) for n in (11, 10, 9, 8, 7)]
    second = table.page(tenant, limit=5, after=first.next_key)
    third = table.page(tenant, limit=5, after=second.next_key)
    assert [r.time.minute for r in second.records] == [6, 5, 4, 3, 2]
    assert [r.time.minute for r in third.records] == [1, 0]
    assert third.next_key is None


def test_time_range_errors_only_and_name_search(storage: TableStorage, tenant: str) -> None:
    table = storage.activity()
    table.append(
        tenant,
        [
            (record(0, name="Ada@Contoso.com"), "a"),
            (record(5, status=409, name="ada@contoso.com"), "b"),
            (record(10, name="bob/#?\\|~é@contoso.com"), "c"),
            (record(15, status=400, name=""), "d"),
        ],
    )
    ranged = table.page(tenant, since=T0 + timedelta(minutes=5), until=T0 + timedelta(minutes=10))
    assert [r.time.minute for r in ranged.records] == [10, 5]
    errors = table.page(tenant, errors_only=True)
    assert [r.status for r in errors.records] == [400, 409]
    ada = table.by_name(tenant, "ADA@contoso.COM")
    assert [r.status for r in ada.records] == [409, 201]
    odd = table.by_name(tenant, "bob/#?\\|~é@contoso.com")
    assert [r.name for r in odd.records] == ["bob/#?\\|~é@contoso.com"]
    prefixed = table.by_name(tenant, "b", prefix=True)
    assert len(prefixed.records) == 1
    assert all(c.isascii() and c not in "/\\#?|~" for c in name_key("x/#?\\|~é"))


def test_retention_deletes_old_records_and_their_copies_only(storage: TableStorage, tenant: str) -> None:
    table = storage.activity()
    rid = "0123456789abcdef0123456789abcdef"
    table.append(tenant, [(record(n, status=409 if n % 2 else 201, rid=rid), f"k{n}") for n in range(10)])
    assert table.prune(tenant, T0 + timedelta(minutes=5)) == 5
    assert [r.time.minute for r in table.page(tenant).records] == [9, 8, 7, 6, 5]
    assert {r.time.minute for r in table.page(tenant, errors_only=True).records} == {9, 7, 5}
    assert [r.time.minute for r in table.by_name(tenant, "ada@contoso.com").records] == [9, 8, 7, 6, 5]
    assert [r.time.minute for r in table.by_id(tenant, rid).records] == [9, 8, 7, 6, 5]


def _page_round_trips(storage: TableStorage, tenant: str) -> int:
    table = storage.activity()
    before = trips(storage)
    page = table.page(tenant, limit=50)
    table.page(tenant, limit=50, after=page.next_key)
    table.page(tenant, errors_only=True, limit=50)
    table.by_name(tenant, "ada@contoso.com", limit=50)
    table.page(tenant, since=T0, limit=50)
    return trips(storage) - before


def test_a_page_costs_one_round_trip_however_many_records(storage: TableStorage, tenant: str) -> None:
    """Pages are key ranges with a row limit: the cost of a page does not grow with the log (1,000,000 rows
    would read the same single page; Azurite stores ~100 rows a second, so the proof is the count)."""
    small = f"{tenant}-s"
    storage.activity().append(small, [(record(n), f"r{n}") for n in range(3)])
    storage.activity().append(tenant, [(record(n / 60, status=409), f"r{n:05d}") for n in range(240)])
    assert _page_round_trips(storage, small) == _page_round_trips(storage, tenant) == 5
    assert len(storage.activity().page(tenant, limit=500).records) == 200  # a page is capped


def test_recorder_stores_outcomes_off_the_request_path(storage: TableStorage, tenant: str) -> None:
    now = [T0]
    recorder = ActivityRecorder(storage.activity(), clock=lambda: now[0])
    body = b'{"id":"0123456789abcdef0123456789abcdef","userName":"ada@contoso.com"}'
    recorder.submit(Outcome(tenant, T0, "create", "User", "POST", 201, 20.0, True, response_body=body))
    recorder.submit(Outcome(tenant, T0, "list", "User", "GET", 200, 5.0, True))
    error = b'{"status":"400","scimType":"invalidValue","detail":"map mail"}'
    recorder.submit(
        Outcome(
            tenant,
            T0,
            "create",
            "User",
            "POST",
            400,
            7.0,
            True,
            request_payload={"userName": "bob"},
            response_body=error,
        )
    )
    recorder.submit(Outcome(tenant, T0, "delete", "User", "DELETE", 204, 9.0, True, "0123456789abcdef0123456789abcdef"))
    assert recorder.flush()
    records = storage.activity().page(tenant).records
    # Successful writes are the change log's facts: only the answer that was not one is recorded.
    assert [(r.operation, r.status, r.name) for r in records] == [("create", 400, "bob")]
    failed = next(r for r in records if r.status == 400)
    assert (failed.scim_type, failed.detail) == ("invalidValue", "map mail")
    buckets = storage.activity().buckets(tenant, T0 - timedelta(hours=1))
    assert (sum(b.requests for b in buckets), sum(b.errors for b in buckets), sum(b.writes for b in buckets)) == (
        4,
        1,
        2,
    )


class BrokenTable:
    def append(self, *args: object, **kwargs: object) -> None:
        raise ConnectionError("storage down")

    def by_id(self, *args: object, **kwargs: object) -> None:
        raise ConnectionError("storage down")

    def prune(self, *args: object, **kwargs: object) -> None:
        raise ConnectionError("storage down")


class OutageThenStorage:
    """The activity table during an outage (BrokenTable's answers) until `down` is cleared, then the real one."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.down = True

    def __getattr__(self, name: str) -> Any:
        return getattr(BrokenTable() if self.down else self.real, name)


def test_a_storage_failure_loses_records_and_counts_them(storage: TableStorage, tenant: str) -> None:
    table = OutageThenStorage(storage.activity())
    recorder = ActivityRecorder(table)  # type: ignore[arg-type]
    for _ in range(3):
        recorder.submit(Outcome(tenant, datetime.now(UTC), "create", "User", "POST", 409, 1.0, True))
    assert recorder.flush()
    assert recorder.lost == 3
    # When storage answers again, the tenant's log says how many were lost.
    table.down = False
    recorder.submit(Outcome(tenant, datetime.now(UTC), "create", "User", "POST", 409, 1.0, True))
    assert recorder.flush()
    ops = [r.operation for r in storage.activity().page(tenant).records]
    assert sorted(ops) == ["create", "lost"]
    lost = next(r for r in storage.activity().page(tenant).records if r.operation == "lost")
    assert lost.detail.startswith("3 activity record(s)")


def test_a_full_queue_drops_instead_of_waiting(storage: TableStorage, tenant: str) -> None:
    recorder = ActivityRecorder(BrokenTable(), capacity=1)  # type: ignore[arg-type]
    recorder._ensure_thread = lambda: None  # type: ignore[method-assign]  # nothing drains
    for _ in range(5):
        recorder.submit(Outcome(tenant, datetime.now(UTC), "create", "User", "POST", 201, 1.0, True))
    assert recorder.lost == 4


@pytest.mark.parametrize("status", [401])
def test_refusals_of_unknown_tenants_store_nothing(storage: TableStorage, tenant: str, status: int) -> None:
    recorder = ActivityRecorder(storage.activity(), is_registered=lambda t: False)
    recorder.submit(Outcome(tenant, datetime.now(UTC), "list", "User", "GET", status, 1.0, False))
    assert recorder.flush()
    assert storage.activity().page(tenant).records == []
    assert storage.activity().buckets(tenant, datetime.now(UTC) - timedelta(hours=1)) == []


def test_activity_never_counts_in_the_scim_round_trips(storage: TableStorage, tenant: str) -> None:
    """Benchmarks count a SCIM operation's round trips; the background writes are not part of them."""
    before = storage.round_trips.count
    storage.activity().append(tenant, [(record(0), "x")])
    storage.activity().page(tenant)
    assert storage.round_trips.count == before


def _pages(read: Callable[[str | None], ActivityPage]) -> list[ActivityRecord]:
    """Every record of a view, page after page (at most 10 pages)."""
    records: list[ActivityRecord] = []
    after = None
    for _ in range(10):
        page = read(after)
        records += page.records
        if page.next_key is None:
            return records
        after = page.next_key
    raise AssertionError("the pages did not end")


def _user(name: str) -> dict[str, object]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "emails": [{"type": "work", "value": name}],
    }


def test_the_view_merges_writes_from_the_change_log_with_the_answers(storage: TableStorage, tenant: str) -> None:
    """One mechanism for the facts of writes: the change records, shown among the refusals, newest first."""
    users = UserService(storage.resources("Users"))
    recorder = ActivityRecorder(storage.activity())
    report = build_activity_report(storage)
    ada = str(users.create(tenant, _user("Ada@contoso.com")).id)
    legacy = ActivityRecord(datetime.now(UTC), "create", "User", ada, "Ada@contoso.com", 201)
    storage.activity().append(tenant, [(legacy, "old")])  # recorded before writes were the change log's alone
    taken = _user("ada@contoso.com")
    recorder.submit(Outcome(tenant, datetime.now(UTC), "create", "User", "POST", 409, 3.0, True, request_payload=taken))
    assert recorder.flush()
    users.delete(tenant, ada)
    bob = str(users.create(tenant, _user("bob@contoso.com")).id)

    page = report.activity(tenant)
    assert [(r.operation, r.status, r.name) for r in page.records] == [
        ("created", 0, "bob@contoso.com"),
        ("deleted", 0, "Ada@contoso.com"),
        ("create", 409, "ada@contoso.com"),
        ("created", 0, "Ada@contoso.com"),
    ]
    numbers = {(c.resource_id, c.operation): c.seq for c in ChangeRows(storage.resources("Users")).read(tenant)}
    expected = [numbers[bob, "created"], numbers[ada, "deleted"], None, numbers[ada, "created"]]
    assert [r.change_seq for r in page.records] == expected
    assert page.next_key is None
    assert [r.resource_id for r in page.records if r.status == 0] == [bob, ada, ada]

    # Pages of two continue where the last one stopped, through both sources.
    assert [r.name for r in _pages(lambda after: report.activity(tenant, limit=2, after=after))] == [
        r.name for r in page.records
    ]

    # "Did Entra send ada?": the writes and the refusal about her, any letter case; errors only leaves writes out.
    about = report.activity(tenant, user="ADA@contoso.com")
    assert [(r.operation, r.status) for r in about.records] == [("deleted", 0), ("create", 409), ("created", 0)]
    assert [r.status for r in report.activity(tenant, user="ada@contoso.com", errors_only=True).records] == [409]
    assert [r.name for r in report.search(tenant, "b").records] == ["bob@contoso.com"]
    named = _pages(lambda after: report.search(tenant, "", after=after, limit=2))
    assert [r.name.lower() for r in named] == ["ada@contoso.com"] * 3 + ["bob@contoso.com"]
    assert report.activity(tenant, since=timedelta(seconds=0)).records == []


def test_writes_in_many_counter_shards_page_newest_first_missing_none(storage: TableStorage, tenant: str) -> None:
    """Changes numbered in different shards (numbers not in commit order) still page back by time, each once."""
    users = UserService(storage.resources("Users"))
    report = build_activity_report(storage)
    names = [f"u{n}@contoso.com" for n in range(12)]
    for name in names:
        users.create(tenant, _user(name))
    newest_first = list(reversed(names))
    assert [r.name for r in report.activity(tenant).records] == newest_first
    for size in (2, 5):
        paged = _pages(lambda after, size=size: report.activity(tenant, limit=size, after=after))
        assert [r.name for r in paged] == newest_first
