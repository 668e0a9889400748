"""The load of bench/compare/run.py: Entra's requests for new users, from worker threads over keep-alive connections.

Per user, in Entra's order (HOW-IT-WORKS in /work/shared/entra-behaviour.md): the matching filter (a miss),
POST, GET by the returned id, then two PATCHes: an attribute update (with paths in Entra's default dialect,
or path-less in its `aadOptscim062020` dialect) and one of disable (`"False"` as a string, or `false`) and
manager add (a bare id). Only the standard library here: the same client runs against both servers.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
WORK_EMAIL = 'emails[type eq "work"].value'
OPERATIONS = ("filter miss", "POST /Users", "GET /Users/{id}", "PATCH /Users/{id}")
CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


# -- measurement ---------------------------------------------------------------------------------------------


def stat_cpu_seconds(stat: str, ticks_per_second: int = CLK_TCK) -> float:
    """utime + stime of a /proc/<pid>/stat line, in seconds: every thread of the process, not its children."""
    # The command name (field 2) is in parentheses and may hold spaces or ')': split after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / ticks_per_second  # fields 14 and 15 of proc(5)


def process_cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
        return stat_cpu_seconds(stat.read())


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) of the values, interpolated linearly between closest ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


# -- what is sent ----------------------------------------------------------------------------------------------


def user_body(name: str) -> dict[str, Any]:
    """Entra's create request (SCIM-TUTORIAL, tests/fixtures/entra/create_user_tutorial.json), for one name."""
    return {
        "schemas": [USER, ENTERPRISE],
        "externalId": f"ext-{name}",
        "userName": name,
        "active": True,
        "emails": [{"primary": True, "type": "work", "value": name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "Given Family", "familyName": "Family", "givenName": "Given"},
        "roles": [],
    }


def _patch(*ops: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_OP], "Operations": list(ops)}


@dataclass(frozen=True)
class PatchShape:
    """One of Entra's PATCH shapes, and the closest shape to send instead where a server refuses it."""

    name: str
    entra: Callable[[str, str], dict[str, Any]]
    fallback: Callable[[str, str], dict[str, Any]] | None = None
    fallback_note: str = ""


SHAPES = {
    shape.name: shape
    for shape in (
        PatchShape(
            "replace with paths",
            lambda name, manager: _patch(
                {"op": "Replace", "path": "displayName", "value": f"Renamed {name}"},
                {"op": "Replace", "path": "name.givenName", "value": "Renamed"},
                {"op": "Replace", "path": WORK_EMAIL, "value": f"moved-{name}"},
            ),
        ),
        PatchShape(
            "path-less replace",
            lambda name, manager: _patch(
                {
                    "op": "replace",
                    "value": {
                        WORK_EMAIL: f"moved-{name}",
                        "displayName": f"Moved {name}",
                        "name.familyName": "Moved",
                        f"{ENTERPRISE}:employeeNumber": "2002",
                    },
                }
            ),
            lambda name, manager: _patch(
                {"op": "replace", "path": WORK_EMAIL, "value": f"moved-{name}"},
                {
                    "op": "replace",
                    "value": {
                        "displayName": f"Moved {name}",
                        "name.familyName": "Moved",
                        f"{ENTERPRISE}:employeeNumber": "2002",
                    },
                },
            ),
            "the value-path key moved to an op with a path (patch_multi_attribute_flag_dialect.json)",
        ),
        PatchShape(
            'active "False"', lambda name, manager: _patch({"op": "Replace", "path": "active", "value": "False"})
        ),
        PatchShape("active false", lambda name, manager: _patch({"op": "replace", "path": "active", "value": False})),
        PatchShape(
            "manager add",
            lambda name, manager: _patch({"op": "Add", "path": f"{ENTERPRISE}:manager", "value": manager}),
            lambda name, manager: _patch({"op": "Add", "path": f"{ENTERPRISE}:manager", "value": {"value": manager}}),
            'the manager as {"value": id} instead of a bare id',
        ),
    )
}
UPDATES = ("replace with paths", "path-less replace")
SECOND = ('active "False"', "manager add", "active false")


def patch_plan(k: int) -> tuple[str, str]:
    """The two PATCH shapes for a worker's k-th user; 'manager add' names the worker's first user as manager."""
    return UPDATES[k % len(UPDATES)], SECOND[k % len(SECOND)]


# -- sending ---------------------------------------------------------------------------------------------------


@dataclass
class Target:
    """One server under test: where its /Users are, its token, and (once started) its process id."""

    name: str
    port: int
    users_path: str
    token: str
    host: str = "127.0.0.1"
    pid: int = 0


@dataclass
class PhaseResult:
    latencies: dict[str, list[float]] = field(default_factory=lambda: {op: [] for op in OPERATIONS})
    shape_latencies: dict[str, list[float]] = field(default_factory=dict)
    unexpected: Counter[tuple[str, int]] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def operations(self) -> int:
        return sum(len(v) for v in self.latencies.values())

    def merge(self, other: PhaseResult) -> None:
        for op, values in other.latencies.items():
            self.latencies[op] += values
        for shape, values in other.shape_latencies.items():
            self.shape_latencies.setdefault(shape, []).extend(values)
        self.unexpected += other.unexpected
        self.seconds += other.seconds


