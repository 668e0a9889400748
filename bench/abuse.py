"""Worst-case CPU seconds and peak memory of abusive but authenticated requests (issue #15, items 3-5).

Run with `make bench-abuse` (not part of `make test`). The in-process API runs against an in-memory
Azurite. Each case runs in a fresh child process, so its peak resident memory (ru_maxrss) and CPU time
(user + system, all threads) are the request's own; a case that runs longer than --cap seconds is killed
and reported as capped, so the bench always ends. The issue's bar: under 1 s of CPU and 100 MB of peak
memory per request at the documented limits.

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
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
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
    from scim.store import TableStorage
    from scim.store.tenants import TenantExistsError, TenantRow, TenantTable

    settings = Settings(
        storage_connection_string=connection_string, table_prefix="abuse", max_body_bytes=MAX_BODY_BYTES
    )
    storage = TableStorage(connection_string=connection_string, table_prefix="abuse")
    for tenant in (BIG_TENANT, SMALL_TENANT):  # tenants are registered before they are served (once)
        with contextlib.suppress(TenantExistsError):
            TenantTable(storage).create(TenantRow(tenant, tenant, datetime.now(UTC), True, None))
    secrets = StaticSecretSource({BIG_TENANT: TOKEN, SMALL_TENANT: TOKEN})
    return build_api(settings, storage=storage, secrets=secrets)


def call(api: Any, method: str, tenant: str, path: str, body: bytes = b"", query: dict[str, str] | None = None) -> int:
    from scim.http import Request

    parts = path.strip("/").split("/")
    route = {"tenant": tenant, **({"id": parts[1]} if len(parts) == 2 else {})}
    request = Request.build(
        method,
        f"http://bench/scim/v2/{tenant}/{path.strip('/')}",
        route_params=route,
        query=query or {},
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/scim+json"},
        body=body,
    )
    handler = api.user_item if "id" in route else api.users_collection
    return int(handler(request).status)


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
}


# -- child: one case, measured ------------------------------------------------------------------------


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_child(name: str, connection_string: str, seed: dict[str, Any]) -> dict[str, Any]:
    _, concurrency, factory = CASES[name]
    api = build(connection_string)
    call(api, "GET", SMALL_TENANT, "Users", query={"count": "0"})  # warm: imports, clients, table checks
    requests = [factory(seed, n) for n in range(concurrency)]
    rss_before = _rss_mb()
    usage_before = resource.getrusage(resource.RUSAGE_SELF)
    statuses: list[int] = [0] * concurrency
    walls: list[float] = [0.0] * concurrency

    def one(n: int) -> None:
        method, tenant, path, body, query = requests[n]
        started = time.perf_counter()
        statuses[n] = call(api, method, tenant, path, body, query)
        walls[n] = time.perf_counter() - started

    threads = [threading.Thread(target=one, args=(n,)) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "cpu_s": (usage.ru_utime - usage_before.ru_utime) + (usage.ru_stime - usage_before.ru_stime),
        "wall_s": max(walls),
        "rss_before_mb": rss_before,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "statuses": statuses,
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
    patch_users: dict[int, str] = {}
    for adds in (100, 250, 300, 500):
        from scim.http import Request

        request = Request.build(
            "POST",
            f"http://bench/scim/v2/{SMALL_TENANT}/Users",
            route_params={"tenant": SMALL_TENANT},
            headers={"Authorization": f"Bearer {TOKEN}"},
            body=json.dumps(user_body(f"patch{adds}-{uuid.uuid4().hex[:6]}@x.io")).encode(),
        )
        response = api.users_collection(request)
        patch_users[adds] = json.loads(response.body)["id"]
    print(f"seeded {BIG_USERS} users of {BIG_DISPLAY_NAME_CHARS // 1000} KB in {time.perf_counter() - started:.0f} s")
    return {"patch_users": patch_users}


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
        header = f"{'case':<12} {'what':<44} {'status':<16} {'cpu s':>7} {'wall s':>7} {'peak MB':>8} {'growth MB':>9}"
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
            print(
                f"{name:<12} {description:<44} {statuses:<16} {result['cpu_s']:>7.2f} {result['wall_s']:>7.2f} "
                f"{result['peak_rss_mb']:>8.0f} {growth:>9.0f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
