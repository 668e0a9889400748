"""The inputs of the capacity model and its paper form: Azure's limits, our storage calls per Entra request, the
workload of a tenant, and the tenant count at which each limit saturates, from rates alone (no time).

bench/capacity/report.py replays the same workload through token buckets over time and must agree with this.
Stdlib only. Every figure is documented in docs/performance.md, each limit with its source.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Limits:
    """Azure's published limits (docs/performance.md lists the page and the date each was read)."""

    partition_entities_per_s: float = 2_000.0  # Table Storage, one partition, 1 KiB entities
    account_requests_per_s: float = 20_000.0  # Table Storage / standard account (40,000 in some regions)
    queue_messages_per_s: float = 2_000.0  # Queue Storage, one queue, 1 KiB messages
    account_ingress_bytes_per_s: float = 25e9 / 8  # standard account, 25 Gbps (60 Gbps in some regions)
    vault_reads_per_s: float = 4_000 / 10  # Key Vault, secrets "all other transactions" per 10 s per vault
    vault_creates_per_s: float = 300 / 10  # Key Vault, secrets CREATE (a new version) per 10 s per vault
    instance_concurrency: int = 8  # our Bicep's httpConcurrency (perInstanceConcurrency, worker threads)
    instance_cores: float = 1.0  # a 2,048 MB Flex instance has one core (and one worker process: one GIL)
    max_instances: int = 40  # our Bicep default (SCIM_MAXIMUM_INSTANCE_COUNT); Flex allows up to 1,000
    scale_out_per_s: float = 1.0  # event-driven scaling: a new HTTP instance at most once a second
    entra_requests_per_s: float = 25.0  # Entra's per-tenant rate: the gallery requirement (no limiter otherwise)
    http_timeout_s: float = 230.0  # any HTTP-triggered function must answer within 230 s
    accounts: int = 1  # data storage accounts the tenants are spread over (helper accounts: N configurable)
    registry_partitions: int = 1  # partitions each table's `~changes` registry is spread over (helper perf-rows)
    vaults: int = 1  # Key Vaults the tenants' tokens are spread over (one today)
    legacy_rows: float = 0.0  # share of tenants whose row has no token verifiers (registered before them, not yet
    # reindexed): only their Secret Tokens are read from Key Vault on the request path

    @property
    def account_capacity(self) -> float:
        """Requests a second of all data accounts, tenants spread evenly over them."""
        return self.account_requests_per_s * self.accounts

    @property
    def queue_capacity(self) -> float:
        """Change messages a second: one changes queue per data account (docs/performance.md, several accounts)."""
        return self.queue_messages_per_s * self.accounts

    @property
    def registry_capacity(self) -> float:
        """Entities a second one table's registry takes, spread over its partitions by tenant."""
        return self.partition_entities_per_s * self.registry_partitions

    @property
    def vault_capacity(self) -> float:
        return self.vault_reads_per_s * self.vaults

    @property
    def ingress_capacity(self) -> float:
        return self.account_ingress_bytes_per_s * self.accounts


@dataclass(frozen=True)
class Latency:
    """Azure round trips: assumptions (Azurite-independent), stated in the doc. Our CPU is measured (Cost.cpu_ms)."""

    read_s: float = 0.010  # point read or one page of a query, same region
    tx_s: float = 0.020  # entity-group transaction (the brief's 10-30 ms; 20 ms midpoint)


POINT_READ_THREADS = 8
"""scim.store.reads.POINT_READ_THREADS: the point reads of one member check in flight at once."""


