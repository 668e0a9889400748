"""The plain-text report of bench/compare/run.py: ratios us / scim2-server next to the goals of issue #23."""

from __future__ import annotations

import argparse
import statistics
import textwrap
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bench.compare.load import OPERATIONS, SHAPES, PhaseResult, percentile

GOALS: dict[str, dict[str, tuple[float, str]]] = {
    "memory": {"throughput": (1.0, ">="), "CPU/op, in-memory stores": (1.0, "<="), "cold": (1.0, "<=")},
    "azurite": {
        "throughput": (0.6, ">="),
        "CPU/op, server incl. storage client": (2.0, "<="),
        "cold": (1.0, "<="),
        "writers": (2.0, "<="),
    },
}
"""Issue #23's goals per store; a ratio without a goal here is printed for reference."""
NAMES = {
    "throughput": "throughput (ops/s)",
    "cold": "cold start (median)",
    "writers": "POST p50, 8 writers on one tenant / 1",
}
LOGGED = {"GET users": "filter miss", "POST users": "POST /Users", "GET user": "GET /Users/{id}"}
"""Our request lines' method and operation, for the load's operations (PATCH user: every PATCH)."""


def verdict(ratio: float, goal: tuple[float, str]) -> str:
    value, sense = goal
    met = ratio >= value if sense == ">=" else ratio <= value
    return f"{sense} {value:<4}  {'met' if met else 'NOT met'}"


def storage_share(
    tally: Any, calibration: dict[str, Any], shapes: dict[str, bool], write_cost: str
) -> tuple[float, float, float]:
    """(reads, writes, CPU seconds) of the storage client per operation of our load, from the calibration."""
    trips = calibration["round_trips"]
    cpu = calibration["cpu_per_call"]
    reads = writes = 0.0
    for op in OPERATIONS[:3]:
        n = len(tally.result.latencies[op])
        reads += n * trips[op][0]
        writes += n * trips[op][1]
    for shape, values in tally.result.shape_latencies.items():
        key = f"PATCH {shape}" + (" (fallback)" if shapes.get(shape) else "")
        reads += len(values) * trips[key][0]
        writes += len(values) * trips[key][1]
    ops = tally.result.operations
    return reads / ops, writes / ops, (reads * cpu["get_entity"] + writes * cpu[write_cost]) / ops


def observed_calls(tally: Any, storage_calls: dict[str, list[int]]) -> float | None:
    """Storage calls per operation of the timed load, from the mean calls of each kind in our request lines."""
    if not storage_calls:
        return None
    total = 0.0
    for logged, values in storage_calls.items():
        op = LOGGED.get(logged, "PATCH /Users/{id}" if logged == "PATCH user" else None)
        if op is not None:
            total += len(tally.result.latencies[op]) * sum(values) / len(values)
    return float(total / tally.result.operations)


@dataclass
class Writers:
    """One tenant's writers: the same load from one writer, then from `count` at once, on our one tenant."""

    count: int
    single: PhaseResult
    many: PhaseResult

    def ratio(self) -> float:
        op = "POST /Users"
        return percentile(self.many.latencies[op], 50) / percentile(self.single.latencies[op], 50)


