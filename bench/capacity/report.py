"""When one deployment stops being enough: many tenants' Entra cycles replayed through Azure's limits.

Run with `make capacity` (stdlib only, seeded, seconds). It prints, next to the paper model of
bench/capacity/model.py, what the simulation of bench/capacity/sim.py measures: the tenant count at which each
shared limit saturates when initial cycles start together (the busiest minute of the users phase, and of the
members phase), the utilisation of every limit there, cycle durations per tenant, and the mean load of
incremental cycles in steady state.
"""

from __future__ import annotations

import argparse
import itertools
import math
import random
from dataclasses import dataclass, replace

from bench.capacity.model import (
    ACTIVITY_WRITE_CPU_MS,
    PER_TENANT,
    REGISTRY_CALL_CPU_MS,
    SHARED,
    SWEEP_CALLS_PER_TENANT,
    SWEEP_PERIOD_S,
    TENANT_READ_CPU_MS,
    TOKEN_VALUE_CACHE_S,
    Churn,
    Latency,
    Limits,
    Phase,
    group_sizes,
    incremental_requests,
    initial_phases,
    instances_needed,
    merges_per_s,
    onboarding_per_minute,
    own_ceiling,
    per_request,
    saturation,
    stale_probability,
    sweep_calls,
    utilisation,
    with_instances,
)
from bench.capacity.sim import Cohort, Simulation

LEARN_MINUTES_PER_OBJECT = 0.01
"""Microsoft Learn's fastest initial-cycle estimate: 0.01 minutes per assigned user, group and member."""


@dataclass(frozen=True)
class Stretch:
    """A phase of the initial cycle whose busiest minute is searched: its index, and tenants big enough that it
    lasts well over the sampled window at the tenant's own ceiling."""

    name: str
    index: int
    users: int


STRETCHES = (Stretch("users", 0, 10_000), Stretch("members", 2, 100_000))
"""The users phase (98% of the requests) and the members phase (100-member PATCHes: 100 point reads each)."""


@dataclass(frozen=True)
class Scenario:
    name: str
    limits: Limits
    pace: str  # "25 rps" or "Learn"


def rates_of(scenario: Scenario, phases: list[Phase], members: int) -> list[float]:
    """Entra's request rate in each phase: 25 a second, or Learn's 0.01 minutes per object (a user, a group,
    a membership: ``members`` memberships in the last phase)."""
    if scenario.pace != "Learn":
        return [scenario.limits.entra_requests_per_s] * len(phases)
    objects = [phases[0].units, phases[1].units, members]
    return [p.requests / (LEARN_MINUTES_PER_OBJECT * 60 * n) for p, n in zip(phases, objects, strict=True)]


def initial_run(
    scenario: Scenario,
    users: int,
    tenants: float,
    seed: int,
    cohorts: int,
    until: float | None = None,
    enforce_storage: bool = True,
    first_phase: int = 0,
) -> tuple[Simulation, float, float]:
    """Initial cycles of ``tenants`` tenants starting within a minute of each other; (sim, rate, dt). From
    ``first_phase`` on: 2 replays only the members phase, as if the tenants reached it together.

    A run over a window ticks every second; a whole cycle ticks at about 3,000 steps (at most 30 s each)."""
    sim = Simulation(scenario.limits, Latency(), seed)
    sim.enforce_storage = enforce_storage
    rng = random.Random(seed)
    rate = 0.0
    for k in range(cohorts):
        phases = initial_phases(users, seed + k)
        rates = rates_of(scenario, phases, sum(group_sizes(users, seed + k)))
        phases, rates = phases[first_phase:], rates[first_phase:]
        rate = rates[0]
        sim.add(tenants / cohorts, rng.uniform(0, 60), phases, rates)
    if until is not None:
        dt = 1.0 if rate >= 5 else 5.0
    else:
        seconds = sum(p.requests for p in initial_phases(users, seed)) / max(rate, 1e-9)
        dt = float(min(30, max(1, round(seconds / 3_000))))
    sim.run(until if until is not None else math.inf, dt)
    return sim, rate, dt


GRID = tuple(round(5 * 1.5**k) for k in range(19))
"""Tenant counts the saturation search samples: 5 to about 7,400, 50% apart."""


