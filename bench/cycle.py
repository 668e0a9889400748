"""A large tenant's initial cycle as Entra sends it (issue 24): every user looked up and created, then every
group, then its members added in PATCHes of 100, through the in-process API; at the end the tenant's
invariants (scim.platform.invariants) must hold and every membership must be stored.

    python -m bench cycle --store memory --users 100000    # make cycle-memory: 500 groups of up to 20,000 members
    python -m bench cycle --store azurite --users 10000    # make cycle-azurite: a fresh Azurite, 4 clients

The in-memory store (scim.store.MemoryStorage) runs our whole request path at full speed with no storage
latency: its figures are our CPU and the storage calls we make, exact. Azurite adds the storage client and a
real table service. Group sizes are seeded: the first group holds ``--largest`` members (an "all staff" group),
the others an exponential share of the users (mean ``--largest``/20), each drawn at random.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from scim.platform.invariants import check_tenant
from scim.store import MemoryStorage, TableStorage
from tests.entra_cycle import GROUP, PATCH, Client, in_process_api, user_body

MEMBERS_PER_PATCH = 100
TENANT = "cycle"
RETRIES = 6
T = TypeVar("T")


class _Retry(Exception):
    """An answer Entra sends again (429, 5xx)."""


@dataclass
class Shape:
    users: int
    groups: int
    largest: int
    seed: int = 24

    def sizes(self) -> list[int]:
        """Members of each group: the first ``largest``, the others exponential with mean largest/20."""
        rng = random.Random(self.seed)
        mean = max(1.0, self.largest / 20)
        rest = [min(self.largest, max(1, round(rng.expovariate(1 / mean)))) for _ in range(self.groups - 1)]
        return [min(self.largest, self.users), *rest][: self.groups]


@dataclass
class Phase:
    """One kind of request: how many, how long, what it cost in storage calls."""

    requests: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0
    calls: int = 0
    most_calls: int = 0
    statuses: Counter[int] = field(default_factory=Counter)

    def add(self, status: int, calls: int, cpu: float) -> None:
        self.requests += 1
        self.calls += calls
        self.cpu_seconds += cpu
        self.most_calls = max(self.most_calls, calls)
        self.statuses[status] += 1

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 1),
            "perSecond": round(self.requests / self.seconds, 1) if self.seconds else None,
            "cpuMsPerRequest": round(1000 * self.cpu_seconds / self.requests, 2) if self.requests else None,
            "callsPerRequest": round(self.calls / self.requests, 3) if self.requests else None,
            "mostCalls": self.most_calls,
            "statuses": dict(self.statuses),
        }


class Cycle:
    """Entra's side: the requests of one initial cycle, from ``clients`` threads, each call's storage calls counted."""

    def __init__(self, storage: TableStorage, shape: Shape, clients: int) -> None:
        self.storage = storage
        self.shape = shape
        self.clients = clients
        self.api = in_process_api(storage)
        self.requests: dict[str, Phase] = defaultdict(Phase)
        """Per kind of request: calls and CPU (this thread's) per request."""
        self.phases: dict[str, Phase] = defaultdict(Phase)
        """Per phase: requests, wall time and the whole process's CPU."""
        self.lock = threading.Lock()
        self.local = threading.local()

    def client(self) -> Client:
        if not hasattr(self.local, "client"):
            self.local.client = Client(self.api, TENANT)
        client: Client = self.local.client
        return client

    def call(self, kind: str, *args: Any, ok: tuple[int, ...] = (), **kwargs: Any) -> tuple[int, Any]:
        before = self.storage.round_trips.count
        cpu = time.thread_time()
        status, body = self.client().call(*args, **kwargs)
        cpu = time.thread_time() - cpu
        # The dispatcher counts its request's calls itself; one client alone makes the store's count exact.
        calls = self.storage.round_trips.count - before if self.clients == 1 else 0
        with self.lock:
            self.requests[kind].add(status, calls, cpu)
            self.phases[self.local.phase].requests += 1
        if status >= 300 and status not in ok:
            if status == 429 or status >= 500:
                raise _Retry(status)
            raise RuntimeError(f"{kind}: {status} {body}")
        return status, body

    @staticmethod
    def entra(action: Callable[[], T]) -> T:
        """Entra's retry: an answer of 429 or 5xx is sent again after a pause (RETRIES times at most)."""
        for attempt in range(RETRIES):
            try:
                return action()
            except _Retry:
                time.sleep(0.1 * (attempt + 1))
        return action()

    def run(self, kind: str, work: Sequence[Any], one: Callable[[Any], Any]) -> list[Any]:
        """``one`` for each item, on ``clients`` threads; the phase's wall time and the process's CPU time."""
        started, cpu, calls = time.perf_counter(), time.process_time(), self.storage.round_trips.count

        done = [0]
        step = max(1, len(work) // 10)

        def each(item: Any) -> Any:
            self.local.phase = kind
            result = one(item)
            with self.lock:
                done[0] += 1
                if done[0] % step == 0 and len(work) >= 1_000:  # a line per tenth of a long phase
                    print(
                        f"  {kind}: {done[0]:,} of {len(work):,} in {time.perf_counter() - started:.0f} s", flush=True
                    )
            return result

        if self.clients == 1:
            results = [each(item) for item in work]
        else:
            with ThreadPoolExecutor(self.clients) as pool:
                results = list(pool.map(each, work))
        phase = self.phases[kind]
        phase.seconds += time.perf_counter() - started
        phase.cpu_seconds += time.process_time() - cpu
        phase.calls += self.storage.round_trips.count - calls
        return results

    def user(self, n: int) -> str:
        return self.entra(lambda: self._user(n))

    def _user(self, n: int) -> str:
        """Entra's match, then create; a create answered 409 after a lost answer is matched again."""
        body = user_body(n, "c")
        query = {"filter": f'userName eq "{body["userName"]}"'}
        _, found = self.call("user filter (no match)", "users_collection", "GET", query=query)
        if found["Resources"]:  # only after a retried create
            return str(found["Resources"][0]["id"])
        status, created = self.call("POST /Users", "users_collection", "POST", body=body, ok=(409,))
        return self._user(n) if status == 409 else str(created["id"])

    def group(self, g: int) -> str:
        return self.entra(lambda: self._group(g))

    def _group(self, g: int) -> str:
        name = f"Cycle group {g}"
        query = {"filter": f'displayName eq "{name}"'}
        _, found = self.call("group filter (no match)", "groups_collection", "GET", query=query)
        if found["Resources"]:
            return str(found["Resources"][0]["id"])
        body = {"schemas": [GROUP], "displayName": name, "externalId": f"g{g}"}
        status, created = self.call("POST /Groups", "groups_collection", "POST", body=body, ok=(409,))
        return self._group(g) if status == 409 else str(created["id"])

    def members(self, job: tuple[str, list[str]]) -> None:
        group_id, member_ids = job
        for start in range(0, len(member_ids), MEMBERS_PER_PATCH):
            batch = member_ids[start : start + MEMBERS_PER_PATCH]
            body = {
                "schemas": [PATCH],
                "Operations": [{"op": "Add", "path": "members", "value": [{"value": uid} for uid in batch]}],
            }
            kind = "PATCH /Groups adding 100" if len(batch) == MEMBERS_PER_PATCH else "PATCH /Groups adding < 100"
            self.entra(lambda kind=kind, body=body: self.call(kind, "group_item", "PATCH", group_id, body))

    def execute(self) -> dict[str, Any]:
        shape = self.shape
        sizes = shape.sizes()
        user_ids = self.run("users phase", range(shape.users), self.user)
        group_ids = self.run("groups phase", range(shape.groups), self.group)
        rng = random.Random(shape.seed + 1)
        jobs = [(gid, rng.sample(user_ids, size)) for gid, size in zip(group_ids, sizes, strict=True)]
        self.run("members phase", jobs, self.members)
        memberships = sum(sizes)
        started = time.perf_counter()
        report = check_tenant(self.storage, TENANT)
        checked = time.perf_counter() - started
        return {
            "users": shape.users,
            "groups": shape.groups,
            "memberships": memberships,
            "largestGroup": max(sizes),
            "invariants": {
                "ok": report.ok,
                "violations": len(report.violations),
                "first": [asdict(v) for v in report.violations[:5]],
                "resources": report.resources,
                "memberships": report.memberships,
                "unindexedUsers": report.unindexed_users,
                "seconds": round(checked, 1),
            },
            "complete": report.ok
            and report.resources == {"Users": shape.users, "Groups": shape.groups}
            and report.memberships == memberships,
        }


@contextmanager
def open_store(kind: str) -> Iterator[TableStorage]:
    if kind == "memory":
        store: TableStorage = MemoryStorage(table_prefix="cycle")
        yield store
        return
    from devhost.azurite import Azurite

    with Azurite() as azurite:
        store = TableStorage(connection_string=azurite.connection_string, table_prefix="cycle")
        try:
            yield store
        finally:
            store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench cycle", description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=["memory", "azurite"], default="memory")
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--groups", type=int, help="default: users / 200")
    parser.add_argument("--largest", type=int, help="members of the largest group; default: min(20,000, users / 5)")
    parser.add_argument("--clients", type=int, help="concurrent clients; default 1 on memory, 4 on Azurite")
    parser.add_argument("--out", type=Path, help="write the report here as JSON too")
    args = parser.parse_args(argv)
    shape = Shape(
        users=args.users,
        groups=args.groups or max(1, args.users // 200),
        largest=args.largest or max(1, min(20_000, args.users // 5)),
    )
    clients = args.clients or (1 if args.store == "memory" else 4)
    print(
        f"bench.cycle: {args.store}, {shape.users:,} users, {shape.groups} groups (largest {shape.largest:,}), "
        f"{clients} client(s); load average {os.getloadavg()[0]:.1f} at start",
        flush=True,
    )
    started = time.perf_counter()
    with open_store(args.store) as storage:
        cycle = Cycle(storage, shape, clients)
        result = cycle.execute()
    result.update(
        {
            "store": args.store,
            "clients": clients,
            "seconds": round(time.perf_counter() - started, 1),
            "peakRssMb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "loadAverageAtEnd": round(os.getloadavg()[0], 1),
            "phases": {kind: phase.summary() for kind, phase in cycle.phases.items()},
            "requests": {kind: row.summary() for kind, row in cycle.requests.items() if clients == 1},
            "run": uuid.uuid4().hex[:8],
        }
    )
    print(render(result))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["complete"] else 1


def render(result: dict[str, Any]) -> str:
    lines = [
        f"{'phase / request':<30} {'requests':>9} {'seconds':>8} {'per s':>7} {'CPU ms':>7} {'calls':>6} {'max':>4}",
    ]
    for kind, row in [*result["phases"].items(), *result["requests"].items()]:
        per_s = f"{row['perSecond']:.0f}" if row["perSecond"] else ""
        cpu = f"{row['cpuMsPerRequest']:.2f}" if row["cpuMsPerRequest"] else ""
        calls = f"{row['callsPerRequest']:.2f}" if row["callsPerRequest"] is not None else ""
        most = str(row["mostCalls"]) if row["mostCalls"] else ""
        lines.append(
            f"{kind:<30} {row['requests']:>9,} {row['seconds']:>8.1f} {per_s:>7} {cpu:>7} {calls:>6} {most:>4}"
        )
    inv = result["invariants"]
    verdict = "clean" if inv["ok"] else f"{inv['violations']} violation(s)"
    lines += [
        f"memberships {result['memberships']:,} (largest group {result['largestGroup']:,}); "
        f"whole run {result['seconds']:.0f} s, peak RSS {result['peakRssMb']:,} MB",
        f"invariants: {verdict} "
        f"({inv['resources']}, {inv['memberships']:,} memberships, {inv['unindexedUsers']} unindexed users; "
        f"checked in {inv['seconds']} s); complete: {result['complete']}",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
