"""A page of users costs the same whatever the tenant's size: GET /Users?startIndex=1&count=100 at 100 and 20,000.

Run with `make bench`. Prints round trips (exact) and median latency for each tenant size, and the ratio of
the large tenant to the small one measured in the same run (the goal is at most 2x).
"""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from scim2_models import Context

from bench.round_trips import TOKEN, Bench, user_body
from devhost.azurite import Azurite
from scim.api import build_api
from scim.models import USER_SCHEMA
from scim.resources.users import UserService
from scim.secrets import StaticSecretSource
from scim.settings import Settings
from scim.store import CountChange, TableStorage, TenantRow, TenantTable

SIZES = (100, 20_000)
REPEAT = 20


def seed(service: UserService, tenant: str, size: int) -> None:
    """Users written straight through the store (with their counter), four writers at a time."""
    table = service._table
    now = datetime.now(UTC)

    def one(n: int) -> None:
        user = service.parse(user_body(f"user{n}@contoso.com"), Context.RESOURCE_CREATION_REQUEST, USER_SCHEMA)
        change = CountChange(total=1, active=1)
        table.create(tenant, uuid.uuid4().hex, service.document(user), service.indexes(user), now, change=change)

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(one, range(size)))


def main() -> None:
    with Azurite() as azurite:
        storage = TableStorage(connection_string=azurite.connection_string, table_prefix="benchlists")
        tenants = {size: f"list{size}" for size in SIZES}
        settings = Settings(storage_connection_string=azurite.connection_string)
        secrets = StaticSecretSource(dict.fromkeys(tenants.values(), TOKEN))
        for tenant in tenants.values():  # tenants are registered before they are served
            TenantTable(storage).create(TenantRow(tenant, tenant, datetime.now(UTC), True, None))
        api = build_api(settings, storage=storage, secrets=secrets)
        service = api.users
        print(f"{'query':<40} {'users':>7} {'round trips':>11} {'median ms':>10}")
        results: dict[int, float] = {}
        for size, tenant in tenants.items():
            started = time.perf_counter()
            seed(service, tenant, size)
            print(f"  (seeded {size} users in {time.perf_counter() - started:.0f} s)")
            bench = Bench(api, storage, tenant)
            page = {"startIndex": "1", "count": "100"}
            trips, ms = bench.measure(lambda b=bench, q=page: b.request("GET", "Users", query=q))  # type: ignore[misc]
            results[size] = ms
            print(f"{'startIndex=1&count=100':<40} {size:>7} {trips:>11} {ms:>10.2f}")
            before = storage.round_trips.count
            started = time.perf_counter()
            bench.request("GET", "Users", query={**page, "sortBy": "userName"})
            sorted_ms = (time.perf_counter() - started) * 1000
            sorted_trips = storage.round_trips.count - before
            print(f"{'... &sortBy=userName (reads all, once)':<40} {size:>7} {sorted_trips:>11} {sorted_ms:>10.2f}")
        storage.close()
    small, large = results[SIZES[0]], results[SIZES[1]]
    print(f"ratio {SIZES[1]} / {SIZES[0]} users, startIndex=1&count=100: {large / small:.2f}x (goal: at most 2x)")


if __name__ == "__main__":
    main()
