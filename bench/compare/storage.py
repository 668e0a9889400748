"""The storage client's share of our CPU per operation, for bench/compare/run.py; run in a fresh process.

Two measurements against the Azurite the comparison uses, printed as one JSON object:
- CPU seconds of this process per bare azure-data-tables call (create_entity, get_entity, and a four-row
  submit_transaction, the shape of our writes: resource row, index row, counter row, change record), made
  through the client our store uses (scim.store.TableStorage: its transport and transaction envelope), in a
  loop with nothing else to do;
- storage round trips of each of the comparison's operations through our handlers in process (as
  bench/round_trips.py counts them), split into reads (GET) and writes (any other method).

    python -m bench.compare.storage --connection-string "..." --calls 300
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
import time
import uuid
from typing import Any

from azure.data.tables import TableClient

from bench.compare.load import SHAPES, user_body

DOCUMENT = "x" * 700
"""About the size of a user's stored document in the comparison's load."""


def sdk_cpu_per_call(connection_string: str, calls: int) -> dict[str, float]:
    from scim.store import TableStorage

    storage = TableStorage(connection_string=connection_string, table_prefix="calib")
    table: TableClient = storage.table_client(f"calib{uuid.uuid4().hex[:12]}")
    table.create_table()
    keys = [uuid.uuid4().hex for _ in range(calls)]

    def create(key: str) -> None:
        table.create_entity({"PartitionKey": "p", "RowKey": key, "Document0": DOCUMENT, "Seq": 1})

    def get(key: str) -> None:
        table.get_entity("p", key)

    def transact(key: str) -> None:
        table.submit_transaction(
            [("create", {"PartitionKey": "t", "RowKey": f"{key}{n}", "Document0": DOCUMENT}) for n in range(4)]
        )

    out: dict[str, float] = {}
    for name, action in (("create_entity", create), ("get_entity", get), ("submit_transaction(4)", transact)):
        for key in [uuid.uuid4().hex for _ in range(20)] if name != "get_entity" else keys[:20]:
            action(key)  # warm-up: connection, first-call imports
        started_cpu, started = time.process_time(), time.perf_counter()
        for key in keys:
            action(key)
        out[name] = (time.process_time() - started_cpu) / calls
        out[f"{name} wall"] = (time.perf_counter() - started) / calls
    table.delete_table()
    storage.close()
    return out


class MethodCounter:
    """A raw_request_hook that counts requests by kind: GET is a read, anything else a write."""

    def __init__(self) -> None:
        self.reads = 0
        self.writes = 0
        self._lock = threading.Lock()

    def __call__(self, request: Any) -> None:
        with self._lock:
            if request.http_request.method.upper() == "GET":
                self.reads += 1
            else:
                self.writes += 1


def round_trips(connection_string: str) -> dict[str, list[int]]:
    """[reads, writes] of each operation of the load, through our handlers in process."""
    from bench.round_trips import Bench, bench_api
    from scim.store import TableStorage

    class _Azurite:  # bench_api reads only the connection string
        pass

    azurite: Any = _Azurite()
    azurite.connection_string = connection_string
    storage = TableStorage(connection_string=connection_string, table_prefix="calib")
    counter = MethodCounter()
    storage.round_trips = counter  # type: ignore[assignment]
    tenant = f"calib{uuid.uuid4().hex[:8]}"
    bench = Bench(bench_api(azurite, storage, [tenant]), storage, tenant)

    def counted(method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> tuple[Any, int, int]:
        reads, writes = counter.reads, counter.writes
        response = bench.request(method, path, body, query)
        if response.status >= 300:
            raise RuntimeError(f"{method} {path}: {response.status} {response.body[:300]!r}")
        return response, counter.reads - reads, counter.writes - writes

    def create(name: str) -> str:
        return str(json.loads(bench.request("POST", "Users", user_body(name)).body)["id"])

    bench.search(f'userName eq "{uuid.uuid4()}"')  # warm the tenant and token caches
    manager = create(f"manager-{tenant}@contoso.com")
    bench.request("GET", f"Users/{manager}")  # the first read of a user creates the groups table once
    trips: dict[str, list[int]] = {}
    name = f"u-{tenant}@contoso.com"
    _, *trips["filter miss"] = counted("GET", "Users", query={"filter": f'userName eq "{name}"'})
    response, *trips["POST /Users"] = counted("POST", "Users", user_body(name))
    _, *trips["GET /Users/{id}"] = counted("GET", f"Users/{json.loads(response.body)['id']}")
    for n, shape in enumerate(SHAPES.values()):
        for variant, build in (("", shape.entra), (" (fallback)", shape.fallback)):
            if build is not None:  # each on a user of its own, so that every PATCH changes something
                user = f"p{n}{variant.strip(' ()')}-{name}"
                path = f"Users/{create(user)}"
                _, *trips[f"PATCH {shape.name}{variant}"] = counted("PATCH", path, build(user, manager))
    storage.close()
    return trips


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connection-string", required=True)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args(argv)
    logging.getLogger("scim").setLevel(logging.ERROR)  # the activity recorder's notes are not the result
    result: dict[str, Any] = {"cpu_per_call": sdk_cpu_per_call(args.connection_string, args.calls)}
    result["round_trips"] = round_trips(args.connection_string)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