def crossing(points: list[tuple[float, float]]) -> float:
    """The tenant count where a utilisation sampled on a grid first reaches 1.0 (log-log interpolation), else inf."""
    for (ta, ua), (tb, ub) in itertools.pairwise(points):
        if ua >= 1.0:
            return ta
        if ub >= 1.0:
            if ua <= 0 or ub <= ua:
                return tb
            return ta * math.exp(math.log(1.0 / ua) * math.log(tb / ta) / math.log(ub / ua))
    return points[0][0] if points and points[0][1] >= 1.0 else math.inf


def stretch_run(
    scenario: Scenario, stretch: Stretch, tenants: float, seed: int, window: float
) -> tuple[Simulation, float]:
    """``window`` seconds of a stretch, storage and Key Vault holding nothing back; (sim, dt). Tenants sending
    less than a request a second are replayed in 20 cohorts, so that their requests do not fall in lockstep."""
    sim, _rate, dt = initial_run(
        scenario,
        stretch.users,
        tenants,
        seed,
        cohorts=2 if entra_rate(scenario, stretch) >= 1 else 20,
        until=window,
        enforce_storage=False,
        first_phase=stretch.index,
    )
    return sim, dt


def simulated_saturation(
    scenario: Scenario, stretch: Stretch, seed: int, window: float
) -> tuple[dict[str, float], float]:
    """Per shared limit, the tenant count where its busiest minute in ``stretch`` reaches 100%, each limit on its
    own (storage and Key Vault hold nothing back; instances do); and the largest count sampled. The stretch
    outlasts the window; GRID is sampled up to ten times the first saturation."""
    points: dict[str, list[tuple[float, float]]] = {name: [] for name in SHARED}
    first, tenants = math.inf, 0
    for tenants in GRID:
        sim, dt = stretch_run(scenario, stretch, tenants, seed, window)
        for name, samples in points.items():
            samples.append((tenants, sim.busiest_minute(name, dt, used=name != "instances")))
            if samples[-1][1] >= 1.0:
                first = min(first, tenants)
        if tenants > 10 * first:
            break
    return {name: crossing(pts) for name, pts in points.items()}, tenants


def entra_rate(scenario: Scenario, stretch: Stretch) -> float:
    phases = initial_phases(stretch.users)
    return rates_of(scenario, phases, sum(group_sizes(stretch.users, 0)))[stretch.index]


def stretch_rate(scenario: Scenario, stretch: Stretch) -> float:
    """Entra's rate in the stretch, or the tenant's own ceiling there if lower (the members phase at 25/s)."""
    return min(entra_rate(scenario, stretch), own_ceiling(stretch_mix(stretch), scenario.limits, Latency()))


def stretch_mix(stretch: Stretch) -> dict[str, float]:
    return initial_phases(1_000)[stretch.index].mix


def paper_saturation(scenario: Scenario, stretch: Stretch) -> dict[str, float]:
    return saturation(stretch_mix(stretch), stretch_rate(scenario, stretch), scenario.limits, Latency())


def cycle_hours(scenario: Scenario, users: int, tenants: float, seed: int) -> float:
    run, _rate, _dt = initial_run(scenario, users, tenants, seed, cohorts=1 if tenants <= 1 else 2)
    return max((c.done_at or math.inf) - c.start for c in run.cohorts) / 3600


def paper_cycle_hours(scenario: Scenario, users: int) -> float:
    """Each phase at Entra's pace, or at the tenant's own ceiling (its Groups partition, its counter row)."""
    phases = initial_phases(users)
    rates = rates_of(scenario, phases, sum(group_sizes(users, 0)))
    seconds = 0.0
    for phase, rate in zip(phases, rates, strict=True):
        seconds += phase.requests / min(rate, own_ceiling(phase.mix, scenario.limits, Latency()))
    return seconds / 3600