@dataclass(frozen=True)
class Cost:
    """Table Storage calls and CPU of one SCIM request, as measured by bench/entra_trips.py.

    The base figures are a worker whose cached counter-row ETag is current; ``stale_*`` is what a request
    adds when another worker wrote the tenant's counter row last (the first transaction fails, the row is
    read again, the transaction is sent again), which bench/entra_trips.py measures with two workers.
    ``reads`` are point reads one after another; ``checks`` the point reads of a member check, which go
    POINT_READ_THREADS at a time. Entities: written by transactions (``*_u`` in the tenant's Users partition,
    ``*_g`` in its Groups partition) or read. ``commits_*``: transactions that move that partition's counter row.
    ``cpu_ms``: our process's CPU for the request, the storage client's included.
    """

    reads: int = 0
    checks: int = 0
    queries: int = 0
    txs: int = 0
    cpu_ms: float = 0.0
    entities_u: int = 0
    entities_g: int = 0
    commits_u: int = 0
    commits_g: int = 0
    stale_reads: int = 0
    stale_txs: int = 0
    stale_cpu_ms: float = 0.0
    stale_entities_u: int = 0
    stale_entities_g: int = 0
    written: int = 0  # entities the successful transactions wrote (ingress)

    @property
    def records(self) -> int:
        """Change records written, each one queue message (a commit writes one record)."""
        return self.commits_u + self.commits_g

    @property
    def calls(self) -> int:
        """Table Storage calls with a current counter row."""
        return self.reads + self.checks + self.queries + self.txs

    def busy_s(self, lat: Latency) -> float:
        """Seconds the request holds one of an instance's concurrent slots: its CPU, then every round trip it waits
        for (a member check waits once per POINT_READ_THREADS reads). An upper bound: under the GIL the check's
        reads (about 3 ms of CPU each) run while the others wait, so their waits mostly hide behind their CPU."""
        waits = self.reads + math.ceil(self.checks / POINT_READ_THREADS) + self.queries
        return self.cpu_ms / 1000 + waits * lat.read_s + self.txs * lat.tx_s

    def stale_busy_s(self, lat: Latency) -> float:
        """What a stale counter row adds to busy_s: the failed transaction, the read, the second attempt."""
        return self.stale_cpu_ms / 1000 + self.stale_reads * lat.read_s + self.stale_txs * lat.tx_s


MEASURED = Path(__file__).with_name("measured.json")
"""What `python -m bench entra-trips --out bench/capacity/measured.json` measured: the model's per-request costs."""

STEPS = {
    "user_filter_miss": "user: filter miss",
    "user_post": "user: POST",
    "user_get": "user: GET by id",
    "user_patch": "user: PATCH manager",
    "group_filter_miss": "group: filter miss",
    "group_post": "group: POST",
    "group_add_100": "group: PATCH add 100 members",
    "user_filter_hit": "incr: user filter hit",
    "group_add_1": "incr: group PATCH add 1 member",
}
"""The model's operations, and the step of bench/entra_trips.py that measures each."""


def _cost(one: dict[str, Any], two: dict[str, Any]) -> Cost:
    """A Cost from one step's counts with one worker and with two (the difference is a stale counter row's)."""
    t1, t2 = Counter(one["tables"]), Counter(two["tables"])

    def both(kind: str, tables: Counter[str]) -> int:
        return int(tables[f"{kind} Users"] + tables[f"{kind} Groups"])

    def txs(tables: Counter[str]) -> int:
        return both("tx", tables) + both("write", tables)  # a single-entity write waits as long as a transaction

    return Cost(
        reads=both("read", t1),
        queries=both("query", t1),
        txs=txs(t1),
        cpu_ms=float(one["cpuMs"]),
        entities_u=int(t1["entities Users"]),
        entities_g=int(t1["entities Groups"]),
        commits_u=int(t1["commit Users"]),
        commits_g=int(t1["commit Groups"]),
        stale_reads=max(0, both("read", t2) - both("read", t1)),
        stale_txs=max(0, txs(t2) - txs(t1)),
        stale_cpu_ms=max(0.0, float(two["cpuMs"]) - float(one["cpuMs"])) if t2 != t1 else 0.0,
        stale_entities_u=max(0, int(t2["entities Users"] - t1["entities Users"])),
        stale_entities_g=max(0, int(t2["entities Groups"] - t1["entities Groups"])),
        written=int(t1["written Users"] + t1["written Groups"]),
    )


def costs_from(measured: dict[str, Any]) -> dict[str, Cost]:
    """The model's costs from bench/entra_trips.py's output (measured.json): nothing typed in by hand."""
    steps = measured["steps"]
    return {op: _cost(steps[step]["one worker"], steps[step]["two workers"]) for op, step in STEPS.items()}


