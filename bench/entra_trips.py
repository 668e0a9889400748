"""Storage calls per request of Entra's provisioning pattern, against Azurite: the inputs of bench/capacity/report.py.

Run with `make bench` (or `python -m bench.entra_trips`). For each request Entra sends in an initial
and an incremental cycle it prints the Table Storage calls by kind (point reads, queries, transactions, other
writes), the entities the transactions wrote (counted in each batch body) and the CPU time the request took in
this process (the median of several rounds), measured twice:

- one worker: the same process wrote last, so the tenant's counter row ETag is cached (what a single
  Functions instance sees, and what bench/round_trips.py measures);
- two workers taking turns: each write follows one from the other worker, so the cached counter ETag is
  stale and the transaction fails once, the row is read again and the transaction is sent again (what a write
  sees when another Flex instance wrote the tenant's counter row last).

Two more measurements feed the capacity model: eight threads of one worker writing one tenant's users at once
(its writers take turns on the counter row, so each write should cost what it costs alone), and the CPU per
call of the work a request leaves to background threads (a change message, an activity transaction, a merge of
the tenant's registry row), which the model charges to the instance too.

Counts are exact and do not depend on the machine (every round must give the same); the activity log and
the changes queue are not counted (they run after the answer, on threads of their own; bench/delivery.py
measures the queue). CPU is `time.process_time` around the request: our code, the storage client, and the
point-read threads of a member check (this process runs no other thread); Azurite is another process.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devhost.azurite import Azurite
from scim.store import ChangeQueue, TableStorage, TrafficBucket
from scim.wiring import build_change_log
from tests.entra_cycle import ENTERPRISE, GROUP, PATCH, Client, in_process_api, user_body

KINDS = ("read", "query", "tx", "write")
_POINT = re.compile(r"\(PartitionKey='[^']*',RowKey='[^']*'\)")


TABLES = ("Users", "Groups")
_ENTRY_PART = re.compile(rb"RowKey='x(%7C|\|)")


def _table_of(text: bytes) -> str:
    """Which resource table a request (or a batch part) is for: its table name is in its URL."""
    return "Groups" if b"Groups" in text.split(b"HTTP/1.1")[0] else "Users"


class CallLog:
    """A raw_request_hook that sorts each Table Storage request by kind and counts the entities a batch writes.

    Also, per table (``by_table``: "<kind> <table>"): calls, entities written or read, and commits (a transaction
    that is not only member-index checks: it writes rows and a change record)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.entities = 0
        self.by_table: Counter[str] = Counter()
        self._lock = threading.Lock()  # concurrent writers share the log

    def __call__(self, request: Any) -> None:
        http = getattr(request, "http_request", request)
        method, url = http.method.upper(), http.url
        entities = 0
        counts: Counter[str] = Counter()
        if method == "GET":
            kind = "read" if _POINT.search(url.split("?")[0]) else "query"
            table = _table_of(url.encode())
            counts[f"{kind} {table}"] += 1
            counts[f"entities {table}"] += 1
        elif method == "POST" and "$batch" in url:
            body = http.body if isinstance(http.body, bytes) else str(http.body or "").encode()
            kind, entities = "tx", body.count(b"application/http")
            parts = body.split(b"application/http")[1:]
            table = _table_of(parts[0]) if parts else "Users"
            counts[f"tx {table}"] += 1
            counts[f"entities {table}"] += entities
            counts[f"written {table}"] += entities
            if not all(_ENTRY_PART.search(part) for part in parts):
                counts[f"commit {table}"] += 1
        else:
            kind = "write"
            table = _table_of(url.encode())
            counts[f"write {table}"] += 1
            counts[f"entities {table}"] += 1
            counts[f"written {table}"] += 1
        with self._lock:
            self.calls[kind] += 1
            self.entities += entities
            self.by_table.update(counts)

    def snapshot(self) -> tuple[Counter[str], int]:
        with self._lock:
            return Counter(self.calls), self.entities

    def tables(self) -> Counter[str]:
        with self._lock:
            return Counter(self.by_table)