def steady_run(limits: Limits, users: int, tenants: int, seed: int) -> Simulation:
    """Two incremental cycles of ``tenants`` tenants, their 40-minute cycles spread evenly over the period, each
    tenant a cohort of its own up to 10,000 (cohorts of several tenants burst together, and each burst would bring
    up more instances than independent tenants do: more token reads and registry merges)."""
    churn, rng = Churn(), random.Random(seed)
    period = 24 * 60 * 60 / churn.cycles_per_day
    cohorts = max(1, min(10_000, tenants))
    sim = Simulation(limits, Latency(), seed)
    sim.tenants = tenants
    for k in range(cohorts):
        previous: Cohort | None = None
        for cycle in range(2):
            counts = {op: rng.gauss(n, math.sqrt(n)) for op, n in incremental_requests(users, churn).items()}
            phases = [Phase(op, round(n), {op: 1}) for op, n in counts.items() if round(n) > 0]
            if phases:
                rates = [limits.entra_requests_per_s] * len(phases)
                cohort = sim.add(tenants / cohorts, (k / cohorts + cycle) * period, phases, rates)
                if previous is not None:
                    cohort.share_caches(previous)
                previous = cohort
    sim.run(2 * period, 1.0)
    return sim


def steady_paper(limits: Limits, users: int, tenants: float) -> dict[str, float]:
    """Mean utilisation of each shared limit in steady state (paper form)."""
    churn, lat = Churn(), Latency()
    period = 24 * 60 * 60 / churn.cycles_per_day
    requests = incremental_requests(users, churn)
    per_cycle = sum(requests.values())
    rate = per_cycle / period
    burst = limits.entra_requests_per_s
    seconds = per_cycle / burst  # a cycle's requests arrive in one burst at Entra's rate
    instances, full = 1.0, 0.0
    for _ in range(30):  # the CPU per request depends on staleness and background work, which depend on instances
        stale = stale_probability(instances)
        d = per_request(requests, stale, lat)
        reached = instances * (1 - math.exp(-per_cycle / instances))  # instances a cycle's requests reach
        merges_u = seconds * merges_per_s(burst * d.committing_u, instances) * (1 + 2 * stale) / period
        merges_g = seconds * merges_per_s(burst * d.committing_g, instances) * (1 + 2 * stale) / period
        activity = seconds * merges_per_s(burst, instances) / period  # once a second per worker the tenant reached
        background_ms = (
            activity * ACTIVITY_WRITE_CPU_MS
            + (merges_u + merges_g) * REGISTRY_CALL_CPU_MS
            + reached / period * TENANT_READ_CPU_MS
        )
        full = tenants * instances_needed(rate * d.cpu_s + background_ms / 1000, rate * d.service_s, limits)
        instances = max(1.0, min(float(limits.max_instances), full))
    account = rate * (d.table_calls + d.records) + activity + reached / period + merges_u + merges_g
    # Key Vault on the request path only for rows without token verifiers (scim.auth).
    vault = limits.legacy_rows * (reached + 2 * reached * period / TOKEN_VALUE_CACHE_S) / period
    return {
        "instances": full / limits.max_instances,
        "account": (tenants * account + sweep_calls(tenants, lat)) / limits.account_requests_per_s,
        "registry_u": tenants * merges_u / limits.partition_entities_per_s,
        "registry_g": tenants * merges_g / limits.partition_entities_per_s,
        "queue": tenants * rate * d.records / limits.queue_capacity,
        "vault": tenants * vault / limits.vault_reads_per_s,
        "ingress": tenants * rate * d.ingress_bytes / limits.account_ingress_bytes_per_s,
        "sweep": tenants * SWEEP_CALLS_PER_TENANT * lat.read_s / SWEEP_PERIOD_S,
    }


def fmt(value: float, searched: float | None = None) -> str:
    if math.isinf(value):
        return "never" if searched is None else f">{searched:,.0f}"
    return f"{value:,.0f}" if value >= 10 else f"{value:.1f}"


def diff(paper: float, sim: float, searched: float | None = None) -> str:
    if math.isinf(sim) and searched is not None and paper > searched:
        return "ok"  # the paper's figure lies beyond the search, as it should
    if math.isinf(paper) or math.isinf(sim):
        return "" if paper == sim else "n/a"
    return f"{(sim - paper) / paper:+.0%}"


SCENARIOS = (
    Scenario("25 req/s, 40 instances", Limits(), "25 rps"),
    Scenario("25 req/s, 1,000 instances", with_instances(Limits(), 1_000), "25 rps"),
    Scenario("Learn pace, 40 instances", Limits(), "Learn"),
    Scenario("Learn pace, 1,000 instances", with_instances(Limits(), 1_000), "Learn"),
)