def load_measured(path: Path = MEASURED) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise SystemExit(f"{path} is missing: run `python -m bench entra-trips --out {path}` first") from exc
    return data


_MEASURED = load_measured()
COSTS: dict[str, Cost] = costs_from(_MEASURED)
"""Storage calls, entities and CPU per request of Entra's cycle, as bench/entra_trips.py measured them."""

ACTIVITY_LINGER_S = 1.0
"""scim.platform.activity: the recorder gathers outcomes for up to a second, then writes one transaction per tenant
it gathered: a tenant costs each worker that served it at most about one activity transaction a second."""

# bench/entra_trips.py's background work of a request (CPU ms per call, medians; measured.json): what the instance's
# own threads spend after the answer, charged to it like the request's CPU.
_BACKGROUND = _MEASURED["backgroundCpuMs"]
QUEUE_MESSAGE_CPU_MS = float(_BACKGROUND["change message (queue)"])  # one change message sent (the publisher)
ACTIVITY_WRITE_CPU_MS = float(_BACKGROUND["activity transaction"])  # one activity transaction (the recorder)
REGISTRY_CALL_CPU_MS = float(_BACKGROUND["registry merge"])  # one call of a registry merge
TENANT_READ_CPU_MS = float(_BACKGROUND["point read (tenant row)"])  # the tenant's row, once per cache lifetime
TENANT_CACHE_S = 30.0  # SCIM_TENANT_CACHE_SECONDS: a tenant row read per worker per 30 s
TOKEN_CACHE_S = 300.0  # SCIM_TOKEN_CACHE_SECONDS: a Key Vault version listing per worker per 300 s
TOKEN_VALUE_CACHE_S = 3_600.0  # a version's value, kept an hour per worker: two GETs (two valid versions)
# Secret Tokens are checked against the verifiers in the tenant row (scim.auth), which every worker reads anyway:
# Key Vault is read by operator actions, and on the request path only for rows from before verifiers (legacy_rows).
ONBOARDING_VAULT_READS = 14  # a tenant's `tenant create` (2 listings) and setup link (listings and value reads)
ONBOARDING_VAULT_CREATES = 2  # its first token, and the setup link's (a rotation)
SWEEP_CALLS_PER_TENANT = 6  # per minute: per stream, the counter read, the records after the mark, the trim
SWEEP_PERIOD_S = 60.0
BYTES_PER_ENTITY = 1_024  # the targets assume 1 KiB entities; a user document is about that
BYTES_PER_MESSAGE = 1_536  # a change message carries the resource (Base64 adds a third)


@dataclass(frozen=True)
class Phase:
    """A stretch of a cycle with one mix of requests: ``mix`` maps an operation to requests per unit."""

    name: str
    units: int
    mix: dict[str, float]

    @property
    def requests(self) -> float:
        return self.units * sum(self.mix.values())


INITIAL_USER = {"user_filter_miss": 1, "user_post": 1, "user_get": 1, "user_patch": 1}
"""Entra per user in an initial cycle: match (no hit), create, read back, then the manager as a second write."""
INITIAL_GROUP = {"group_filter_miss": 1, "group_post": 1}
MEMBER_BATCH = 100
"""Members per group PATCH in the initial cycle (bench/groups.py's figure; entra-behaviour.md names none)."""


@dataclass(frozen=True)
class Churn:
    """Changes per day, as fractions of the tenant's users (the steady-state assumption of the doc)."""

    updated: float = 0.02  # attribute changes (title, department, manager...)
    joined: float = 0.003
    left: float = 0.003  # disabled (out of scope or blocked in Entra)
    membership: float = 0.01  # one member added or removed in some group
    cycles_per_day: float = 24 * 60 / 40


