"""What publishing a change adds to a SCIM write, against Azurite: storage round trips and latency ratios.

Run with `make bench`. Each write is measured three ways in the same run: with change records but no queue
(the commit alone), with the publisher on and the write timed until its request returns (what Entra sees),
and the background cost per write (queue messages sent and registry merges), counted after a flush.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

from devhost.azurite import Azurite
from scim.platform.delivery import Delivery
from scim.resources.users import UserService
from scim.store import ChangeQueue, TableStorage
from scim.wiring import build_change_log

REPEAT = 40
DISABLE = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
}
ENABLE = {**DISABLE, "Operations": [{"op": "Replace", "path": "active", "value": "True"}]}


def body() -> dict[str, Any]:
    name = f"{uuid.uuid4().hex}@contoso.com"
    return {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, "emails": [{"value": name}]}


def measure(storage: TableStorage, action: Callable[[], object]) -> tuple[float, float]:
    """Mean table round trips per run and median ms, over REPEAT runs after one warm-up."""
    action()
    before = storage.round_trips.count
    samples = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return (storage.round_trips.count - before) / REPEAT, statistics.median(samples)


def main() -> None:
    with Azurite() as azurite:
        storage = TableStorage(connection_string=azurite.connection_string, table_prefix="benchdelivery")
        users = UserService(storage.resources("Users"))
        queue = ChangeQueue("bench-changes", connection_string=azurite.connection_string)
        tenant = "bench"
        uid = str(users.create(tenant, body()).id)
        flip = [DISABLE, ENABLE]

        def patch() -> None:
            flip.reverse()
            users.patch(tenant, uid, flip[0])

        operations: list[tuple[str, Callable[[], object]]] = [
            ("POST /Users", lambda: users.create(tenant, body())),
            ("PATCH active (a change each time)", patch),
        ]
        print(f"{'operation':<36} {'publish':>8} {'table trips':>11} {'median ms':>10} {'ratio':>6} {'bg trips':>9}")
        for name, action in operations:
            storage.resources("Users").on_commit = None
            trips_off, ms_off = measure(storage, action)
            delivery = Delivery(build_change_log(storage).streams, queue)
            delivery.attach(storage.resources("Users"))
            queue_before, table_before = queue.round_trips.count, storage.round_trips.count
            trips_on, ms_on = measure(storage, action)
            delivery.flush(60)
            runs = REPEAT + 1
            background = (queue.round_trips.count - queue_before + storage.round_trips.count - table_before) / runs
            background -= trips_on * REPEAT / runs
            print(f"{name:<36} {'off':>8} {trips_off:>11.2f} {ms_off:>10.2f} {1.0:>6.2f} {0:>9}")
            print(f"{name:<36} {'on':>8} {trips_on:>11.2f} {ms_on:>10.2f} {ms_on / ms_off:>6.2f} {background:>9.2f}")
        queue.close()
        storage.close()


if __name__ == "__main__":
    main()