def spread_scenarios(accounts: int, partitions: int, vaults: tuple[int, ...]) -> tuple[Scenario, ...]:
    """The onboarding wave on the merged code: 25 requests/s, 1,000 instances, tenants over ``accounts`` data
    accounts (each with its changes queue), each registry over ``partitions`` partitions, tokens over each count
    of Key Vaults in ``vaults``; and, on the first count, every tenant row from before token verifiers (not yet
    reindexed: Key Vault on the request path, as before them)."""
    spread = replace(with_instances(Limits(), 1_000), accounts=accounts, registry_partitions=partitions)
    scenarios = [
        Scenario(f"25/s 1000i {accounts}acc {partitions}p {count}KV", replace(spread, vaults=count), "25 rps")
        for count in vaults
    ]
    if vaults:
        legacy = replace(spread, vaults=vaults[0], legacy_rows=1.0)
        scenarios.append(Scenario(f"25/s 1000i {accounts}acc {partitions}p {vaults[0]}KV legacy", legacy, "25 rps"))
    return tuple(scenarios)


def report(seed: int, window: float, spread: tuple[Scenario, ...] = ()) -> dict[str, list[tuple[Scenario, str, float]]]:
    scenarios = (*SCENARIOS, *spread)
    print(f"seed {seed}; {Latency()}; tenants per Entra cycle: users, then groups, then members")
    for scenario in spread:
        limits = scenario.limits
        print(
            f"{scenario.name}: {limits.accounts} data accounts (a changes queue each), registry partitions "
            f"{limits.registry_partitions} per table, {limits.vaults} Key Vault(s), at most {limits.max_instances:,} "
            f"instances; tenants spread evenly; {limits.legacy_rows:.0%} of tenant rows without token verifiers"
        )
    firsts: dict[str, list[tuple[Scenario, str, float]]] = {}
    for stretch in STRETCHES:
        print(
            f"\n== Initial cycles starting together, {stretch.name} phase ({stretch.users:,}-user tenants): "
            "tenants at which each shared limit reaches 100% (busiest minute)"
        )
        header = "".join(f"{s.name:>30}" for s in scenarios)
        print(f"{'limit':<11}{header}\n{'':<11}" + f"{'paper   sim   diff':>30}" * len(scenarios))
        results = [(paper_saturation(s, stretch), *simulated_saturation(s, stretch, seed, window)) for s in scenarios]
        for name in SHARED:
            cells = "".join(
                f"{fmt(p[name]):>16}{fmt(m[name], top):>7}{diff(p[name], m[name], top):>7}" for p, m, top in results
            )
            print(f"{name:<11}{cells}")
        print("(> n: not reached up to n tenants, ten times the first limit, where the search stops)")
        firsts[stretch.name] = []
        for scenario, (paper, sim, top) in zip(scenarios, results, strict=True):
            first = min(sim, key=lambda k: sim[k])
            at, source = sim[first], ""
            if math.isinf(at):  # the simulation met no limit within its search: the paper's first, sampled there
                first = min(paper, key=lambda k: paper[k])
                at, source = paper[first], f" (paper's: the simulation reached none up to {fmt(top)})"
            if not math.isinf(at):
                firsts[stretch.name].append((scenario, first, at))
            rate = stretch_rate(scenario, stretch)
            print(
                f"first limit, {scenario.name}: {first} at {fmt(at)} tenants{source} "
                f"(paper: {min(paper, key=lambda k: paper[k])} at {fmt(min(paper.values()))}); "
                f"a tenant's rate {rate:.2f} requests/s"
            )
        print(
            f"\n== Utilisation of every limit at that tenant count, busiest minute of the {stretch.name} phase:"
            " sim [paper]"
        )
        print("(the load each limit is asked for, none holding back the others but instances)")
        for scenario, _first, at in firsts[stretch.name]:
            run, dt = stretch_run(scenario, stretch, at, seed, window)
            mix, rate, asked = stretch_mix(stretch), stretch_rate(scenario, stretch), entra_rate(scenario, stretch)
            paper = utilisation(mix, rate, at, scenario.limits, Latency(), asked=asked)
            cells = ", ".join(
                f"{n} {run.busiest_minute(n, dt, used=n in SHARED[1:]):.0%} [{paper[n]:.0%}]"
                for n in (*SHARED, *PER_TENANT)
            )
            print(f"{scenario.name}, {fmt(at)} tenants: {cells}")
    print(
        "\n== Initial cycle of one tenant (hours): alone, and among as many as saturate the users phase's first limit"
        " [paper: alone]"
    )
    for scenario, _first, at in firsts["users"][: len(SCENARIOS) : 2]:
        for users in (10_000, 100_000):
            if scenario.pace == "Learn" and users == 100_000:  # 68 hours of requests: the paper figure only
                print(f"{scenario.name}, {users:,} users: [{paper_cycle_hours(scenario, users):.1f} h]")
                continue
            run, _rate, _dt = initial_run(scenario, users, 1, seed, cohorts=1)
            cohort = run.cohorts[0]
            alone = ((cohort.done_at or math.inf) - cohort.start) / 3600
            line = f"{scenario.name}, {users:,} users: alone {alone:.1f} h [{paper_cycle_hours(scenario, users):.1f} h]"
            if users == 10_000:
                crowded = [
                    f"among {fmt(n)} tenants {cycle_hours(scenario, users, n, seed):.1f} h" for n in (at, 2 * at)
                ]
                line += "; " + "; ".join(crowded)
            print(line)
            if scenario.pace == "25 rps":
                worst = ", ".join(f"{n} {max(run.offered[n]):.0%}" for n in PER_TENANT)
                print(f"  its own limits, worst second: {worst}")
    print(f"\n== Steady state: incremental cycles every 40 min; churn per day {Churn()}")
    print("tenants at which each shared limit reaches 100% of its mean load (paper), and the mean load measured")
    print("at a sample tenant count: sim [paper]. The sweep is our timer's one-minute round (a formula).")
    for users, sample in ((10_000, 10_000), (100_000, 2_000)):
        paper_at = steady_saturation(Limits(), users)
        print(f"{users:,}-user tenants: " + ", ".join(f"{n} {fmt(t)}" for n, t in paper_at.items()))
        steady = steady_run(Limits(), users, sample, seed)
        paper = steady_paper(Limits(), users, sample)
        mean = {n: sum(v) / max(1, len(v)) for n, v in steady.used.items()}
        mean["sweep"] = paper["sweep"]
        print(
            f"  at {sample:,} tenants: " + ", ".join(f"{n} {mean[n]:.1%} [{paper[n]:.1%}]" for n in (*SHARED, "sweep"))
        )
    return firsts