class Worker:
    """One Functions worker: its own storage clients (so its own counter-row cache) and an Entra client."""

    def __init__(self, connection_string: str, tenant: str, log: CallLog) -> None:
        self.storage = TableStorage(connection_string=connection_string, table_prefix="benchentra")
        self.storage.round_trips = log  # type: ignore[assignment]  # every request sent goes through the log
        self.client = Client(in_process_api(self.storage), tenant)

    def close(self) -> None:
        self.storage.close()


def group_body(name: str) -> dict[str, Any]:
    return {"schemas": [GROUP], "externalId": str(uuid.uuid4()), "displayName": name, "meta": {"resourceType": "Group"}}


def members(op: str, user_ids: list[str]) -> dict[str, Any]:
    value = [{"value": u} for u in user_ids]
    return {"schemas": [PATCH], "Operations": [{"op": op, "path": "members", "value": value}]}


def replace(path: str, value: Any) -> dict[str, Any]:
    return {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": path, "value": value}]}


Step = tuple[str, Callable[[Client], object]]


def steps(state: dict[str, Any]) -> list[Step]:
    """Entra's requests in the order of a cycle; `state` carries ids between them."""
    state.setdefault("n", 0)

    def new_user(client: Client) -> None:
        state["n"] += 1
        state["name"] = f"cap{state['n']}-{uuid.uuid4().hex[:8]}@contoso.test"

    def filter_miss(client: Client) -> None:
        assert client.find("users_collection", "userName", state["name"]) is None

    def post(client: Client) -> None:
        work = [{"type": "work", "value": state["name"]}]
        body = user_body(state["n"], "cap") | {"userName": state["name"], "emails": work}
        status, answer = client.call("users_collection", "POST", body=body)
        assert status == 201, answer
        state["uid"] = answer["id"]

    def get(client: Client) -> None:
        assert client.call("user_item", "GET", state["uid"])[0] == 200

    def manager(client: Client) -> None:
        operation = {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": state["boss"]}
        body = {"schemas": [PATCH], "Operations": [operation]}
        assert client.call("user_item", "PATCH", state["uid"], body)[0] == 200

    def group_miss(client: Client) -> None:
        state["group"] = f"G-{uuid.uuid4().hex[:8]}"
        query = {"filter": f'displayName eq "{state["group"]}"', "excludedAttributes": "members"}
        status, answer = client.call("groups_collection", "GET", query=query)
        assert status == 200 and answer["totalResults"] == 0

    def group_post(client: Client) -> None:
        status, answer = client.call("groups_collection", "POST", body=group_body(state["group"]))
        assert status == 201, answer
        state["gid"] = answer["id"]

    def add_100(client: Client) -> None:
        assert client.call("group_item", "PATCH", state["gid"], members("Add", state["pool"][:100]))[0] == 204

    def filter_hit(client: Client) -> None:
        assert client.find("users_collection", "userName", state["name"]) == state["uid"]

    def update(client: Client) -> None:
        value = f"Dept {uuid.uuid4().hex[:6]}"
        assert client.call("user_item", "PATCH", state["uid"], replace(f"{ENTERPRISE}:department", value))[0] == 200

    def disable(client: Client) -> None:
        assert client.call("user_item", "PATCH", state["uid"], replace("active", "False"))[0] == 200

    def add_one(client: Client) -> None:
        assert client.call("group_item", "PATCH", state["gid"], members("Add", [state["uid"]]))[0] == 204

    def remove_one(client: Client) -> None:
        assert client.call("group_item", "PATCH", state["gid"], members("Remove", [state["uid"]]))[0] == 204

    return [
        ("_new", new_user),
        ("user: filter miss", filter_miss),
        ("user: POST", post),
        ("user: GET by id", get),
        ("user: PATCH manager", manager),
        ("group: filter miss", group_miss),
        ("group: POST", group_post),
        ("group: PATCH add 100 members", add_100),
        ("incr: user filter hit", filter_hit),
        ("incr: user PATCH attribute", update),
        ("incr: group PATCH add 1 member", add_one),
        ("incr: group PATCH remove 1 member", remove_one),
        ("incr: user PATCH disable", disable),
    ]


def touch_both_tables(worker: Worker, state: dict[str, Any]) -> None:
    """A write to the tenant's Users and Groups partitions, so the other worker's counter ETags go stale."""
    client, flip = worker.client, state.setdefault("flip", 0)
    state["flip"] = flip + 1
    assert client.call("user_item", "PATCH", state["pool"][0], replace("displayName", f"Pool {flip}"))[0] == 200
    change = members("Add" if flip % 2 == 0 else "Remove", [state["pool"][1]])
    assert client.call("group_item", "PATCH", state["prime_group"], change)[0] == 204


Measured = dict[str, tuple[Counter[str], int, float, Counter[str]]]
"""Per step: calls by kind, entities the transactions wrote, CPU ms, and CallLog.by_table's counts."""


def measure(workers: list[Worker], log: CallLog, state: dict[str, Any]) -> Measured:
    """Run the steps once on the first worker; the calls, entities and CPU ms of each.

    With a second worker, it writes to both tables before each step (not counted), so every step of the
    first worker meets a counter row changed by someone else, as when another Flex instance wrote it last.
    """
    result: Measured = {}
    for name, action in steps(state):
        if len(workers) > 1 and not name.startswith("_"):
            touch_both_tables(workers[1], state)
        before, entities = log.snapshot()
        tables = log.tables()
        started = time.process_time()
        action(workers[0].client)
        cpu_ms = (time.process_time() - started) * 1000
        after, entities_after = log.snapshot()
        if not name.startswith("_"):
            result[name] = (after - before, entities_after - entities, cpu_ms, log.tables() - tables)
    return result


WRITERS = 8
"""Concurrent writers in one worker: the Bicep's httpConcurrency (requests one Flex instance serves at once)."""


def concurrent_writes(worker: Worker, log: CallLog, user_ids: list[str]) -> tuple[Counter[str], float]:
    """WRITERS threads of one worker each PATCH a different user of the tenant at the same moment; the calls
    they made together, and the wall time. Writers of one tenant in a process take turns on its counter row, so
    none should meet a stale ETag (2 calls a write: the user's read and the transaction)."""
    barrier = threading.Barrier(len(user_ids))
    failures: list[int] = []

    def write(uid: str) -> None:
        body = replace("title", f"Title {uuid.uuid4().hex[:6]}")
        barrier.wait()
        status = worker.client.call("user_item", "PATCH", uid, body)[0]
        if status != 200:
            failures.append(status)

    threads = [threading.Thread(target=write, args=(uid,)) for uid in user_ids]
    before, _ = log.snapshot()
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    after, _ = log.snapshot()
    assert not failures, failures
    return after - before, elapsed


def cpu_per_call(action: Callable[[int], object], calls: int) -> float:
    """CPU ms of one call of ``action`` (the mean over ``calls`` calls, this thread only)."""
    started = time.thread_time()
    for n in range(calls):
        action(n)
    return (time.thread_time() - started) * 1000 / calls


def background_cpu(connection_string: str, tenant: str, rounds: int, calls: int = 40) -> dict[str, float]:
    """CPU ms per call of what a request leaves to background threads, as scim.platform sends it (medians of
    ``rounds``): a change message of about 1 KiB, the tenant's activity transaction (a traffic bucket), a
    conditional merge of the tenant's registry row with its ETag known. Also a bare point read (a tenant row)."""
    storage = TableStorage(connection_string=connection_string, table_prefix="benchentra")
    queue = ChangeQueue("benchentra-changes", connection_string=connection_string)
    rows = build_change_log(storage).streams["Users"]
    activity = storage.activity()
    users = storage.resources("Users")
    message = "x" * 1_000
    mark = rows.mark_sent(tenant, [])
    assert mark is not None

    def merge(_n: int) -> None:
        nonlocal mark
        assert mark is not None
        mark = rows.mark_sent(tenant, [(0, mark.mark(0).published + 1)], mark)  # moves shard 0's watermark: one merge

    def write_bucket(n: int) -> None:
        start = datetime.now(UTC).replace(second=0, microsecond=0)
        activity.append(tenant, [], [TrafficBucket(start, "bench", requests=n + 1, last_request=start)])

    actions: dict[str, Callable[[int], object]] = {
        "change message (queue)": lambda _n: queue.send(message),
        "activity transaction": write_bucket,
        "registry merge": merge,
        "point read (tenant row)": lambda _n: users.sequence(tenant),
    }
    for action in actions.values():
        action(0)  # warm: clients built, queue and tables created
    samples: dict[str, list[float]] = {name: [] for name in actions}
    for _round in range(rounds):
        for name, action in actions.items():
            samples[name].append(cpu_per_call(action, calls))
    queue.close()
    storage.close()
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rounds", type=int, default=9, help="rounds of each worker setting (CPU: the median)")
    parser.add_argument("--out", type=Path, help="also write the figures the capacity model reads, as JSON")
    args = parser.parse_args()
    with Azurite() as azurite:
        log = CallLog()
        tenant = "captrips"
        workers = [Worker(azurite.connection_string, tenant, log) for _ in range(2)]
        client = workers[0].client
        pool = []
        for n in range(101):  # the members of the 100-member PATCH, and the managers
            status, answer = client.call("users_collection", "POST", body=user_body(n, "pool"))
            assert status == 201, answer
            pool.append(answer["id"])
        status, answer = client.call("groups_collection", "POST", body=group_body("prime"))
        assert status == 201, answer
        state: dict[str, Any] = {"pool": pool, "boss": pool[-1], "prime_group": answer["id"]}
        measure(workers, log, state)  # warm: each worker has read the counter rows and registered the tenant
        runs: dict[str, list[Measured]] = {"one worker": [], "two workers": []}
        for _round in range(args.rounds):
            touch_both_tables(workers[0], state)  # the first worker wrote last: its counter ETags are current
            runs["one worker"].append(measure(workers[:1], log, state))
            runs["two workers"].append(measure(workers, log, state))
        writers = pool[2 : 2 + WRITERS]
        concurrent_writes(workers[0], log, writers)  # warm: the threads' connections
        together = [concurrent_writes(workers[0], log, writers) for _round in range(args.rounds)]
        for worker in workers:
            worker.close()
        background = background_cpu(azurite.connection_string, tenant, args.rounds)

    print(
        f"{'request':<36} {'workers':<12} {'read':>5} {'query':>6} {'tx':>4} {'write':>6} {'entities in tx':>15}"
        f" {'CPU ms':>7}"
    )
    for name in runs["one worker"][0]:
        for label, rounds in runs.items():
            calls, entities, _cpu, _tables = rounds[0][name]
            assert all(r[name][:2] == (calls, entities) for r in rounds), f"{name}, {label}: counts differ by round"
            cpu_ms = statistics.median(r[name][2] for r in rounds)
            counts = " ".join(f"{calls[k]:>{w}}" for k, w in zip(KINDS, (5, 6, 4, 6), strict=True))
            print(f"{name:<36} {label:<12} {counts} {entities:>15} {cpu_ms:>7.1f}")
    print(f"\n{WRITERS} threads of one worker, each a user PATCH of the same tenant at once (calls per write):")
    for calls, elapsed in together:
        per_write = " ".join(f"{k} {calls[k] / WRITERS:.2f}" for k in KINDS)
        print(f"  {per_write}; all {WRITERS} in {elapsed * 1000:.0f} ms")
    print("\nbackground work of a request, CPU ms per call (median of the rounds):")
    for name, cpu_ms in background.items():
        print(f"  {name:<28} {cpu_ms:>5.2f}")
    if args.out is not None:
        write_measured(args.out, runs, background, args.rounds)
        print(f"\nwritten to {args.out} (the capacity model's inputs: bench/capacity/model.py reads it)")


def write_measured(path: Path, runs: dict[str, list[Measured]], background: dict[str, float], rounds: int) -> None:
    """The figures the capacity model reads (bench/capacity/model.py COSTS): per step and worker setting, the calls
    and entities of each table and the median CPU ms; the background CPU per call."""
    steps_out: dict[str, Any] = {}
    for name in runs["one worker"][0]:
        steps_out[name] = {
            label: {
                "tables": dict(sorted(rounds_[0][name][3].items())),
                "cpuMs": round(statistics.median(r[name][2] for r in rounds_), 2),
            }
            for label, rounds_ in runs.items()
        }
    measured = {
        "measuredBy": "python -m bench entra-trips --out bench/capacity/measured.json",
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "rounds": rounds,
        "loadAverage": [round(x, 1) for x in os.getloadavg()],
        "steps": steps_out,
        "backgroundCpuMs": {name: round(cpu, 2) for name, cpu in background.items()},
    }
    path.write_text(json.dumps(measured, indent=2) + "\n")


if __name__ == "__main__":
    main()
