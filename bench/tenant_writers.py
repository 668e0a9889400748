"""Writers of one tenant (issue 23): POST p50 with 8 writers on one tenant against one writer, on Azurite.

Each writer is a thread creating users through the SCIM POST's service (UserService.create, the tenant's active
limit set far above its count, as a licensed tenant has it), one after another, with a fresh userName each.
Three cells, alternated round by round so the load of this shared machine hits each alike:

- ``1 writer``: one thread on one tenant (the baseline), making as many POSTs as the 8 of a cell together;
- ``8 writers, 1 tenant``: eight threads on the same tenant (the case the counter shards are for);
- ``8 writers, 8 tenants``: eight threads each on its own tenant (no shared rows at all: the floor).

Storage is a fresh in-memory Azurite reached through bench.concurrency's latency proxy (``--delay-ms`` each
way, default 4: an in-region Table Storage call), so waiting for storage weighs as it does in Azure. Per cell:
POSTs, p50 and p99 ms, storage round trips per POST (retries included); then the ratio of the 8-writer p50 to
the single writer's (the goal: at most 2x) and the load average beside it.

    python -m bench tenant-writers                      # 3 rounds of 40 POSTs a writer and cell
    python -m bench tenant-writers --rounds 1 --posts 10
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.concurrency import connection_string, run_proxy
from devhost.azurite import AzuriteService, free_port

WRITERS = 8
LIMIT = 1_000_000
CELLS = ("1 writer", "8 writers, 1 tenant", "8 writers, 8 tenants")


def user_body(name: str) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "externalId": name,
        "active": True,
        "emails": [{"type": "work", "value": name, "primary": True}],
        "name": {"givenName": "Bench", "familyName": "Writer"},
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_cell(create: Callable[[str, dict[str, Any]], Any], tenants: list[str], writers: int, posts: int) -> list[float]:
    """``writers`` threads, writer n on tenants[n % len(tenants)], each making ``posts`` POSTs; their latencies."""
    samples: list[float] = []
    lock = threading.Lock()
    start = threading.Barrier(writers)

    def writer(n: int) -> None:
        tenant = tenants[n % len(tenants)]
        start.wait()
        mine = []
        for _ in range(posts):
            name = f"w{uuid.uuid4().hex[:12]}@contoso.com"
            began = time.perf_counter()
            create(tenant, user_body(name))
            mine.append((time.perf_counter() - began) * 1000)
        with lock:
            samples.extend(mine)

    with ThreadPoolExecutor(max_workers=writers) as pool:
        list(pool.map(writer, range(writers)))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--posts", type=int, default=40, help="POSTs each of the 8 writers makes in a round")
    parser.add_argument("--delay-ms", type=float, default=4.0, help="one-way delay the proxy adds per direction")
    options = parser.parse_args()

    from scim.resources.users import UserService
    from scim.store import TableStorage

    table_port, proxy_port = free_port(), free_port()
    with AzuriteService("table", table_port):
        accepted, ready = multiprocessing.Value("i", 0), multiprocessing.Event()
        proxy = multiprocessing.Process(
            target=run_proxy, args=(proxy_port, table_port, options.delay_ms / 1000, accepted, ready), daemon=True
        )
        proxy.start()
        ready.wait(10)
        storage = TableStorage(connection_string=connection_string(proxy_port), table_prefix="writers")
        users = UserService(storage.resources("Users"))

        def create(tenant: str, body: dict[str, Any]) -> Any:
            return users.create(tenant, body, active_limit=LIMIT)

        create(f"t-{uuid.uuid4().hex[:12]}", user_body("warm@contoso.com"))  # table, connections, imports
        latencies: dict[str, list[float]] = {cell: [] for cell in CELLS}
        trips: dict[str, list[int]] = {cell: [] for cell in CELLS}
        for _round in range(options.rounds):
            for cell in CELLS:
                writers = 1 if cell == CELLS[0] else WRITERS
                tenants = [f"t-{uuid.uuid4().hex[:12]}" for _ in range(WRITERS if cell == CELLS[2] else 1)]
                for tenant in tenants:  # each tenant's first write (registry row, first counter read) is a one-off
                    create(tenant, user_body(f"first-{uuid.uuid4().hex[:8]}@contoso.com"))
                before = storage.round_trips.count
                posts = options.posts * (WRITERS // writers)  # as many POSTs in each cell: samples alike
                latencies[cell] += run_cell(create, tenants, writers, posts)
                trips[cell].append(storage.round_trips.count - before)
        storage.close()
        proxy.terminate()

    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"tenant writers: {options.rounds} rounds x {options.posts} POSTs a writer, proxy {options.delay_ms} ms")
    print(f"load average (1, 5, 15 min): {load}; CPUs: {os.cpu_count()}")
    print(f"{'cell':<22}{'POSTs':>7}{'p50 ms':>9}{'p99 ms':>9}{'trips/POST':>12}")
    for cell in CELLS:
        values = latencies[cell]
        per_post = sum(trips[cell]) / len(values)
        p50, p99 = percentile(values, 0.5), percentile(values, 0.99)
        print(f"{cell:<22}{len(values):>7}{p50:>9.1f}{p99:>9.1f}{per_post:>12.2f}")
    ratio = statistics.median(latencies[CELLS[1]]) / statistics.median(latencies[CELLS[0]])
    print(f"8 writers on one tenant: POST p50 {ratio:.2f}x a single writer's (goal: at most 2x)")


if __name__ == "__main__":
    main()
