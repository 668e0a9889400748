"""The named scenarios of `python -m bench`: for each, the module that runs it, what it guards, the figure to
read, how long it runs, and its small settings for a smoke run (`--quick`). bench/README.md is this table in prose.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    name: str
    module: str
    guards: str
    figure: str
    duration: str
    quick: tuple[str, ...] | None  # () runs in seconds as it is; None: no small form, it always runs in full


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "round-trips",
        "bench.round_trips",
        "query work scales with the answer, not the table (design.md §3): each SCIM operation at 100 and 1,000 users",
        "storage round trips per operation (exact) and median latency as a ratio to a raw point read",
        "1-3 min",
        None,
    ),
    Scenario(
        "entra-trips",
        "bench.entra_trips",
        "the inputs of the capacity model (docs/performance.md, Input 1): Entra's initial and incremental cycle",
        "Table Storage calls by kind, entities written and CPU ms per request, one worker and two taking turns",
        "2-4 min",
        ("--rounds", "1"),
    ),
    Scenario(
        "lists",
        "bench.lists",
        "a page of users costs the same at any tenant size (goal: 20,000 users at most 2x 100 users)",
        "round trips and median ms of GET /Users?count=100, and the ratio large/small",
        "5-10 min (seeds 20,000 users)",
        None,
    ),
    Scenario(
        "delivery",
        "bench.delivery",
        "publishing a change adds no storage round trip to the SCIM request (change delivery, README)",
        "round trips and latency of a write without and with the publisher; background calls per write",
        "about 1 min",
        (),
    ),
    Scenario(
        "groups",
        "bench.groups",
        "membership costs O(changes) (goal: add one member and GET without members at most 1.5x, 10 vs 20,000)",
        "round trips, median and p90 ms per group size, the ratio, and the time to add 20,000 members",
        "10-20 min",
        ("--sizes", "10,200", "--repeat", "2", "--fill-sample", "100"),
    ),
    Scenario(
        "oauth",
        "bench.oauth",
        "an access-token check costs microseconds and no store call (README, OAuth2 client credentials)",
        "us per check, beside the raw signature check; store reads per request (zero)",
        "seconds",
        (),
    ),
    Scenario(
        "cycle",
        "bench.cycle",
        "issue #24: a 100,000-user tenant's initial cycle (memory) and a 10,000-user one (Azurite), invariants clean",
        "requests/s, CPU ms and storage calls per request of each kind; memberships stored; invariant check",
        "memory 100,000 users: tens of minutes; Azurite 10,000 users: about 15 min",
        ("--users", "2000"),
    ),
    Scenario(
        "capacity",
        "bench.capacity",
        "how many tenants one deployment serves and which Azure limit gives first (docs/performance.md)",
        "tenant count at which each limit saturates: the paper model beside the token-bucket simulation",
        "about 40 s (stdlib only, no Azurite)",
        (),
    ),
    Scenario(
        "abuse",
        "bench.abuse",
        "issues #15 and #19: an abusive request costs under 1 s of CPU and 100 MB, another tenant under 100 ms more",
        "CPU s, peak MB and the victim's added p50/max ms per case; capped cases",
        "minutes (each case up to --cap s, default 60)",
        ("start-max", "search-max", "--cap", "30"),
    ),
    Scenario(
        "compare",
        "bench.compare",
        "issues #11, #23: our request path against scim2-server's, the same Entra load, ours on memory then Azurite",
        "ops/s, p50/p99, CPU per operation of each process, cold start, one tenant's 8 writers' POST p50 vs 1, "
        "ratios next to the goals",
        "several minutes (needs .venv-scim2-server: `make bench-compare` makes it)",
        ("--quick",),
    ),
    Scenario(
        "concurrency",
        "bench.concurrency",
        "issue #11: sync handlers on threads against async handlers on the aio clients (docs/performance.md)",
        "requests/s and latency per level of concurrency for each variant, through a latency proxy",
        "about 6 min",
        ("--levels", "1", "4", "--repeats", "1", "--seconds", "0.5", "--warmup", "0.2", "--bare-calls", "5"),
    ),
    Scenario(
        "tenant-writers",
        "bench.tenant_writers",
        "issue #23: writers of one tenant do not queue behind one row (goal: 8 writers' POST p50 at most 2x one's)",
        "POST p50/p99 and round trips per POST: one writer, 8 on one tenant, 8 on 8 tenants; the ratio, the load",
        "about 1 min",
        ("--rounds", "1", "--posts", "10"),
    ),
    Scenario(
        "profile",
        "bench.profile",
        "issue #11: where a request's CPU goes through function_app (docs/performance.md, Where the CPU goes)",
        "CPU ms per operation, round trips, the storage client's share; --profile N, --cold-start, --memory",
        "1-2 min",
        ("--rounds", "5"),
    ),
    Scenario(
        "soak",
        "bench.soak",
        "issue #10: a whole Entra cycle under random storage faults leaves no lost, duplicated or broken data",
        "operations by status, faults injected, 5xx answered, invariant violations, lost or duplicated resources",
        "hours at 10,000 users (about 20 requests a second)",
        ("--users", "100", "--clients", "2"),
    ),
)

# `make bench`: the per-operation costs, each against a fresh Azurite.
SETS: dict[str, tuple[str, ...]] = {
    "default": ("round-trips", "entra-trips", "lists", "delivery", "groups", "oauth"),
}

BY_NAME = {scenario.name: scenario for scenario in SCENARIOS}
