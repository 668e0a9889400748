"""Worst-case CPU seconds and peak memory of abusive but authenticated requests (issues #15 and #19).

Run with `make bench-abuse` (not part of `make test`). The in-process API runs against an in-memory
Azurite. Each case runs in a fresh child process, so its peak resident memory (ru_maxrss) and CPU time
(user + system, all threads, less the victim thread's own) are the request's own; a case that runs longer
than --cap seconds is killed and reported as capped, so the bench always ends. The issues' bar: under 1 s
of CPU and 100 MB of peak memory per request at the documented limits, and another tenant's request
delayed by under 100 ms while an abusive one runs: in each child a victim thread of a third tenant
creates 2-member groups (a member check through the shared point-read pool, and writes) before the case
(its baseline, "victim ms") and while the case runs, the case repeated after its measured round until the
victim has made 7 requests; "+p50 ms" and "+max ms" are how much slower its median and its slowest
request were meanwhile. Azurite serves every tenant on one thread, so its own queue is part of the delay
here (Table Storage serves partitions apart).

Cases:
  list-1      200 users with a 380 KB displayName, then GET /Users?count=1
  list-6      the same GET, six at once
  patch-20k   one PATCH of 250 adds to emails[type eq "tN"].value (about 20 KB)
  patch-40k   the same with 500 adds (about 40 KB)
  patch-24k-4 four concurrent PATCHes of 300 adds (about 24 KB each) to the same user
  patch-100-4 four concurrent PATCHes of 100 adds (about 8 KB each) to the same user
  deep-body   a 1 MB body of nested arrays
  filter-or   GET /Users with 2,000 `userName eq` terms joined by `or` (no index plan: a scan)
  filter-not  GET /Users with 500 nested `not (...)`
  quad-40k    POST /Users, the issue's 40 KB body "[" * 65 + '"' + '\\"' * 20000 (6.0 s before)
  quad-1m     the same body at the 1 MiB limit
  surr-16k    POST /Users with the userName '\\ud800"' followed by 16,000 '\\"' (6.5 s before)
  surr-1m     the same userName grown to the 1 MiB limit
  group-3000  POST /Groups with 3,000 made-up member ids (10.8 s and 3,001 storage calls before)
  group-1000x POST /Groups with 1,000 made-up member ids (the member cap; stops at the first)
  group-1000  POST /Groups with 1,000 real members (the member cap)
  sort-start  GET /Users?sortBy=userName&startIndex=1000000000&count=1000, big tenant (all of it loaded before)
  start-max   GET /Users?startIndex=99999999999999999999999 (a 500 before)
  search-max  POST /Users/.search with startIndex 99999999999999999999 and sortBy (a 500 before)
  sort-limit  GET /Users sorted and filtered, at the last result a sort may reach (startIndex 9001, count 1000)
  big-scan    GET /Users?filter=displayName pr&count=1000, big tenant: a scan of 200 x 380 KB rows
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

TOKEN = "abuse-token"
BIG_TENANT = "abuse-big"
SMALL_TENANT = "abuse-small"
VICTIM_TENANT = "abuse-victim"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
MEMBERS = 1000  # scim.resources.group_members.MAX_MEMBER_VALUES
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
MAX_BODY_BYTES = 1_048_576  # the documented default of SCIM_MAX_BODY_BYTES
BIG_USERS = 200
BIG_DISPLAY_NAME_CHARS = 380_000


def user_body(name: str, **extra: Any) -> dict[str, Any]:
    return {"schemas": [USER], "userName": name, "emails": [{"type": "work", "value": name}], **extra}


def patch_adds(count: int) -> dict[str, Any]:
    operations = [{"op": "add", "path": f'emails[type eq "t{n}"].value', "value": f"u{n}@x.io"} for n in range(count)]
    return {"schemas": [PATCH_OP], "Operations": operations}


def build(connection_string: str) -> Any:
    from datetime import UTC, datetime

    from scim.api import build_api
    from scim.secrets import StaticSecretSource
    from scim.settings import Settings
    from scim.store import TableStorage, TenantExistsError, TenantRow, TenantTable

    settings = Settings(
        storage_connection_string=connection_string, table_prefix="abuse", max_body_bytes=MAX_BODY_BYTES
    )
    storage = TableStorage(connection_string=connection_string, table_prefix="abuse")
    for tenant in (BIG_TENANT, SMALL_TENANT, VICTIM_TENANT):  # tenants are registered before they are served
        with contextlib.suppress(TenantExistsError):
            TenantTable(storage).create(TenantRow(tenant, tenant, datetime.now(UTC), True, None))
    secrets = StaticSecretSource({BIG_TENANT: TOKEN, SMALL_TENANT: TOKEN, VICTIM_TENANT: TOKEN})
    return build_api(settings, storage=storage, secrets=secrets)


def call(api: Any, method: str, tenant: str, path: str, body: bytes = b"", query: dict[str, str] | None = None) -> int:
    return int(respond(api, method, tenant, path, body, query).status)


def respond(
    api: Any, method: str, tenant: str, path: str, body: bytes = b"", query: dict[str, str] | None = None
) -> Any:
    from scim.http import Request

    parts = path.strip("/").split("/")
    item = len(parts) == 2 and parts[1] != ".search"
    route = {"tenant": tenant, **({"id": parts[1]} if item else {})}
    request = Request.build(
        method,
        f"http://bench/scim/v2/{tenant}/{path.strip('/')}",
        route_params=route,
        query=query or {},
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/scim+json"},
        body=body,
    )
    kind = "group" if parts[0] == "Groups" else "user"
    if len(parts) == 2 and parts[1] == ".search":
        handler = api.groups_search if kind == "group" else api.users_search
    elif item:
        handler = api.group_item if kind == "group" else api.user_item
    else:
        handler = api.groups_collection if kind == "group" else api.users_collection
    return handler(request)


# -- cases: (description, concurrency, request factory) ------------------------------------------------

Case = tuple[str, int, Callable[[dict[str, Any], int], tuple[str, str, str, bytes, dict[str, str]]]]


def _list(_: dict[str, Any], __: int) -> tuple[str, str, str, bytes, dict[str, str]]:
    return "GET", BIG_TENANT, "Users", b"", {"count": "1"}


def _patch(adds: int) -> Callable[[dict[str, Any], int], tuple[str, str, str, bytes, dict[str, str]]]:
    def make(seed: dict[str, Any], n: int) -> tuple[str, str, str, bytes, dict[str, str]]:
        body = json.dumps(patch_adds(adds)).encode()
        return "PATCH", SMALL_TENANT, f"Users/{seed['patch_users'][str(adds)]}", body, {}

    return make


def _deep(_: dict[str, Any], __: int) -> tuple[str, str, str, bytes, dict[str, str]]:
    return "POST", SMALL_TENANT, "Users", b"[" * (MAX_BODY_BYTES // 2) + b"]" * (MAX_BODY_BYTES // 2), {}


def _filter_or(_: dict[str, Any], __: int) -> tuple[str, str, str, bytes, dict[str, str]]:
    expression = " or ".join(f'userName eq "nobody{n}@x.io"' for n in range(2000))
    return "GET", BIG_TENANT, "Users", b"", {"filter": expression, "count": "1"}


def _filter_not(_: dict[str, Any], __: int) -> tuple[str, str, str, bytes, dict[str, str]]:
    return "GET", SMALL_TENANT, "Users", b"", {"filter": "not (" * 500 + 'userName eq "a"' + ")" * 500}


def _post_users(body: bytes) -> Callable[[dict[str, Any], int], tuple[str, str, str, bytes, dict[str, str]]]:
    return lambda _seed, _n: ("POST", SMALL_TENANT, "Users", body, {})


def _quadratic(size: int) -> bytes:
    return ("[" * 65 + '"' + '\\"' * ((size - 66) // 2)).encode()


def _surrogate_name(escapes: int) -> bytes:
    name = '\\ud800"' + '\\"' * escapes  # text once decoded: backslashes and quotes
    return json.dumps(user_body(f"surrogate-{uuid.uuid4().hex[:6]}@x.io", userName=name)).encode()


def _group(member_ids: Callable[[dict[str, Any]], list[str]]) -> Callable[[dict[str, Any], int], Any]:
    def make(seed: dict[str, Any], n: int) -> tuple[str, str, str, bytes, dict[str, str]]:
        members = [{"value": uid} for uid in member_ids(seed)]
        body = {"schemas": [GROUP], "displayName": f"abuse-{uuid.uuid4().hex[:8]}", "members": members}
        return "POST", SMALL_TENANT, "Groups", json.dumps(body).encode(), {}

    return make


def _get(tenant: str, **query: str) -> Callable[[dict[str, Any], int], tuple[str, str, str, bytes, dict[str, str]]]:
    return lambda _seed, _n: ("GET", tenant, "Users", b"", query)


def _search_max(_: dict[str, Any], __: int) -> tuple[str, str, str, bytes, dict[str, str]]:
    body = {"schemas": [SEARCH], "startIndex": 99999999999999999999, "sortBy": "userName", "count": 1000}
    return "POST", BIG_TENANT, "Users/.search", json.dumps(body).encode(), {}


CASES: dict[str, Case] = {
    "list-1": ("GET /Users?count=1, 200 x 380 KB users", 1, _list),
    "list-6": ("the same, six at once", 6, _list),
    "patch-20k": ("PATCH, 250 emails[type eq tN] adds", 1, _patch(250)),
    "patch-40k": ("PATCH, 500 emails[type eq tN] adds", 1, _patch(500)),
    "patch-24k-4": ("4 concurrent PATCHes, 300 adds, same user", 4, _patch(300)),
    "patch-100-4": ("4 concurrent PATCHes, 100 adds, same user", 4, _patch(100)),
    "deep-body": ("POST, 1 MB of nested arrays", 1, _deep),
    "filter-or": ("GET, 2,000-term or filter, big tenant", 1, _filter_or),
    "filter-not": ("GET, 500 nested not()", 1, _filter_not),
    "quad-40k": ("POST, 40 KB unterminated-string body", 1, _post_users(_quadratic(40_000))),
    "quad-1m": ("POST, 1 MiB unterminated-string body", 1, _post_users(_quadratic(MAX_BODY_BYTES))),
    "surr-16k": ('POST, userName \\ud800" + 16,000 \\"', 1, _post_users(_surrogate_name(16_000))),
    "surr-1m": ("POST, the same userName in 1 MiB", 1, _post_users(_surrogate_name(MAX_BODY_BYTES // 4 - 100))),
    "group-3000": ("POST /Groups, 3,000 made-up members", 1, _group(lambda _: [uuid.uuid4().hex for _ in range(3000)])),
    "group-1000x": (
        "POST /Groups, 1,000 made-up members",
        1,
        _group(lambda _: [uuid.uuid4().hex for _ in range(1000)]),
    ),
    "group-1000": ("POST /Groups, 1,000 real members", 1, _group(lambda seed: list(seed["members"]))),
    "sort-start": (
        "GET sortBy, startIndex 1e9, count 1000, big",
        1,
        _get(BIG_TENANT, sortBy="userName", startIndex="1000000000", count="1000"),
    ),
    "start-max": ("GET startIndex 99999999999999999999999", 1, _get(BIG_TENANT, startIndex="99999999999999999999999")),
    "search-max": ("POST .search, startIndex 1e20, sortBy", 1, _search_max),
    "sort-limit": (
        "GET sortBy+filter, startIndex 9001, count 1000",
        1,
        _get(BIG_TENANT, sortBy="userName", filter="displayName pr", startIndex="9001", count="1000"),
    ),
    "big-scan": ("GET filter displayName pr, 200 x 380 KB", 1, _get(BIG_TENANT, filter="displayName pr", count="1000")),
}


# -- child: one case, measured ------------------------------------------------------------------------


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _victim(api: Any, seed: dict[str, Any]) -> float:
    """One request of another tenant: a 2-member group (a member check through the shared pool, then writes)."""
    body = {"schemas": [GROUP], "displayName": f"victim-{uuid.uuid4().hex[:8]}"}
    body["members"] = [{"value": uid} for uid in seed["victim_members"]]
    started = time.perf_counter()
    status = call(api, "POST", VICTIM_TENANT, "Groups", json.dumps(body).encode())
    if status != 201:
        raise SystemExit(f"the victim's request answered {status}")
    return time.perf_counter() - started


VICTIM_SAMPLES = 7
"""Victim requests wanted while the case runs: the case's requests are repeated (after the measured round)
until the victim has made this many, or for VICTIM_SECONDS."""
VICTIM_SECONDS = 30.0


def run_child(name: str, connection_string: str, seed: dict[str, Any]) -> dict[str, Any]:
    _, concurrency, factory = CASES[name]
    api = build(connection_string)
    call(api, "GET", SMALL_TENANT, "Users", query={"count": "0"})  # warm: imports, clients, table checks
    baseline = sorted(_victim(api, seed) for _ in range(VICTIM_SAMPLES))[VICTIM_SAMPLES // 2]
    requests = [factory(seed, n) for n in range(concurrency)]
    statuses: list[int] = [0] * concurrency
    walls: list[float] = [0.0] * concurrency
    victim_walls: list[float] = []
    done = threading.Event()

    def one(n: int) -> None:
        method, tenant, path, body, query = requests[n]
        started = time.perf_counter()
        statuses[n] = call(api, method, tenant, path, body, query)
        walls[n] = time.perf_counter() - started

    def one_round() -> None:
        threads = [threading.Thread(target=one, args=(n,)) for n in range(concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def victim() -> None:
        while not done.is_set():
            victim_walls.append(_victim(api, seed))

    rss_before = _rss_mb()
    usage_before = resource.getrusage(resource.RUSAGE_SELF)
    watcher = threading.Thread(target=victim)
    watcher.start()
    victim_clock = time.pthread_getcpuclockid(watcher.ident or 0)
    victim_cpu_before = time.clock_gettime(victim_clock)
    one_round()  # the measured round: CPU and memory are this round's, less the victim's own CPU
    usage = resource.getrusage(resource.RUSAGE_SELF)
    victim_cpu = time.clock_gettime(victim_clock) - victim_cpu_before
    measured = {"statuses": list(statuses), "wall_s": max(walls)}
    deadline = time.perf_counter() + VICTIM_SECONDS
    while len(victim_walls) < VICTIM_SAMPLES and time.perf_counter() < deadline:
        one_round()  # more of the same abuse, for the victim's samples
    done.set()
    watcher.join()
    cpu = (usage.ru_utime - usage_before.ru_utime) + (usage.ru_stime - usage_before.ru_stime) - victim_cpu
    during = sorted(victim_walls)
    return {
        "cpu_s": cpu,
        "wall_s": measured["wall_s"],
        "rss_before_mb": rss_before,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "statuses": measured["statuses"],
        "victim_base_ms": baseline * 1000,
        "victim_p50_ms": during[len(during) // 2] * 1000,
        "victim_max_ms": during[-1] * 1000,
    }


# -- parent: Azurite, seed data, one child per case -----------------------------------------------------


def seed(connection_string: str) -> dict[str, Any]:
    api = build(connection_string)
    started = time.perf_counter()
    for n in range(BIG_USERS):
        body = user_body(f"big{n}-{uuid.uuid4().hex[:6]}@x.io", displayName="d" * BIG_DISPLAY_NAME_CHARS)
        status = call(api, "POST", BIG_TENANT, "Users", json.dumps(body).encode())
        if status != 201:
            raise SystemExit(f"seeding a big user answered {status}")
    patch_users = {adds: _user_id(api, SMALL_TENANT, f"patch{adds}") for adds in (100, 250, 300, 500)}
    members = [_user_id(api, SMALL_TENANT, f"member{n}") for n in range(MEMBERS)]
    victim_members = [_user_id(api, VICTIM_TENANT, f"victim{n}") for n in range(2)]
    print(
        f"seeded {BIG_USERS} users of {BIG_DISPLAY_NAME_CHARS // 1000} KB and {MEMBERS} members "
        f"in {time.perf_counter() - started:.0f} s"
    )
    return {"patch_users": patch_users, "members": members, "victim_members": victim_members}


def _user_id(api: Any, tenant: str, stem: str) -> str:
    body = json.dumps(user_body(f"{stem}-{uuid.uuid4().hex[:6]}@x.io")).encode()
    response = respond(api, "POST", tenant, "Users", body)
    if response.status != 201:
        raise SystemExit(f"seeding a user answered {response.status}")
    return str(json.loads(response.body)["id"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cases", nargs="*", help=f"cases to run (default: all): {', '.join(CASES)}")
    parser.add_argument("--cap", type=float, default=60.0, help="seconds after which a case is killed (default 60)")
    parser.add_argument("--child", nargs=3, metavar=("CASE", "CONNECTION", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, connection_string, seed_json = args.child
        print(json.dumps(run_child(name, connection_string, json.loads(seed_json))))
        return 0

    from devhost.azurite import Azurite

    names = args.cases or list(CASES)
    unknown = [name for name in names if name not in CASES]
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}; choose from {', '.join(CASES)}")
    with Azurite() as azurite:
        seeded = seed(azurite.connection_string)
        header = (
            f"{'case':<12} {'what':<44} {'status':<16} {'cpu s':>7} {'wall s':>7} {'peak MB':>8} {'growth MB':>9} "
            f"{'victim ms':>9} {'+p50 ms':>8} {'+max ms':>8}"
        )
        print(header)
        print("-" * len(header))
        for name in names:
            description, _, _ = CASES[name]
            command = [sys.executable, "-m", "bench.abuse", "--child", name, azurite.connection_string]
            try:
                done = subprocess.run(
                    [*command, json.dumps(seeded)], capture_output=True, text=True, timeout=args.cap, check=False
                )
            except subprocess.TimeoutExpired:
                print(f"{name:<12} {description:<44} {'killed':<16} {f'>{args.cap:.0f}':>7} {f'>{args.cap:.0f}':>7}")
                continue
            if done.returncode != 0:
                print(f"{name:<12} {description:<44} failed: {done.stderr.strip().splitlines()[-1:]}")
                continue
            result = json.loads(done.stdout.strip().splitlines()[-1])
            statuses = ",".join(str(s) for s in sorted(set(result["statuses"])))
            growth = result["peak_rss_mb"] - result["rss_before_mb"]
            base = result["victim_base_ms"]
            print(
                f"{name:<12} {description:<44} {statuses:<16} {result['cpu_s']:>7.2f} {result['wall_s']:>7.2f} "
                f"{result['peak_rss_mb']:>8.0f} {growth:>9.0f} {base:>9.0f} "
                f"{result['victim_p50_ms'] - base:>+8.0f} {result['victim_max_ms'] - base:>+8.0f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
