"""Where a SCIM request's CPU goes (issue 11): Entra's new-user pattern and PATCH mix through `function_app`.

Requests go through the same dispatch as the local host (devhost.server.FunctionsHost: a func.HttpRequest
per call, the app's trigger, scim.api) against a fresh in-memory Azurite, one at a time, so the process's
CPU time per operation is ours plus the storage client's; Azurite's is another process. The storage
client's own share is calibrated in the same run by a bare loop of `get_entity` calls.

    python -m bench.profile                 # CPU ms per operation, round trips, storage client's share
    python -m bench.profile --profile 25    # also cProfile: the top 25 functions by own time
    python -m bench.profile --cold-start    # where a cold start's time goes, up to the first Test Connection
    python -m bench.profile --memory        # the same on scim.store.MemoryStorage: our own path, no storage client
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

from devhost.azurite import ROOT, Azurite

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def new_user(n: int) -> dict[str, Any]:
    name = f"prof{n}-{uuid.uuid4().hex[:6]}@contoso.com"
    return {
        "schemas": [USER, ENTERPRISE],
        "externalId": uuid.uuid4().hex,
        "userName": name,
        "active": True,
        "displayName": f"Profile User {n}",
        "name": {"givenName": "Profile", "familyName": f"User {n}", "formatted": f"Profile User {n}"},
        "emails": [{"primary": True, "type": "work", "value": name}],
        "title": "Engineer",
        "addresses": [{"type": "work", "country": "NL", "locality": "Utrecht", "primary": False}],
        ENTERPRISE: {"department": "R&D", "employeeNumber": str(n)},
    }


def patch_mix(n: int, manager: str) -> list[dict[str, Any]]:
    """Entra's PATCH shapes: attribute replace with a path, path-less replace, manager, disable."""
    return [
        {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "title", "value": f"Lead {n}"}]},
        {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"displayName": f"Renamed {n}"}}]},
        {"schemas": [PATCH], "Operations": [{"op": "Add", "path": f"{ENTERPRISE}:manager", "value": manager}]},
        {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]},
    ]


