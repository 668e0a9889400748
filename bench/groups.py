"""Group membership costs O(changes): add one, remove one, and GET without members, at 10, 1,000 and 20,000 members.

Run with `make bench`. Users and memberships are seeded straight through the store (seeding is not what is
measured) and the store is checked for consistency (scim.platform.invariants), then:

- the three operations are measured with the sizes interleaved: each repetition does the operation on
  every group in turn, in an order rotated each repetition, so drift on a busy machine and the growth of
  the store land on every size alike. Printed: storage round trips (the request's own, exact), median and
  p90 latency per size, and the ratio of the largest group's median to the smallest's from that one run
  (the goal is at most 1.5x for add-one-member and the excluded-members GET). Add and remove alternate,
  so every group keeps its size.
- the time to add 20,000 members the way Entra does, PATCHes of ENTRA_BATCH members: the PATCHes at the
  start of such a fill (into an empty group) and at its end (the 20,000 group's last FILL_SAMPLE members)
  are run, alternately, and timed; the total is extrapolated from them.

Azurite (LokiJS) finds a row by scanning the rows of its partition and answers a query by scanning the
table, so on Azurite every operation costs more as the tenant's rows grow, whatever the group's size, and
seeding 20,000 users and memberships takes minutes. Interleaving measures every size, and the start and
end of a fill, against the same store.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.round_trips import TOKEN, bench_api, seed_users_in_transactions
from devhost.azurite import Azurite
from scim.api import ScimApi
from scim.http import Request, Response
from scim.platform.invariants import check_tenant
from scim.store import RetryBudget, RoundTripCounter, TableStorage

SIZES = (10, 1_000, 20_000)
"""Group sizes, each measured in the same interleaved run; the largest is also the one filled by PATCH."""
ENTRA_BATCH = 100
"""Members per PATCH in the timed bulk add (an assumption about Entra's batch size; see the README)."""
REPEAT = 33
"""Interleaved repetitions; a multiple of len(SIZES), so each size takes each place in the order equally often."""
WARMUP = 3
"""Repetitions run first and not counted."""
FILL_SAMPLE = 1_000
"""Members added by real PATCHes at the start of a fill and again at its end; the rest is extrapolated."""
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
TENANT = "groups"
OPERATIONS = ("add one member", "remove one member", "GET excludedAttributes=members")


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


class CallerRoundTrips(RoundTripCounter):
    """Counts every request to Table Storage, as RoundTripCounter does, and apart those the measuring thread sends.

    The background writers (request outcomes to the activity table, change delivery's watermark) share the
    storage and run while the next request is measured; their calls are not that request's round trips. The
    request's own member-check reads run on the point-read threads (scim.store.reads): those count.
    """

    def __init__(self) -> None:
        super().__init__()
        self.thread = threading.get_ident()
        self.own = 0

    def __call__(self, request: Any) -> None:
        super().__call__(request)
        if threading.get_ident() == self.thread or threading.current_thread().name.startswith("scim-point-read"):
            self.own += 1


class Sampler:
    """Times one call at a time and counts the storage round trips it makes itself."""

    def __init__(self, api: ScimApi, storage: TableStorage) -> None:
        self.api = api
        self.storage = storage
        self.trips = CallerRoundTrips()
        storage.round_trips = self.trips

    def settle(self) -> None:
        """Let the background writers finish (before the store is checked or closed)."""
        if self.api.activity is not None:
            self.api.activity.flush(timeout=60)
        if self.api.delivery is not None:
            self.api.delivery.flush(timeout=60)

    def run(self, action: Callable[[], object]) -> tuple[int, float]:
        """(round trips, milliseconds) of one call."""
        before = self.trips.own
        started = time.perf_counter()
        action()
        elapsed = (time.perf_counter() - started) * 1000
        return self.trips.own - before, elapsed


class Samples:
    """Round trips and latencies of one operation at one size."""

    def __init__(self) -> None:
        self.trips: list[int] = []
        self.ms: list[float] = []

    def add(self, trips: int, ms: float) -> None:
        self.trips.append(trips)
        self.ms.append(ms)

    @property
    def round_trips(self) -> str:
        """The usual count; a range beside it if some calls differed (e.g. a cache refreshed in between)."""
        usual = Counter(self.trips).most_common(1)[0][0]
        low, high = min(self.trips), max(self.trips)
        return str(usual) if low == high else f"{usual} ({low}-{high})"

    @property
    def median(self) -> float:
        return statistics.median(self.ms)

    @property
    def p90(self) -> float:
        return statistics.quantiles(self.ms, n=10)[-1] if len(self.ms) > 1 else self.ms[0]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.ms)


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def cpu_seconds(pid: int) -> float | None:
    """CPU seconds another process has used so far, from /proc (None where there is none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Stopwatch:
    """Wall time of each phase, and the CPU time this process and Azurite spent in it.

    On a shared machine wall time stretches with the load; the CPU seconds say what the phase itself cost.
    """

    def __init__(self, azurite_pid: int) -> None:
        self.azurite_pid = azurite_pid
        self.first = self.last = self._now()

    def _now(self) -> tuple[float, float, float | None]:
        return time.perf_counter(), time.process_time(), cpu_seconds(self.azurite_pid)

    @staticmethod
    def _between(start: tuple[float, float, float | None], end: tuple[float, float, float | None]) -> str:
        text = f"{end[0] - start[0]:.0f} s, CPU {end[1] - start[1]:.0f} s bench"
        if start[2] is not None and end[2] is not None:
            text += f" + {end[2] - start[2]:.0f} s Azurite"
        return text

    def lap(self) -> str:
        """Since the previous lap."""
        now = self._now()
        text = self._between(self.last, now)
        self.last = now
        return text

    def total(self) -> str:
        return self._between(self.first, self._now())


def create_group(api: ScimApi, name: str) -> str:
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name}
    created = call(api, TENANT, "POST", "Groups", body)
    assert created.status == 201, created.body
    return str(json.loads(created.body)["id"])


def seed_members(api: ScimApi, group_id: str, user_ids: list[str]) -> None:
    """New memberships through the service's membership store: the transactions Memberships.add commits (whole
    pairs, 48 a transaction, with the group row's merge, the counter row and a member-added change record).

    The pairs are created rather than upserted as add() does: for a new pair the rows are the same, and
    Azurite looks an upserted row up twice, each time by scanning the partition, a created row once.
    """
    rows = api.groups.memberships
    table = rows.table
    listener, table.on_commit = table.on_commit, None  # seeding's records are not sent to the queue
    try:
        rows.load(TENANT, group_id, user_ids, datetime.now(UTC))
    finally:
        table.on_commit = listener


def check(storage: TableStorage) -> str:
    """The tenant's invariants (scim.platform.invariants); fails the bench on any violation."""
    report = check_tenant(storage, TENANT)
    for violation in report.violations[:10]:
        print(f"  {violation.table} {violation.row_key}: {violation.problem}")
    assert report.ok, "the store is not consistent"
    return (
        f"{len(report.violations)} violations; {report.resources['Users']} users, {report.resources['Groups']} groups, "
        f"{report.memberships} memberships; rows Users {report.rows['Users']}, Groups {report.rows['Groups']}"
    )


