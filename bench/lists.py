"""A page of users costs the same whatever the tenant's size: GET /Users?startIndex=1&count=100 at 100 and 20,000.

Run with `make bench`. Prints round trips (exact) and median latency for each tenant size, and the ratio of
the large tenant to the small one measured in the same run (the goal is at most 2x).
"""

from __future__ import annotations

import time

from bench.round_trips import Bench, bench_api, seed_users
from devhost.azurite import Azurite
from scim.store import TableStorage

SIZES = (100, 20_000)
REPEAT = 20


def main() -> None:
    with Azurite() as azurite:
        storage = TableStorage(connection_string=azurite.connection_string, table_prefix="benchlists")
        tenants = {size: f"list{size}" for size in SIZES}
        api = bench_api(azurite, storage, list(tenants.values()))
        print(f"{'query':<40} {'users':>7} {'round trips':>11} {'median ms':>10}")
        results: dict[int, float] = {}
        for size, tenant in tenants.items():
            started = time.perf_counter()
            seed_users(api, tenant, size)
            print(f"  (seeded {size} users in {time.perf_counter() - started:.0f} s)")
            bench = Bench(api, storage, tenant)
            page = {"startIndex": "1", "count": "100"}
            bench.request("GET", "Users", query=page)  # warm: the tenant record and counter are read once a while
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