class Driver:
    """Calls the app's triggers the way the local host does, and keeps CPU time and round trips per op."""

    def __init__(self, tenant: str, token: str) -> None:
        import json

        import function_app
        from devhost.server import FunctionsHost, read_route_prefix

        self.json = json
        self.host = FunctionsHost(function_app.app, read_route_prefix(ROOT / "host.json"))
        self.tenant = tenant
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
        self.cpu: dict[str, list[float]] = {}

    def call(self, op: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = self.json.dumps(body).encode() if body is not None else b""
        started = time.thread_time()
        status, _headers, raw = self.host.dispatch(
            method, f"/scim/v2/{self.tenant}/{path}", dict(self.headers), data, "http://127.0.0.1:7071"
        )
        self.cpu.setdefault(op, []).append(time.thread_time() - started)
        return status, self.json.loads(raw) if raw else None


def round_of(driver: Driver, n: int, manager: str) -> None:
    body = new_user(n)
    status, _ = driver.call("filter miss", "GET", f'Users?filter=userName+eq+"{body["userName"]}"')
    assert status == 200, status
    status, created = driver.call("POST", "POST", "Users", body)
    assert status == 201, (status, created)
    uid = created["id"]
    status, _ = driver.call("GET by id", "GET", f"Users/{uid}")
    assert status == 200, status
    for patch in patch_mix(n, manager):
        status, answer = driver.call("PATCH", "PATCH", f"Users/{uid}", patch)
        assert status in (200, 204), (status, answer)


def storage_client_ms(connection_string: str, calls: int = 300) -> float:
    """CPU ms of one bare azure-data-tables get_entity round trip (the storage client's own cost)."""
    from azure.data.tables import TableServiceClient

    service = TableServiceClient.from_connection_string(connection_string)
    table = service.create_table_if_not_exists("profcalibrate")
    table.upsert_entity({"PartitionKey": "p", "RowKey": "r", "Document0": "x" * 600})
    for _ in range(20):
        table.get_entity("p", "r")
    started = time.thread_time()
    for _ in range(calls):
        table.get_entity("p", "r")
    return (time.thread_time() - started) * 1000 / calls


def measure(driver: Driver, rounds: int, manager: str, profiler: cProfile.Profile | None) -> None:
    run: Callable[[], None] = lambda: [round_of(driver, n, manager) for n in range(rounds)] and None  # noqa: E731
    if profiler is None:
        run()
    else:
        profiler.runcall(run)


BUCKETS = (
    ("scim2_models", "scim2-models"),
    ("/pydantic", "pydantic"),
    ("/azure/data/tables", "azure-data-tables"),
    ("/azure/core", "azure-core"),
    ("/requests/", "requests"),
    ("/urllib3/", "urllib3"),
    ("/azure/functions", "azure-functions"),
    (str(ROOT / "scim") + "/", "scim (ours)"),
    ("/devhost/", "devhost"),
    ("/email/", "stdlib email (multipart parsing)"),
    ("/http/client", "stdlib http.client"),
    ("/json/", "stdlib json"),
    ("/concurrent/", "stdlib concurrent.futures"),
    ("/threading", "stdlib threading"),
)


def print_buckets(profiler: cProfile.Profile, operations: int) -> None:
    """Own CPU time per operation, summed by the package the function belongs to."""
    stats = pstats.Stats(profiler)
    totals: dict[str, float] = {}
    for (filename, _line, name), row in stats.stats.items():  # type: ignore[attr-defined]
        own = row[2]
        bucket = next((label for key, label in BUCKETS if key in filename), None)
        if bucket is None:
            bucket = "builtins / C" if filename == "~" else "stdlib / other"
            if filename == "~" and ("socket" in name or "select" in name or "poll" in name):
                bucket = "sockets (syscalls)"
        totals[bucket] = totals.get(bucket, 0.0) + own
    print(f"{'own CPU by package':<36} {'ms/op':>7}")
    for bucket, seconds in sorted(totals.items(), key=lambda item: -item[1]):
        print(f"{bucket:<36} {seconds * 1000 / operations:>7.2f}")


def since_process_start() -> float:
    """Seconds since this process was created (/proc/self/stat starttime), interpreter start-up included."""
    fields = open("/proc/self/stat").read().rsplit(")", 1)[1].split()  # noqa: SIM115 - a one-shot read
    started = int(fields[19]) / os.sysconf("SC_CLK_TCK")
    uptime = float(open("/proc/uptime").read().split()[0])  # noqa: SIM115
    return uptime - started


def cold_start() -> None:
    """Run first in a fresh process: the steps from process start to the first answered Test Connection."""
    steps = [("interpreter and site start-up", since_process_start())]
    last = time.perf_counter()

    def step(name: str) -> None:
        nonlocal last
        now = time.perf_counter()
        steps.append((name, now - last))
        last = now

    import pydantic  # noqa: F401

    step("import pydantic (and pydantic-core)")
    import scim2_models  # noqa: F401

    step("import scim2_models (builds its models)")
    import azure.functions

    step("import azure.functions (and werkzeug)")
    import azure.data.tables  # noqa: F401

    step("import azure.data.tables (and azure-core, requests)")
    import function_app  # noqa: F401 - nothing in it touches settings or the network at import

    step("import function_app (scim.*: our models, routes, store)")
    paused = time.perf_counter()  # set-up, not part of a cold start: Azurite, the tenant and its token
    with Azurite() as azurite:
        os.environ["SCIM_STORAGE_CONNECTION_STRING"] = azurite.connection_string
        os.environ["SCIM_SECRET_SOURCE"] = "local"
        os.environ["SCIM_STATE_DIR"] = str(ROOT / ".local" / f"profile-{os.getpid()}")
        os.environ["SCIM_TABLE_PREFIX"] = "cold"
        os.environ["SCIM_PUBLIC_BASE_URL"] = "http://127.0.0.1:7071"
        from devhost.run import demo_tenant

        _url, token = demo_tenant("cold")
        time.sleep(2.0)  # Azurite's own start-up work settles, so that it does not compete for the CPU
        last += time.perf_counter() - paused
        driver = Driver("cold", token)
        step("host routes collected")
        status, _ = driver.call("test", "GET", f'Users?filter=userName+eq+"{uuid.uuid4()}"')
        assert status == 200, status
        step("first Test Connection (build_api, tenant, token, 1 storage call)")
        driver.call("test", "GET", f'Users?filter=userName+eq+"{uuid.uuid4()}"')
        step("second Test Connection (warm)")
    total = sum(seconds for name, seconds in steps if not name.startswith("second"))
    for name, seconds in steps:
        print(f"{name:<64} {seconds * 1000:>7.0f} ms")
    print(f"{'process start to first Test Connection answered':<64} {total * 1000:>7.0f} ms")


def main() -> None:
    if "--cold-start" in sys.argv:
        cold_start()
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=150)
    parser.add_argument("--profile", type=int, default=0, help="print the top N functions by own time")
    parser.add_argument("--memory", action="store_true", help="on scim.store.MemoryStorage: no Azurite, no SDK")
    args = parser.parse_args()
    if args.memory:
        profile_on_memory(args)
        return
    with Azurite() as azurite:
        os.environ["SCIM_STORAGE_CONNECTION_STRING"] = azurite.connection_string
        os.environ["SCIM_SECRET_SOURCE"] = "local"
        state = ROOT / ".local" / f"profile-{os.getpid()}"
        os.environ["SCIM_STATE_DIR"] = str(state)
        os.environ["SCIM_TABLE_PREFIX"] = "prof"
        os.environ["SCIM_PUBLIC_BASE_URL"] = "http://127.0.0.1:7071"
        from devhost.run import demo_tenant

        started = time.perf_counter()
        _url, token = demo_tenant("prof")
        driver = Driver("prof", token)
        print(f"(setup {time.perf_counter() - started:.1f} s)")
        status, manager = driver.call("POST", "POST", "Users", new_user(-1))
        assert status == 201, manager
        measure(driver, 20, manager["id"], None)  # warm-up: caches, connections, lazy imports
        driver.cpu.clear()

        # CPU time of this thread, not wall time: waiting for Azurite costs nothing here.
        profiler = cProfile.Profile(time.thread_time) if args.profile else None
        measure(driver, args.rounds, manager["id"], profiler)
        client_ms = storage_client_ms(azurite.connection_string)
        print_results(driver, profiler, args.profile)
        print(f"bare get_entity: {client_ms:.2f} CPU ms per round trip")