def fill(
    sampler: Sampler, api: ScimApi, first: str, last: str, users: list[str], sample: int
) -> tuple[Samples, Samples]:
    """PATCHes of ENTRA_BATCH new members: into ``first`` (empty) and into ``last`` (holding all but the last
    ``sample`` of ``users``), alternately, so the start and the end of a fill see the same partition."""
    start, end = Samples(), Samples()
    tail = len(users) - sample
    for n, offset in enumerate(range(0, sample, ENTRA_BATCH)):
        batches = [
            (start, first, users[offset : offset + ENTRA_BATCH]),
            (end, last, users[tail + offset : tail + offset + ENTRA_BATCH]),
        ]
        for samples, gid, batch in batches if n % 2 == 0 else batches[::-1]:

            def patch(gid: str = gid, batch: list[str] = batch) -> None:
                response = call(api, TENANT, "PATCH", f"Groups/{gid}", members_patch("add", batch))
                assert response.status == 204, response.body

            samples.add(*sampler.run(patch))
    return start, end


def interleaved(
    sampler: Sampler, api: ScimApi, groups: dict[int, str], extra: str, repeat: int
) -> dict[tuple[str, int], Samples]:
    """Each repetition: add ``extra`` to every group, remove it from every group, GET every group, in an
    order of sizes rotated each repetition."""

    def add(gid: str) -> None:
        assert call(api, TENANT, "PATCH", f"Groups/{gid}", members_patch("add", [extra])).status == 204

    def remove(gid: str) -> None:
        assert call(api, TENANT, "PATCH", f"Groups/{gid}", members_patch("remove", [extra])).status == 204

    def get(gid: str) -> None:
        response = call(api, TENANT, "GET", f"Groups/{gid}", query={"excludedAttributes": "members"})
        assert response.status == 200, response.body

    actions = dict(zip(OPERATIONS, (add, remove, get), strict=True))
    results = {(name, size): Samples() for name in OPERATIONS for size in groups}
    sizes = list(groups)
    for rep in range(-WARMUP, repeat):
        gc.collect()
        order = sizes[rep % len(sizes) :] + sizes[: rep % len(sizes)]
        for name, action in actions.items():
            for size in order:
                measured = sampler.run(lambda gid=groups[size], act=action: act(gid))  # type: ignore[misc]
                if rep >= 0:
                    results[(name, size)].add(*measured)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=REPEAT, help="interleaved repetitions (default %(default)s)")
    parser.add_argument(
        "--fill-sample",
        type=int,
        default=FILL_SAMPLE,
        help="members added by PATCH at the start and at the end of the fill (default %(default)s)",
    )
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="group sizes (default %(default)s)")
    args = parser.parse_args()
    sizes = tuple(int(size) for size in args.sizes.split(","))
    sample = args.fill_sample
    smallest, largest = min(sizes), max(sizes)
    assert 0 < sample <= largest and sample % ENTRA_BATCH == 0 and largest % ENTRA_BATCH == 0
    print(f"(load average at start: {load()})", flush=True)
    with Azurite() as azurite:
        # Seeding transactions wait on Azurite's partition scans (seconds on a busy machine): longer timeouts.
        budget = RetryBudget(read_timeout=120.0, call_timeout=300.0)
        storage = TableStorage(connection_string=azurite.connection_string, table_prefix="benchgroups", retry=budget)
        api = bench_api(azurite, storage, [TENANT])
        sampler = Sampler(api, storage)
        assert azurite.table.pid is not None
        watch = Stopwatch(azurite.table.pid)

        users, transactions = seed_users_in_transactions(api, TENANT, largest + 1, prefix="m")
        extra = users.pop()  # in no group: the member added and removed
        print(f"(seeded {largest + 1} users in {transactions} transactions: {watch.lap()})", flush=True)

        groups = {size: create_group(api, f"size {size}") for size in sizes}
        fresh = create_group(api, "filled by PATCH")
        for size, gid in groups.items():
            seed_members(api, gid, users[: size - sample if size == largest else size])
        print(f"(seeded {sum(sizes) - sample} memberships: {watch.lap()})", flush=True)
        print(f"(invariants after seeding: {check(storage)}: {watch.lap()})", flush=True)

        fill_start, fill_end = fill(sampler, api, fresh, groups[largest], users[:largest], sample)
        print(f"(fill: {len(fill_start.ms) + len(fill_end.ms)} PATCHes: {watch.lap()})", flush=True)

        rows = interleaved(sampler, api, groups, extra, args.repeat)
        print(f"(interleaved: {WARMUP} + {args.repeat} repetitions: {watch.lap()})", flush=True)
        sampler.settle()
        print(f"(invariants at the end: {check(storage)}: {watch.lap()})", flush=True)
        total = watch.total()
        storage.close()

    print()
    print(f"{'operation':<34} {'members':>8} {'round trips':>11} {'median ms':>10} {'p90 ms':>10}")
    for (name, size), samples in rows.items():
        print(f"{name:<34} {size:>8} {samples.round_trips:>11} {samples.median:>10.2f} {samples.p90:>10.2f}")
    print(f"(sizes interleaved, their order rotated: {args.repeat} repetitions, after {WARMUP} not counted)")
    for name in OPERATIONS:
        ratio = rows[(name, largest)].median / rows[(name, smallest)].median
        goal = "" if name == "remove one member" else " (goal: at most 1.5x)"
        print(f"ratio {largest} / {smallest} members, {name}: {ratio:.2f}x{goal}")

    patches = largest // ENTRA_BATCH
    measured = fill_start.ms + fill_end.ms
    print()
    print(f"time to add {largest} members in PATCHes of {ENTRA_BATCH} (Entra's batch):")
    print(
        f"  round trips per {ENTRA_BATCH}-member PATCH: {fill_start.round_trips} at the start, "
        f"{fill_end.round_trips} at the end"
    )
    for label, samples, held in (
        ("start", fill_start, f"0 to {sample - ENTRA_BATCH}"),
        ("end", fill_end, f"{largest - sample} to {largest - ENTRA_BATCH}"),
    ):
        print(
            f"  {len(samples.ms)} PATCHes at the {label:<5} of the fill (group holding {held} members before): "
            f"median {samples.median:.0f} ms, p90 {samples.p90:.0f} ms, mean {samples.mean:.0f} ms"
        )
    print(f"  end / start, medians: {fill_end.median / fill_start.median:.2f}x (start and end PATCHes alternated)")
    print(
        f"  EXTRAPOLATED: {patches * statistics.fmean(measured) / 1000:.0f} s for all {patches} PATCHes "
        f"({patches} x the mean of the {len(measured)} run; {patches - len(measured)} not run)"
    )
    print(f"(load average at end: {load()}; the bench took {total})")


if __name__ == "__main__":
    main()
