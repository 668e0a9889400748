"""Each operator page reads a bounded number of rows: the same round trips for a tenant with 3 records or
with hundreds (so with 1,000,000 too: a page is a key range with a row limit, never a scan)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scim.api.admin import AdminApi, OperatorCredential
from scim.http import Request
from scim.platform.activity_report import build_activity_report
from scim.resources.users import UserService
from scim.store import COUNTER_SHARDS, ActivityRecord, TableStorage


def trips(storage: TableStorage) -> int:
    """Round trips of the SCIM tables and of the activity table together."""
    return storage.round_trips.count + storage.activity().round_trips.count


KEY = "page-cost-key"


class Catalog:
    def __init__(self, *tenants: str) -> None:
        self._ids = list(tenants)

    def tenant_ids(self) -> list[str]:
        return self._ids

    def exists(self, tenant: str) -> bool:
        return tenant in self._ids

    def active_limit(self, tenant: str) -> int | None:
        return 10


def seed(storage: TableStorage, tenant: str, count: int) -> None:
    now = datetime.now(UTC)
    records = [
        (
            ActivityRecord(now - timedelta(seconds=n), "create", "User", "", f"user{n % 7}@x.com", 409, "uniqueness"),
            f"s{n:05d}",
        )
        for n in range(count)
    ]
    storage.activity().append(tenant, records)
    users = UserService(storage.resources("Users"))
    for n in range(min(count, 60)):  # writes are change records (60 > a page of 50), shown among the answers
        users.create(
            tenant,
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": f"user{n}@x.com",
                "emails": [{"type": "work", "value": f"user{n}@x.com"}],
            },
        )


def cost(storage: TableStorage, pages: AdminApi, path: str, query: dict[str, str] | None = None) -> int:
    request = Request.build(
        "GET",
        f"http://x/operator/{path}",
        route_params={"path": path},
        query=query,
        headers={"Authorization": f"Bearer {KEY}"},
    )
    before = trips(storage)
    response = pages.handle(request)
    assert response.status == 200, response.body[:300]
    return trips(storage) - before


def test_pages_cost_the_same_for_a_small_and_a_large_log(storage: TableStorage, tenant: str) -> None:
    small, large = f"{tenant}-small", f"{tenant}-large"
    seed(storage, small, 3)
    seed(storage, large, 260)
    pages = AdminApi(
        build_activity_report(storage), Catalog(small, large), OperatorCredential(lambda r: (KEY,)), lambda t: True
    )
    cost(storage, pages, f"tenants/{small}")  # the first read of a process creates the tables if need be
    for path, query in [
        ("tenants/{}", None),
        ("tenants/{}/activity", None),
        ("tenants/{}/activity", {"errors": "1", "since": "24h"}),
        ("tenants/{}/activity", {"user": "user3@x.com"}),
        ("tenants/{}/activity", {"user": "user", "prefix": "1"}),
    ]:
        small_cost = cost(storage, pages, path.format(small), query)
        large_cost = cost(storage, pages, path.format(large), query)
        # The change log is read a counter shard at a time (one range query each that holds records): bounded
        # by the shards, never by the size of the log.
        assert small_cost <= large_cost <= 6 + 2 * COUNTER_SHARDS, (path, query, small_cost, large_cost)
    assert (
        cost(storage, pages, "", None) <= 2 * 5
    )  # the tenants page: buckets and counters per tenant shown (20 a page)