def group_sizes(users: int, seed: int) -> list[int]:
    """Groups of a tenant: one of everybody, and users/50 more whose sizes average 100 (exponential, seeded)."""
    import random

    rng = random.Random(seed)
    return [users] + [max(1, round(rng.expovariate(1 / 100))) for _ in range(users // 50)]


def initial_phases(users: int, seed: int = 0) -> list[Phase]:
    """An initial cycle: every user, then every group, then the members in PATCHes of MEMBER_BATCH."""
    sizes = group_sizes(users, seed)
    patches = sum(math.ceil(size / MEMBER_BATCH) for size in sizes)
    return [
        Phase("users", users, dict(INITIAL_USER)),
        Phase("groups", len(sizes), dict(INITIAL_GROUP)),
        Phase("members", patches, {"group_add_100": 1}),
    ]


def incremental_requests(users: int, churn: Churn) -> dict[str, float]:
    """Requests of one incremental cycle (mean counts): a change is matched by userName, then patched."""
    kinds = ("updated", "joined", "left", "membership")
    per_cycle = {name: users * getattr(churn, name) / churn.cycles_per_day for name in kinds}
    return {
        "user_filter_hit": per_cycle["updated"] + per_cycle["left"],
        "user_patch": per_cycle["updated"] + per_cycle["left"] + per_cycle["joined"],
        "user_filter_miss": per_cycle["joined"],
        "user_post": per_cycle["joined"],
        "user_get": per_cycle["joined"],
        "group_add_1": per_cycle["membership"],
    }


@dataclass
class Demand:
    """What one request of a mix asks of each resource (expected values at a stale probability)."""

    service_s: float = 0.0
    """Seconds a request holds one of an instance's concurrent slots (CPU and round trips)."""
    cpu_s: float = 0.0
    """CPU seconds of a request on its instance: the request's own, a stale retry's, its change messages'."""
    table_calls: float = 0.0
    entities_u: float = 0.0
    entities_g: float = 0.0
    commits_u: float = 0.0
    commits_g: float = 0.0
    committing_u: float = 0.0
    """Requests that commit to the Users partition at all: a worker marks the registry once for all of them."""
    committing_g: float = 0.0
    records: float = 0.0
    ingress_bytes: float = 0.0
    by_op: dict[str, float] = field(default_factory=dict)


def per_request(mix: dict[str, float], stale: float, lat: Latency) -> Demand:
    """The mean demand of one request of ``mix`` when a write meets a stale counter row with probability ``stale``."""
    total = sum(mix.values())
    out = Demand(by_op={op: n / total for op, n in mix.items()})
    for op, share in out.by_op.items():
        c = COSTS[op]
        out.service_s += share * (c.busy_s(lat) + stale * c.stale_busy_s(lat))
        out.cpu_s += share * (c.cpu_ms + stale * c.stale_cpu_ms + c.records * QUEUE_MESSAGE_CPU_MS) / 1000
        out.table_calls += share * (c.calls + stale * (c.stale_reads + c.stale_txs))
        out.entities_u += share * (c.entities_u + stale * c.stale_entities_u)
        out.entities_g += share * (c.entities_g + stale * c.stale_entities_g)
        out.commits_u += share * c.commits_u
        out.commits_g += share * c.commits_g
        out.committing_u += share * min(1, c.commits_u)
        out.committing_g += share * min(1, c.commits_g)
        out.records += share * c.records
        out.ingress_bytes += share * (c.written * BYTES_PER_ENTITY + c.records * BYTES_PER_MESSAGE)
    return out


def stale_probability(instances: float) -> float:
    """Chance that the last write to a tenant's counter row came from another instance (uniform routing)."""
    return 1.0 - 1.0 / max(1.0, instances)


def counter_ceiling(stale: float, lat: Latency) -> float:
    """Commits a second one tenant's counter row allows: each holds the row for a (re-)read and a transaction."""
    return 1.0 / (lat.tx_s + stale * lat.read_s)


def own_ceiling(mix: dict[str, float], limits: Limits, lat: Latency) -> float:
    """Requests a second of ``mix`` one tenant's own partitions and counter rows allow (every counter row stale)."""
    d = per_request(mix, 1.0, lat)
    ceilings = [math.inf]
    for entities in (d.entities_u, d.entities_g):
        if entities:
            ceilings.append(limits.partition_entities_per_s / entities)
    for commits in (d.commits_u, d.commits_g):
        if commits:
            ceilings.append(counter_ceiling(1.0, lat) / commits)
    return min(ceilings)


def merges_per_s(commits_per_s: float, instances: float) -> float:
    """Registry merges a second for one tenant and stream: each instance that committed in that second marks once.
    ``commits_per_s`` counts requests that commit (a 100-member PATCH's three transactions run on one instance).
    The same count gives the tenant's activity transactions from its requests a second (ACTIVITY_LINGER_S)."""
    if commits_per_s <= 0:
        return 0.0
    return instances * (1.0 - math.exp(-commits_per_s / max(1.0, instances)))


def distinct_per_ttl(rate: float, instances: float, ttl: float) -> float:
    """Cache misses a second for one tenant: the instances its requests reach within one cache lifetime."""
    instances = max(1.0, instances)
    return instances * (1.0 - math.exp(-rate * ttl / instances)) / ttl


@dataclass(frozen=True)
class TenantLoad:
    """One tenant's load per second on every limit, at a request rate, with ``instances`` serving all tenants."""

    requests: float
    instances_busy: float  # instances the tenant keeps full: its CPU over a core, or its slots over concurrency
    cpu: float  # CPU seconds a second on the instances, background threads' included
    slots: float  # request-seconds a second: the concurrent slots the tenant holds
    account: float
    partition_u: float
    partition_g: float
    counter_u: float  # utilisation of the tenant's Users counter row (1.0 = at its ceiling)
    counter_g: float
    registry_u: float  # calls a second on the Users table's shared `~changes` partition
    registry_g: float
    queue: float
    vault: float
    ingress: float


def instances_needed(cpu: float, slots: float, limits: Limits) -> float:
    """Instances a load keeps full: one core's CPU each, or ``instance_concurrency`` requests in flight each,
    whichever runs out first (Flex adds an instance when the in-flight requests exceed the concurrency; a core
    that is full makes requests wait on it, which raises the in-flight count)."""
    return max(cpu / limits.instance_cores, slots / limits.instance_concurrency)


def tenant_load(
    mix: dict[str, float], rate: float, instances: float, lat: Latency, limits: Limits | None = None
) -> TenantLoad:
    """Paper form: everything one tenant sending ``rate`` requests a second of ``mix`` costs."""
    limits = limits or Limits()
    stale = stale_probability(instances)
    d = per_request(mix, stale, lat)
    merges_u = merges_per_s(rate * d.committing_u, instances) * (1 + 2 * stale)
    merges_g = merges_per_s(rate * d.committing_g, instances) * (1 + 2 * stale)
    activity = merges_per_s(rate, instances)
    tenant_rows = distinct_per_ttl(rate, instances, TENANT_CACHE_S)
    vault = distinct_per_ttl(rate, instances, TOKEN_CACHE_S)
    vault += 2 * distinct_per_ttl(rate, instances, TOKEN_VALUE_CACHE_S)
    vault *= limits.legacy_rows
    queue = rate * d.records
    ceiling = counter_ceiling(stale, lat)
    background_ms = activity * ACTIVITY_WRITE_CPU_MS + (merges_u + merges_g) * REGISTRY_CALL_CPU_MS
    background_ms += tenant_rows * TENANT_READ_CPU_MS
    cpu = rate * d.cpu_s + background_ms / 1000
    slots = rate * d.service_s
    return TenantLoad(
        requests=rate,
        instances_busy=instances_needed(cpu, slots, limits),
        cpu=cpu,
        slots=slots,
        account=rate * d.table_calls + activity + merges_u + merges_g + tenant_rows + queue,
        partition_u=rate * d.entities_u,
        partition_g=rate * d.entities_g,
        counter_u=rate * d.commits_u / ceiling,
        counter_g=rate * d.commits_g / ceiling,
        registry_u=merges_u,
        registry_g=merges_g,
        queue=queue,
        vault=vault,
        ingress=rate * d.ingress_bytes,
    )


def sweep_calls(tenants: float, lat: Latency) -> float:
    """Calls a second of the changes sweep: 6 per tenant a minute, but one call at a time (a single timer)."""
    return min(tenants * SWEEP_CALLS_PER_TENANT / SWEEP_PERIOD_S, 1.0 / lat.read_s)


SHARED = ("instances", "account", "registry_u", "registry_g", "queue", "vault", "ingress")
PER_TENANT = ("partition_u", "partition_g", "counter_u", "counter_g")


def onboarding_per_minute(limits: Limits) -> float:
    """Tenants an operator can create (each with a setup link) a minute before Key Vault throttles: the only Key
    Vault load a tenant with token verifiers adds, and it comes before its cycles, not during them."""
    return 60.0 * min(
        limits.vault_capacity / ONBOARDING_VAULT_READS,
        limits.vault_creates_per_s * limits.vaults / ONBOARDING_VAULT_CREATES,
    )


def cold_vault_reads(rate: float, instances: float, limits: Limits) -> float:
    """Key Vault calls a second for one tenant in the busiest minute of a scale-out from zero: every instance it
    reaches reads the listing and both values (3 calls) while instances arrive once a second. A scale-out longer
    than the token cache (the members phase's, on 1,000 instances) also has its first instances list again."""
    window = max(60.0, instances / limits.scale_out_per_s)
    reached = max(1.0, instances) * (1.0 - math.exp(-rate * window / max(1.0, instances)))
    relisting = max(0.0, reached - TOKEN_CACHE_S * limits.scale_out_per_s) / TOKEN_CACHE_S
    return 3.0 * reached / window + relisting


def utilisation(
    mix: dict[str, float], rate: float, tenants: float, limits: Limits, lat: Latency, asked: float | None = None
) -> dict[str, float]:
    """Utilisation of each limit in the busiest minute when ``tenants`` identical tenants want ``rate`` requests a
    second of ``mix``. Instances report the load offered; storage and Key Vault see what the instances can
    serve (once instances are all busy, each tenant is served less than it asks). ``asked``: what Entra sends
    when the tenant's own limits let only ``rate`` through; they are reported against what it sends."""
    capacity = float(limits.max_instances)
    served, offered_busy, instances = rate, 0.0, 1.0
    for _ in range(60):  # instances depend on the CPU per request, which depends on staleness, which on instances
        load = tenant_load(mix, rate, instances, lat, limits)
        offered_busy = tenants * load.instances_busy
        served = rate * min(1.0, capacity / offered_busy) if offered_busy > 0 else rate
        instances = max(1.0, min(capacity, offered_busy))
    load = tenant_load(mix, served, instances, lat, limits)
    own = load if asked is None else tenant_load(mix, asked, instances, lat, limits)
    vault = max(load.vault, limits.legacy_rows * cold_vault_reads(served, instances, limits))
    return {
        "instances": offered_busy / capacity,
        "account": (tenants * load.account + sweep_calls(tenants, lat)) / limits.account_capacity,
        "registry_u": tenants * load.registry_u / limits.registry_capacity,
        "registry_g": tenants * load.registry_g / limits.registry_capacity,
        "queue": tenants * load.queue / limits.queue_capacity,
        "vault": tenants * vault / limits.vault_capacity,
        "ingress": tenants * load.ingress / limits.ingress_capacity,
        "partition_u": own.partition_u / limits.partition_entities_per_s,
        "partition_g": own.partition_g / limits.partition_entities_per_s,
        "counter_u": own.counter_u,
        "counter_g": own.counter_g,
    }


def saturation(mix: dict[str, float], rate: float, limits: Limits, lat: Latency, top: float = 1e7) -> dict[str, float]:
    """For each shared limit, the tenant count at which it reaches 100% (bisection on the paper utilisation)."""
    result = {}
    for name in SHARED:
        if utilisation(mix, rate, top, limits, lat)[name] < 1.0:
            result[name] = math.inf
            continue
        lo, hi = 0.0, top
        while hi - lo > max(0.01, lo * 1e-4):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if utilisation(mix, rate, mid, limits, lat)[name] < 1.0 else (lo, mid)
        result[name] = hi
    return result


def with_instances(limits: Limits, count: int) -> Limits:
    return replace(limits, max_instances=count)