def print_results(driver: Driver, profiler: cProfile.Profile | None, top: int) -> None:
    print(f"{'operation':<12} {'n':>5} {'CPU ms/op':>10}")
    for op, samples in driver.cpu.items():
        print(f"{op:<12} {len(samples):>5} {sum(samples) * 1000 / len(samples):>10.2f}")
    if profiler is not None:
        print_buckets(profiler, sum(len(v) for v in driver.cpu.values()))
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats("tottime").print_stats(top)
        stats.sort_stats("cumulative").print_stats(top * 2)
        print(out.getvalue())


def profile_on_memory(args: argparse.Namespace) -> None:
    """The same rounds with the app on scim.store.MemoryStorage (as devhost.serve --memory-store runs it)."""
    from devhost.serve import use_memory_store
    from scim.secrets import build_secret_store, new_token, secret_name
    from scim.settings import Settings

    state = ROOT / ".local" / f"profile-{os.getpid()}"
    os.environ["SCIM_SECRET_SOURCE"] = "local"
    os.environ["SCIM_STATE_DIR"] = str(state)
    os.environ["SCIM_PUBLIC_BASE_URL"] = "http://127.0.0.1:7071"
    token = new_token()
    settings = Settings(secret_source="local", local_secrets_path=state / "secrets.json")
    build_secret_store(settings, operator=True).add_version(secret_name("prof"), token)
    use_memory_store(["prof"])
    driver = Driver("prof", token)
    status, manager = driver.call("POST", "POST", "Users", new_user(-1))
    assert status == 201, manager
    measure(driver, 20, manager["id"], None)
    driver.cpu.clear()
    profiler = cProfile.Profile(time.thread_time) if args.profile else None
    measure(driver, args.rounds, manager["id"], profiler)
    print_results(driver, profiler, args.profile)


if __name__ == "__main__":
    main()