def steady_saturation(limits: Limits, users: int) -> dict[str, float]:
    """Per shared limit, the tenant count at which its mean steady-state load reaches 100% (bisection)."""
    result = {}
    for name in (*SHARED, "sweep"):
        lo, hi = 1.0, 1e8
        if steady_paper(limits, users, hi)[name] < 1.0:
            result[name] = math.inf
            continue
        while hi / lo > 1.001:
            mid = math.sqrt(lo * hi)
            lo, hi = (mid, hi) if steady_paper(limits, users, mid)[name] < 1.0 else (lo, mid)
        result[name] = hi
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--window", type=float, default=480.0, help="seconds of the users phase sampled per run")
    parser.add_argument(
        "--accounts",
        type=int,
        default=10,
        help="data storage accounts (SCIM_DATA_ACCOUNT_COUNT; 10: the fewest for 1,000)",
    )
    parser.add_argument("--registry-partitions", type=int, default=32, help="partitions of each ~changes registry")
    parser.add_argument("--vaults", default="1", help="Key Vault counts to show (comma-separated)")
    args = parser.parse_args()
    vaults = tuple(int(v) for v in args.vaults.split(",") if v)
    spread = spread_scenarios(args.accounts, args.registry_partitions, vaults)
    firsts = report(args.seed, args.window, spread)
    print("\n== Onboarding wave (initial cycles starting within a minute), first Azure limit over both phases (sim)")
    for scenario in spread:
        phases = [(phase, name, at) for phase, rows in firsts.items() for s, name, at in rows if s == scenario]
        phase, name, at = min(phases, key=lambda row: row[2])
        others = "; ".join(f"{p}: {n} at {fmt(a)}" for p, n, a in phases)
        print(f"{scenario.name}: {name} at {fmt(at)} tenants ({phase} phase) [{others}]")
    print(
        "Key Vault, operator actions only (tenant rows with token verifiers): "
        f"{fmt(onboarding_per_minute(spread[0].limits) if spread else onboarding_per_minute(Limits()))} tenants "
        "created (each with a setup link) a minute, before the cycles start"
    )


if __name__ == "__main__":
    main()