@dataclass
class Report:
    started: datetime
    command: str
    machine: str
    python: str
    reference: str
    args: argparse.Namespace
    store: str = "azurite"
    writers: Writers | None = None
    load_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    calibration: dict[str, Any] = field(default_factory=dict)
    shape_notes: list[str] = field(default_factory=list)
    shapes: dict[str, bool] = field(default_factory=dict)
    tallies: dict[str, Any] = field(default_factory=dict)
    storage_calls: dict[str, list[int]] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)

    def out(self, text: str = "") -> None:
        self.lines.append(text.rstrip())

    def print(self, us: str, them: str) -> None:
        a, b = self.tallies[us], self.tallies[them]
        self.header(us, them)
        ratios = {"throughput": self.throughput(a, b, us, them)}
        self.latency(a, b, us, them)
        ratios.update(self.cpu(a, b, us, them))
        ratios["cold"] = self.cold(a, b, us, them)
        if self.writers is not None:
            ratios["writers"] = self.one_tenant_writers(self.writers)
        self.calls()
        self.out()
        self.out(f"{'goals (us / scim2-server), ours on ' + self.store:<44}{'ratio':>8}   goal (issue 23)")
        for key, ratio in ratios.items():
            goal = GOALS[self.store].get(key)
            self.out(f"{NAMES.get(key, key):<44}{ratio:>8.2f}   {verdict(ratio, goal) if goal else '(no goal)'}")
        print("\n".join(self.lines), flush=True)

    def one_tenant_writers(self, writers: Writers) -> float:
        self.out()
        self.out(f"{'one tenant, ours: POST /Users latency, ms':<44}{'p50':>8}{'p99':>8}{'ops/s':>8}{'POSTs':>8}")
        for label, result in (("1 writer", writers.single), (f"{writers.count} writers at once", writers.many)):
            posts = result.latencies["POST /Users"]
            self.out(
                f"{label:<44}{percentile(posts, 50) * 1e3:>8.1f}{percentile(posts, 99) * 1e3:>8.1f}"
                f"{result.operations / result.seconds:>8.0f}{len(posts):>8}"
            )
        return writers.ratio()

    def header(self, us: str, them: str) -> None:
        args = self.args
        order = ", ".join(f"round {r + 1}: {us if r % 2 == 0 else them} first" for r in range(min(args.rounds, 2)))
        front = (
            "its application behind bench/compare/scim2_host.py: ThreadingHTTPServer, HTTP/1.1 keep-alive, "
            "no access log"
            if args.scim2_front == "keepalive"
            else "the `scim2-server` command as shipped: wsgiref, HTTP/1.0 (a connection a request), access log"
        )
        load = ", ".join(f"{x:.2f}" for x in self.load_before), ", ".join(f"{x:.2f}" for x in self.load_after)
        self.out("bench/compare/run.py: our host and scim2-server, the same Entra load, alternating phases, one run")
        self.field("date", f"{self.started:%Y-%m-%d %H:%M} UTC")
        self.field("machine", f"{self.machine}; load average (1/5/15 min) {load[0]} at start, {load[1]} at end")
        self.field("python", f"{self.python}; reference {self.reference}")
        self.field("command", self.command)
        self.field(
            "load",
            f"{args.rounds} rounds x {args.users} new users x 5 requests a server; {args.threads} thread(s) with "
            f"keep-alive connections; {args.warmup} users of warm-up first; {order}",
        )
        self.field(
            "requests",
            "filter miss, POST (Entra's create body), GET by id, then 2 PATCHes a user: one of replace with paths | "
            'path-less replace, one of active "False" | manager add | active false',
        )
        store = (
            "Azurite tables in memory"
            if self.store == "azurite"
            else "scim.store.MemoryStorage in our own process (devhost.serve --memory-store), no Azurite"
        )
        self.field("store", f"ours on {self.store}: {store}")
        self.field(
            "us",
            f"devhost.serve: ThreadingHTTPServer, HTTP/1.1 keep-alive; {store}; no changes queue "
            f"(scim2-server has none); log level {args.our_log_level} (INFO as in Azure: a JSON line a request, "
            "from which the storage calls below are read)",
        )
        self.field("scim2", f"in-memory storage, bearer token; {front}")
        for note in self.shape_notes or ["both servers accepted every Entra shape as sent"]:
            self.field("shapes", note)
        for name, tally in self.tallies.items():
            for (op, status), n in sorted(tally.result.unexpected.items()):
                self.out(f"UNEXPECTED  {name}: {op} answered {status or 'no answer'} {n} times")

    def field(self, label: str, text: str) -> None:
        """One header field, wrapped under its label at 120 columns."""
        for n, line in enumerate(textwrap.wrap(text, width=108, break_on_hyphens=False)):
            self.out(f"{label if n == 0 else '':<12}{line}")

    def throughput(self, a: Any, b: Any, us: str, them: str) -> float:
        rate_a, rate_b = a.result.operations / a.result.seconds, b.result.operations / b.result.seconds
        self.out()
        self.out(f"{'':<36}{us:>12}{them:>14}{'us/scim2':>10}")
        self.out(f"{'timed operations':<36}{a.result.operations:>12}{b.result.operations:>14}")
        self.out(f"{'throughput, ops/s (all rounds)':<36}{rate_a:>12.1f}{rate_b:>14.1f}{rate_a / rate_b:>10.2f}")
        spread = ["/".join(f"{rate:.0f}" for rate in t.round_rates) for t in (a, b)]
        self.out(f"{'  per round, in order':<36}{spread[0]:>12}{spread[1]:>14}")
        return rate_a / rate_b

    def latency(self, a: Any, b: Any, us: str, them: str) -> None:
        self.out()
        self.out(f"{'latency, ms':<36}{'p50':>8}{'p99':>8}{'p50':>10}{'p99':>8}{'p50 us/scim2':>14}")
        self.out(f"{'':<36}{us:>16}{them:>18}")
        rows = [(op, a.result.latencies[op], b.result.latencies[op]) for op in OPERATIONS]
        rows += [(f"  {s}", a.result.shape_latencies.get(s, []), b.result.shape_latencies.get(s, [])) for s in SHAPES]
        for name, xs, ys in rows:
            if not xs or not ys:
                continue
            pa, pb = percentile(xs, 50) * 1000, percentile(ys, 50) * 1000
            self.out(
                f"{name:<36}{pa:>8.1f}{percentile(xs, 99) * 1000:>8.1f}"
                f"{pb:>10.1f}{percentile(ys, 99) * 1000:>8.1f}{pa / pb:>14.2f}"
            )

    def cpu(self, a: Any, b: Any, us: str, them: str) -> dict[str, float]:
        """CPU per operation; the ratios of ours without the storage client's share, per way of counting trips."""
        if not self.calibration:
            return self.cpu_in_memory(a, b, us, them)
        cal, cpu, trips = self.calibration, self.calibration["cpu_per_call"], self.calibration["round_trips"]
        ops_a, ops_b = a.result.operations, b.result.operations
        server_a, server_b = a.server_cpu / ops_a, b.server_cpu / ops_b
        reads, writes, share = storage_share(a, cal, self.shapes, "submit_transaction(4)")
        shares = {f"{reads + writes:.1f} trips/op (calibrated)": share}
        observed = observed_calls(a, self.storage_calls)
        if observed is not None:
            shares[f"{observed:.1f} trips/op (observed)"] = (
                observed * (cpu["get_entity"] + cpu["submit_transaction(4)"]) / 2
            )
        self.out()
        self.out(f"{'CPU per operation, ms':<44}{us:>10}{them:>14}{'us/scim2':>10}")
        self.row("server process (all its threads)", server_a, server_b)
        ratios = {"CPU/op, server incl. storage client": server_a / server_b}
        for label, value in shares.items():
            self.row(f"  storage client, {label}", value, None)
            self.row("    server excl. that share", server_a - value, server_b)
            ratios[f"CPU/op excl. storage, {label.split(' (')[1][:-1]}"] = (server_a - value) / server_b
        self.row("Azurite (node), same phases", a.azurite_cpu / ops_a, b.azurite_cpu / ops_b, ratio=False)
        self.row("load client (this process)", a.client_cpu / ops_a, b.client_cpu / ops_b)
        patch = " | ".join(sorted({f"{v[0]}+{v[1]}" for k, v in trips.items() if k.startswith("PATCH")}))
        self.out(f"storage calibration, a fresh process, {self.args.calibration_calls} calls each, CPU per call:")
        self.out(
            f"  get_entity {cpu['get_entity'] * 1e3:.2f} ms, a 4-row submit_transaction (our writes' shape) "
            f"{cpu['submit_transaction(4)'] * 1e3:.2f} ms (create_entity {cpu['create_entity'] * 1e3:.2f} ms)"
        )
        self.out(
            "  our round trips one request at a time, reads+writes: filter miss {}+{}, POST {}+{}, GET by id {}+{}, "
            "PATCH {}".format(*trips["filter miss"], *trips["POST /Users"], *trips["GET /Users/{id}"], patch)
        )
        self.out(
            f"  calibrated share = {reads:.2f} reads x get_entity + {writes:.2f} writes x submit_transaction(4) per op"
        )
        if observed is not None:
            self.out("  observed share = storage calls in our request lines x mean(get_entity, submit_transaction(4))")
        return ratios

    def cpu_in_memory(self, a: Any, b: Any, us: str, them: str) -> dict[str, float]:
        """CPU per operation with both stores in the server's process: nothing to take out, one ratio."""
        ops_a, ops_b = a.result.operations, b.result.operations
        server_a, server_b = a.server_cpu / ops_a, b.server_cpu / ops_b
        self.out()
        self.out(f"{'CPU per operation, ms':<44}{us:>10}{them:>14}{'us/scim2':>10}")
        self.row("server process, its in-memory store incl.", server_a, server_b)
        self.row("load client (this process)", a.client_cpu / ops_a, b.client_cpu / ops_b)
        self.out("no Azurite and no storage client: both servers keep their data in their own process")
        return {"CPU/op, in-memory stores": server_a / server_b}

    def row(self, name: str, ours: float, theirs: float | None, ratio: bool = True) -> None:
        text = f"{name:<44}{ours * 1e3:>10.2f}"
        if theirs is not None:
            text += f"{theirs * 1e3:>14.2f}"
            if ratio and theirs > 0:
                text += f"{ours / theirs:>10.2f}"
        self.out(text)

    def calls(self) -> None:
        if not self.storage_calls:
            return
        self.out()
        self.out(f"{'our storage calls per request (its log)':<46}{'mean':>8}{'max':>8}{'requests':>10}")
        for name, values in sorted(self.storage_calls.items()):
            self.out(f"{name:<46}{statistics.mean(values):>8.2f}{max(values):>8}{len(values):>10}")

    def cold(self, a: Any, b: Any, us: str, them: str) -> float:
        self.out()
        self.out(f"{'cold start, ms (Popen to Test Connection 200)':<46}{'best':>8}{'median':>8}{'starts':>8}")
        for name, tally in ((us, a), (them, b)):
            self.out(
                f"{name:<46}{min(tally.cold) * 1e3:>8.0f}{statistics.median(tally.cold) * 1e3:>8.0f}"
                f"{len(tally.cold):>8}"
            )
        best = min(a.cold) / min(b.cold)
        median = statistics.median(a.cold) / statistics.median(b.cold)
        self.out(f"{'us/scim2':<46}{best:>8.2f}{median:>8.2f}")
        return median