class Connection:
    """One keep-alive connection (http.client reconnects by itself after a server closes one)."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.conn = http.client.HTTPConnection(target.host, target.port, timeout=60)
        self.get_headers = {"Authorization": f"Bearer {target.token}"}
        self.body_headers = {**self.get_headers, "Content-Type": "application/scim+json"}

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, bytes, float]:
        data = json.dumps(body).encode() if body is not None else None
        started = time.perf_counter()
        try:
            self.conn.request(method, path, data, self.body_headers if data is not None else self.get_headers)
            response = self.conn.getresponse()
            payload = response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            return 0, b"", time.perf_counter() - started
        return response.status, payload, time.perf_counter() - started

    def close(self) -> None:
        self.conn.close()


def filter_path(target: Target, user_name: str) -> str:
    expression = 'userName eq "' + user_name + '"'
    return f"{target.users_path}?{urlencode({'filter': expression})}"


def provision(conn: Connection, names: list[str], shapes: dict[str, bool], result: PhaseResult) -> None:
    """Entra's requests for each new user, in order; shapes tells which PATCH shapes go as their fallback."""
    target = conn.target
    manager = ""

    def record(op: str, expected: tuple[int, ...], status: int, seconds: float) -> None:
        result.latencies[op].append(seconds)
        if status not in expected:
            result.unexpected[(op, status)] += 1

    for k, name in enumerate(names):
        status, _, seconds = conn.call("GET", filter_path(target, name))
        record("filter miss", (200,), status, seconds)
        status, payload, seconds = conn.call("POST", target.users_path, user_body(name))
        record("POST /Users", (201,), status, seconds)
        if status != 201:
            continue
        user_id = json.loads(payload)["id"]
        manager = manager or user_id
        status, _, seconds = conn.call("GET", f"{target.users_path}/{user_id}")
        record("GET /Users/{id}", (200,), status, seconds)
        for shape_name in patch_plan(k):
            shape = SHAPES[shape_name]
            build = shape.fallback if shapes.get(shape_name) and shape.fallback else shape.entra
            status, _, seconds = conn.call("PATCH", f"{target.users_path}/{user_id}", build(name, manager))
            record("PATCH /Users/{id}", (200, 204), status, seconds)
            result.shape_latencies.setdefault(shape_name, []).append(seconds)


def run_phase(target: Target, names: list[str], threads: int, shapes: dict[str, bool]) -> PhaseResult:
    """The users split over `threads` workers, one keep-alive connection each, all started together."""
    connections = [Connection(target) for _ in range(threads)]
    results = [PhaseResult() for _ in range(threads)]
    start = threading.Barrier(threads + 1)

    def work(n: int) -> None:
        start.wait()
        provision(connections[n], names[n::threads], shapes, results[n])

    workers = [threading.Thread(target=work, args=(n,), daemon=True) for n in range(threads)]
    for worker in workers:
        worker.start()
    start.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    total = PhaseResult(seconds=time.perf_counter() - started)
    for result in results:
        total.merge(result)
    for conn in connections:
        conn.close()
    return total


def probe_shapes(targets: list[Target], tag: str) -> tuple[dict[str, bool], list[str]]:
    """Send each of Entra's PATCH shapes once to each server: shapes a server refuses go as their fallback.

    Returns {shape: use fallback} and one note per refusal; raises if a server refuses a shape outright.
    """
    use_fallback: dict[str, bool] = {}
    notes: list[str] = []
    for target in targets:
        conn = Connection(target)
        ids = []
        for n in range(2):
            status, payload, _ = conn.call("POST", target.users_path, user_body(f"probe{n}-{tag}@contoso.com"))
            if status != 201:
                raise RuntimeError(f"{target.name} refused Entra's create request: {status} {payload[:300]!r}")
            ids.append(json.loads(payload)["id"])
        for shape in SHAPES.values():
            status, payload, _ = conn.call("PATCH", f"{target.users_path}/{ids[0]}", shape.entra("probe", ids[1]))
            if status in (200, 204):
                continue
            if shape.fallback is None:
                raise RuntimeError(f"{target.name} refused PATCH '{shape.name}': {status} {payload[:300]!r}")
            status2, payload2, _ = conn.call("PATCH", f"{target.users_path}/{ids[0]}", shape.fallback("probe", ids[1]))
            if status2 not in (200, 204):
                raise RuntimeError(f"{target.name} refused the fallback of '{shape.name}': {payload2[:300]!r}")
            use_fallback[shape.name] = True
            detail = json.loads(payload or b"{}").get("detail", "")
            notes.append(
                f"{target.name} refused PATCH '{shape.name}' ({status}: {str(detail).splitlines()[0][:90]}); "
                f"both servers get {shape.fallback_note}"
            )
        conn.close()
    return use_fallback, notes
