"""Group membership costs O(changes): add one, remove one, and GET without members, at 10, 1,000 and 20,000 members.

Run with `make bench`. For each group size it prints storage round trips (exact) and the median latency of
each operation, then the ratio of the largest group to the smallest measured in the same run (the goal is
at most 1.5x for add-one-member and the excluded-members GET), and the time to add 20,000 members the way
Entra does it: PATCH requests of ENTRA_BATCH members each.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

from bench.round_trips import TOKEN, bench_api, seed_users
from devhost.azurite import Azurite
from scim.api import ScimApi
from scim.http import Request, Response
from scim.store import TableStorage

SIZES = (10, 1_000, 20_000)
ENTRA_BATCH = 100
"""Members per PATCH in the timed bulk add (an assumption about Entra's batch size; see the README)."""
REPEAT = 15
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def call(
    api: ScimApi, tenant: str, method: str, path: str, body: Any = None, query: dict[str, str] | None = None
) -> Response:
    parts = path.strip("/").split("/")
    route = {"tenant": tenant}
    handler = api.groups_collection
    if len(parts) == 2:
        route["id"] = parts[1]
        handler = api.group_item
    return handler(
        Request.build(
            method,
            f"http://bench/scim/v2/{tenant}/{path}",
            route_params=route,
            query=query or {},
            headers={"Authorization": f"Bearer {TOKEN}"},
            body=json.dumps(body).encode() if body is not None else b"",
        )
    )


def members_patch(op: str, user_ids: list[str]) -> dict[str, Any]:
    return {
        "schemas": [PATCH],
        "Operations": [{"op": op, "path": "members", "value": [{"value": u} for u in user_ids]}],
    }


def measure(storage: TableStorage, action: Any) -> tuple[int, float]:
    before = storage.round_trips.count
    action()
    trips = storage.round_trips.count - before
    samples = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return trips, statistics.median(samples)


def main() -> None:
    with Azurite() as azurite:
        storage = TableStorage(connection_string=azurite.connection_string, table_prefix="benchgroups")
        tenant = "groups"
        api = bench_api(azurite, storage, [tenant])
        started = time.perf_counter()
        users = seed_users(api, tenant, max(SIZES) + 1, prefix="m")
        print(f"(seeded {len(users)} users in {time.perf_counter() - started:.0f} s)")
        extra = users[-1]
        rows: dict[tuple[str, int], tuple[int, float]] = {}
        for size in SIZES:
            created = call(
                api,
                tenant,
                "POST",
                "Groups",
                {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": f"size {size}"},
            )
            gid = json.loads(created.body)["id"]
            started = time.perf_counter()
            for start in range(0, size, ENTRA_BATCH):
                response = call(
                    api,
                    tenant,
                    "PATCH",
                    f"Groups/{gid}",
                    members_patch("add", users[start : start + min(ENTRA_BATCH, size - start)]),
                )
                assert response.status == 204, response.body
            fill_s = time.perf_counter() - started
            if size == max(SIZES):
                print(f"added {size} members in PATCHes of {ENTRA_BATCH}: {fill_s:.1f} s")

            def add_one(gid: str = gid) -> None:
                assert call(api, tenant, "PATCH", f"Groups/{gid}", members_patch("add", [extra])).status == 204

            def remove_one(gid: str = gid) -> None:
                assert call(api, tenant, "PATCH", f"Groups/{gid}", members_patch("remove", [extra])).status == 204

            def get_excluded(gid: str = gid) -> None:
                assert call(api, tenant, "GET", f"Groups/{gid}", query={"excludedAttributes": "members"}).status == 200

            before = storage.round_trips.count
            add_one()
            add_trips = storage.round_trips.count - before
            before = storage.round_trips.count
            remove_one()
            remove_trips = storage.round_trips.count - before
            add_ms, remove_ms = [], []
            for _ in range(REPEAT):  # alternate, so the group keeps its size
                started = time.perf_counter()
                add_one()
                add_ms.append((time.perf_counter() - started) * 1000)
                started = time.perf_counter()
                remove_one()
                remove_ms.append((time.perf_counter() - started) * 1000)
            rows[("add one member", size)] = (add_trips, statistics.median(add_ms))
            rows[("remove one member", size)] = (remove_trips, statistics.median(remove_ms))
            rows[("GET excludedAttributes=members", size)] = measure(storage, get_excluded)
        storage.close()

    print(f"{'operation':<34} {'members':>8} {'round trips':>11} {'median ms':>10}")
    for (name, size), (trips, ms) in rows.items():
        print(f"{name:<34} {size:>8} {trips:>11} {ms:>10.2f}")
    for name in ("add one member", "remove one member", "GET excludedAttributes=members"):
        small, large = rows[(name, SIZES[0])][1], rows[(name, SIZES[-1])][1]
        print(f"ratio {SIZES[-1]} / {SIZES[0]} members, {name}: {large / small:.2f}x")


if __name__ == "__main__":
    main()
