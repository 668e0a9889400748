"""The token-bucket simulation behind bench/capacity/report.py:
tenants replayed request by request through Azure's limits.

Tenants are replayed in cohorts: each cohort is one representative tenant whose requests are executed one by
one (the instance each lands on is drawn at random, so stale counter rows, registry merges, activity
transactions and token/tenant cache misses are counted, not assumed), and its usage is multiplied by the
cohort's size. Instances are full when their CPU fills a core each or their requests in flight reach the
concurrency, whichever comes first. Every other limit is a token bucket refilled each tick: Entra's rate per
tenant, each tenant's two partitions and two counter rows, and the shared ones (the account, the two `~changes`
registry partitions, the changes queue, Key Vault, ingress). A tenant gets what the scarcest bucket that reaches
its requests allows (HOLDS_BACK: not the registry partitions nor the queue, written after the answer); what it
cannot send waits, as Entra retries.
Stdlib only; seeded.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from bench.capacity.model import (
    ACTIVITY_WRITE_CPU_MS,
    BYTES_PER_ENTITY,
    BYTES_PER_MESSAGE,
    COSTS,
    PER_TENANT,
    QUEUE_MESSAGE_CPU_MS,
    REGISTRY_CALL_CPU_MS,
    SHARED,
    SWEEP_CALLS_PER_TENANT,
    SWEEP_PERIOD_S,
    TENANT_CACHE_S,
    TENANT_READ_CPU_MS,
    TOKEN_CACHE_S,
    TOKEN_VALUE_CACHE_S,
    Latency,
    Limits,
    Phase,
    counter_ceiling,
    instances_needed,
    per_request,
    sweep_calls,
)

LIMITS = (*SHARED, "sweep", *PER_TENANT)
HOLDS_BACK = ("account", "vault", "ingress")
"""Shared limits whose refusals reach Entra's requests (a table call or a token read answered 503). The registry
partitions and the changes queue are written after the answer: what they refuse, the sweep delivers later."""


class Bucket:
    """A token bucket: ``rate`` tokens a second, holding at most ``burst`` seconds' worth (Key Vault counts its
    limit over 10 s; the storage targets are per second)."""

    def __init__(self, rate: float, burst: float = 1.0) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = rate * burst

    def refill(self, dt: float) -> None:
        # One token more than the burst, so that the fraction of a request a tick leaves over is not lost.
        self.tokens = min(self.rate * max(dt, self.burst) + 1.0, self.tokens + self.rate * dt)

    def allows(self, wanted: float) -> float:
        """The fraction of ``wanted`` the tokens cover (1.0 when they cover it all)."""
        return 1.0 if wanted <= self.tokens else max(0.0, self.tokens) / wanted

    def take(self, amount: float) -> None:
        self.tokens -= amount


Mark = tuple[str, int, int]
"""(table, instance, second): an instance that committed for a tenant in that second."""
Served = tuple[int, int]
"""(instance, second): an instance that served the tenant in that second writes one activity transaction."""
Vectors = tuple[tuple[tuple[str, float], ...], tuple[tuple[str, float], ...], tuple[str, ...]]


def op_vectors(op: str, lat: Latency) -> Vectors:
    """What one request of ``op`` adds to each resource; what a stale counter row adds; the tables it commits to."""
    c = COSTS[op]
    base = {
        "requests": 1.0,
        "busy": c.busy_s(lat),
        "cpu": (c.cpu_ms + c.records * QUEUE_MESSAGE_CPU_MS) / 1000,
        "account": float(c.calls + c.records),
        "partition_u": float(c.entities_u),
        "partition_g": float(c.entities_g),
        "counter_u": float(c.commits_u),
        "counter_g": float(c.commits_g),
        "queue": float(c.records),
        "ingress": float(c.written * BYTES_PER_ENTITY + c.records * BYTES_PER_MESSAGE),
    }
    stale = {
        "busy": c.stale_busy_s(lat),
        "cpu": c.stale_cpu_ms / 1000,
        "account": float(c.stale_reads + c.stale_txs),
        "partition_u": float(c.stale_entities_u),
        "partition_g": float(c.stale_entities_g),
    }
    tables = tuple(t for t, n in (("u", c.commits_u), ("g", c.commits_g)) if n)
    return tuple(base.items()), tuple((k, v) for k, v in stale.items() if v), tables


def script(phases: list[Phase]) -> Iterator[str]:
    """A tenant's requests in order: per unit of each phase, its mix's operations (fractions carried over)."""
    for phase in phases:
        owed = dict.fromkeys(phase.mix, 0.0)
        for _ in range(phase.units):
            for op, per_unit in phase.mix.items():
                owed[op] += per_unit
                while owed[op] >= 1.0 - 1e-9:
                    owed[op] -= 1.0
                    yield op


@dataclass
class Cohort:
    """``count`` identical tenants, replayed through one representative."""

    count: float
    start: float
    requests: Iterator[str]
    segments: list[tuple[int, float]]
    """(requests sent before the segment ends, Entra's rate in it): the pace can differ by phase."""
    rng: random.Random
    entra: Bucket = field(init=False)
    partition_u: Bucket = field(init=False)
    partition_g: Bucket = field(init=False)
    counter_u: Bucket = field(init=False)
    counter_g: Bucket = field(init=False)
    sent: int = 0
    carry: float = 0.0
    """Requests granted but not yet whole (a tenant at one request a minute gets a thirtieth every 2 s)."""
    done_at: float | None = None
    per_request: dict[str, float] = field(default_factory=dict)
    """The last tick's use of each resource per request: the estimate for the next tick's demand."""
    last_writer: dict[str, int] = field(default_factory=dict)
    last_marker: dict[str, int] = field(default_factory=dict)
    tenant_seen: dict[int, float] = field(default_factory=dict)
    token_listed: dict[int, float] = field(default_factory=dict)
    token_values: dict[int, float] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return self.segments[-1][0]

    def rate_now(self) -> float:
        return next(rate for end, rate in self.segments if self.sent < end or end == self.total)

    def next_op(self) -> str | None:
        return next(self.requests, None)

    def share_caches(self, other: Cohort) -> None:
        """The same tenants in a later cycle: the workers' caches carry over."""
        self.tenant_seen, self.token_listed, self.token_values = (
            other.tenant_seen,
            other.token_listed,
            other.token_values,
        )


class Simulation:
    """The tick loop: per-tenant buckets, then the shared ones, then the representatives' requests one by one."""

    def __init__(self, limits: Limits, lat: Latency, seed: int) -> None:
        self.limits, self.lat, self.rng = limits, lat, random.Random(seed)
        self.cohorts: list[Cohort] = []
        self.instances = 0.0
        shared = {
            "account": limits.account_capacity,
            "registry_u": limits.registry_capacity,
            "registry_g": limits.registry_capacity,
            "queue": limits.queue_capacity,
            "vault": limits.vault_capacity,
            "ingress": limits.ingress_capacity,
        }
        self.buckets = {name: Bucket(rate, 10.0 if name == "vault" else 1.0) for name, rate in shared.items()}
        self.offered: dict[str, list[float]] = {name: [] for name in LIMITS}
        """Per tick, the load each limit was asked for, as a fraction of it (per-tenant limits: the worst tenant)."""
        self.used: dict[str, list[float]] = {name: [] for name in LIMITS}
        """Per tick, the load each shared limit carried."""
        self.time = 0.0
        self.tenants: float | None = None
        """Tenants the changes sweep walks; None: those whose first cycle has started."""
        self.vectors = {op: op_vectors(op, lat) for op in COSTS}
        self.instance_count = 1
        self.enforce_storage = True
        """False: storage and Key Vault carry whatever instances send (to find where each would saturate alone)."""
        self.waiting: list[Cohort] = []
        self.active: list[Cohort] = []
        self.started_tenants = 0.0

    def add(self, count: float, start: float, phases: list[Phase], rates: list[float]) -> Cohort:
        """``count`` tenants starting at ``start``; Entra sends phase i at rates[i] requests a second."""
        segments, end = [], 0
        for phase, rate in zip(phases, rates, strict=True):
            end += sum(math.floor(phase.units * per_unit + 1e-9) for per_unit in phase.mix.values())
            segments.append((end, rate))
        cohort = Cohort(count, start, script(phases), segments, random.Random(self.rng.random()))
        cohort.entra = Bucket(rates[0])
        ceiling = counter_ceiling(1.0, self.lat)
        cohort.partition_u = Bucket(self.limits.partition_entities_per_s)
        cohort.partition_g = Bucket(self.limits.partition_entities_per_s)
        cohort.counter_u = Bucket(ceiling)
        cohort.counter_g = Bucket(ceiling)
        mix = phases[0].mix
        estimate = per_request(mix, 1.0, self.lat)
        cohort.per_request = {
            "busy": estimate.service_s,
            "cpu": estimate.cpu_s,
            "partition_u": estimate.entities_u,
            "partition_g": estimate.entities_g,
            "counter_u": estimate.commits_u,
            "counter_g": estimate.commits_g,
        }
        self.cohorts.append(cohort)
        return cohort

    # -- one request of a representative tenant ----------------------------------------------------

    def execute(
        self,
        cohort: Cohort,
        op: str,
        now: float,
        usage: defaultdict[str, float],
        marks: set[Mark],
        served: set[Served],
    ) -> None:
        """One request: which instance serves it, whether it meets a stale counter row (only a write of another
        instance makes it stale: writers in one worker take turns), which caches miss.
        (What every request of ``op`` costs is added per tick, from the counts.)"""
        _base, stale, tables = self.vectors[op]
        instance = int(cohort.rng.random() * self.instance_count)
        served.add((instance, int(now)))
        for table in tables:
            if cohort.last_writer.get(table, instance) != instance:  # someone else moved the counter row
                for key, amount in stale:
                    usage[key] += amount
            cohort.last_writer[table] = instance
            marks.add((table, instance, int(now)))
        if now - cohort.tenant_seen.get(instance, -math.inf) >= TENANT_CACHE_S:
            cohort.tenant_seen[instance] = now
            usage["account"] += 1
            usage["cpu"] += TENANT_READ_CPU_MS / 1000
        if now - cohort.token_listed.get(instance, -math.inf) >= TOKEN_CACHE_S:
            cohort.token_listed[instance] = now
            usage["vault"] += self.limits.legacy_rows  # only rows without verifiers list the token versions
        if now - cohort.token_values.get(instance, -math.inf) >= TOKEN_VALUE_CACHE_S:
            cohort.token_values[instance] = now
            usage["vault"] += 2 * self.limits.legacy_rows

    def mark(self, cohort: Cohort, marks: set[Mark], served: set[Served], usage: dict[str, float]) -> None:
        """Each instance that committed for the tenant in a second merges its registry row once (1 call, or 3
        when another instance merged last: the conditional merge fails, the row is read, the merge is sent); each
        instance that served the tenant in a second writes its activity once (the recorder gathers for 1 s)."""
        for table, instance, _second in sorted(marks, key=lambda m: (m[2], m[0], m[1])):
            stale = cohort.last_marker.get(table, instance) != instance
            cohort.last_marker[table] = instance
            calls = 3 if stale else 1
            usage[f"registry_{table}"] += calls
            usage["account"] += calls
            usage["cpu"] += calls * REGISTRY_CALL_CPU_MS / 1000
        usage["account"] += len(served)
        usage["cpu"] += len(served) * ACTIVITY_WRITE_CPU_MS / 1000

    # -- the tick ------------------------------------------------------------------------------------

    def tick(self, dt: float) -> None:
        now = self.time
        while self.waiting and self.waiting[-1].start <= now:
            self.active.append(self.waiting.pop())
            self.started_tenants += self.active[-1].count
        self.active = [c for c in self.active if c.done_at is None]
        started = self.active
        paced: dict[int, float] = {}
        worst = dict.fromkeys(PER_TENANT, 0.0)
        for c in started:
            c.entra.rate = c.rate_now()
            c.entra.refill(dt)
            est, fraction = c.per_request, 1.0
            # Entra sends at its pace (what throttling held back waits in its bucket, up to a second's worth).
            pace = max(0.0, min(c.entra.tokens, c.entra.rate * dt, c.total - c.sent - c.carry))
            for name in PER_TENANT:
                bucket: Bucket = getattr(c, name)
                bucket.refill(dt)
                fraction = min(fraction, bucket.allows(pace * est.get(name, 0.0)))
                worst[name] = max(worst[name], pace * est.get(name, 0.0) / (bucket.rate * dt))
            paced[id(c)] = pace * fraction
        if started:
            for name, ratio in worst.items():
                self.offered[name].append(ratio)
        # Instances follow the offered load (a core's CPU each, or the concurrency's requests in flight by
        # Little's law), adding at most scale_out_per_s a second.
        cpu = sum(c.count * paced[id(c)] * c.per_request.get("cpu", 0.0) for c in started) / dt
        slots = sum(c.count * paced[id(c)] * c.per_request.get("busy", 0.0) for c in started) / dt
        needed = instances_needed(cpu, slots, self.limits)
        ramp = self.instances + self.limits.scale_out_per_s * dt
        self.instances = max(1.0, min(float(self.limits.max_instances), ramp, math.ceil(needed)))
        self.offered["instances"].append(needed / self.limits.max_instances)
        busy_capacity = self.instances * dt
        offered = {
            name: sum(c.count * paced[id(c)] * c.per_request.get(name, 0.0) for c in started) for name in self.buckets
        }
        tenants = self.tenants if self.tenants is not None else self.started_tenants
        sweeping = sweep_calls(tenants, self.lat) * dt
        offered["account"] += sweeping
        sweep = tenants * SWEEP_CALLS_PER_TENANT * self.lat.read_s / SWEEP_PERIOD_S
        self.offered["sweep"].append(sweep)
        self.used["sweep"].append(min(1.0, sweep))
        by_instances = 1.0 if needed * dt <= busy_capacity else busy_capacity / (needed * dt)
        factor = by_instances
        for name, bucket in self.buckets.items():
            bucket.refill(dt)
            if self.enforce_storage and name in HOLDS_BACK:
                factor = min(factor, bucket.allows(offered[name]))
        self.instance_count = max(1, math.ceil(self.instances))
        total: defaultdict[str, float] = defaultdict(float, {"account": sweeping})
        for c in started:
            grant = paced[id(c)] * factor
            c.entra.take(grant)  # what is not granted stays in Entra's bucket, to be sent later
            c.carry += grant
            n = int(c.carry + 1e-9)
            c.carry -= n
            usage: defaultdict[str, float] = defaultdict(float)
            marks: set[Mark] = set()
            served: set[Served] = set()
            ops: defaultdict[str, int] = defaultdict(int)
            for _ in range(n):
                op = c.next_op()
                if op is None:
                    break
                ops[op] += 1
                self.execute(c, op, now + c.rng.random() * dt, usage, marks, served)
                c.sent += 1
            for op, count in ops.items():
                for key, amount in self.vectors[op][0]:
                    usage[key] += amount * count
            self.mark(c, marks, served, usage)
            executed = usage["requests"]
            for name in PER_TENANT:
                getattr(c, name).take(usage[name])
            if executed:
                c.per_request = {k: v / executed for k, v in usage.items()}
            for key, value in usage.items():
                total[key] += value * c.count
            if c.sent >= c.total:
                c.done_at = now + dt
        # Offered to storage: what ran, scaled up by what the storage buckets held back (not what instances did:
        # storage never sees requests no instance could take). Used: what ran.
        unthrottled = by_instances / factor if factor > 0 else 1.0
        for name, bucket in self.buckets.items():
            bucket.take(total[name])
            self.used[name].append(total[name] / (bucket.rate * dt))
            self.offered[name].append(self.used[name][-1] * unthrottled)
        full = instances_needed(total["cpu"], total["busy"], self.limits)
        self.used["instances"].append(full / (self.limits.max_instances * dt))
        self.time += dt

    def run(self, until: float, dt: float) -> None:
        self.waiting = sorted(self.cohorts, key=lambda c: c.start, reverse=True)
        self.active, self.started_tenants = [], 0.0
        while self.time < until and (self.waiting or any(c.done_at is None for c in self.active)):
            self.tick(dt)

    def busiest_minute(self, name: str, dt: float, used: bool = False) -> float:
        """The load of ``name`` (offered, or carried) over its busiest minute, as a fraction of the limit."""
        values = (self.used if used else self.offered)[name]
        width = max(1, round(60 / dt))
        if len(values) < width:
            return sum(values) / max(1, len(values))
        window = sum(values[:width])
        best = window
        for i in range(width, len(values)):
            window += values[i] - values[i - width]
            best = max(best, window)
        return best / width
