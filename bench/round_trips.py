"""Storage round trips and latency per SCIM operation, against Azurite, as ratios to a raw point read.

Run with `make bench`. Round trips are exact and stable; latencies on these machines are noisy, so each
figure is a median and is reported as a ratio to a raw Table Storage point read measured in the same run,
for two tenant sizes, so that "costs the same with 100 or 1,000 users" can be read off directly.
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from scim2_models import Context

from devhost.azurite import Azurite
from scim.api import ScimApi, build_api
from scim.http import Request, Response
from scim.models import USER_SCHEMA
from scim.resources.users import is_active
from scim.secrets import StaticSecretSource
from scim.settings import Settings
from scim.store import CountChange, LoadedResource, TableStorage, TenantRow, TenantTable, resource_key

TOKEN = "bench-token"
REPEAT = 30
SIZES = (100, 1000)
RAW = "raw Azurite point read (baseline)"
PATCH_DISABLE = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
}

WORK_EMAIL_FILTER = 'emails[type eq "work"].value eq "user7@contoso.com"'
Row = tuple[str, int, int, float]


def user_body(name: str) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "externalId": f"ext-{name}",
        "emails": [{"type": "work", "value": name}],
    }


class Bench:
    """Calls the SCIM handlers as the Functions host would, for one tenant, and counts round trips."""

    def __init__(self, api: ScimApi, storage: TableStorage, tenant: str) -> None:
        self.api = api
        self.storage = storage
        self.tenant = tenant

    def request(self, method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> Response:
        parts = path.strip("/").split("/")
        route = {"tenant": self.tenant}
        handler = self.api.users_collection
        if len(parts) == 2:
            route["id"] = parts[1]
            handler = self.api.user_item
        return handler(
            Request.build(
                method,
                f"http://bench/scim/v2/{self.tenant}/{path}",
                route_params=route,
                query=query or {},
                headers={"Authorization": f"Bearer {TOKEN}"},
                body=json.dumps(body).encode() if body is not None else b"",
            )
        )

    def search(self, expression: str) -> Response:
        return self.request("GET", "Users", query={"filter": expression})

    def measure(self, action: Callable[[], object]) -> tuple[int, float]:
        """Round trips of the first run, and the median latency in ms over REPEAT further runs."""
        before = self.storage.round_trips.count
        action()
        trips = self.storage.round_trips.count - before
        samples = []
        for _ in range(REPEAT):
            started = time.perf_counter()
            action()
            samples.append((time.perf_counter() - started) * 1000)
        return trips, statistics.median(samples)


def run_size(bench: Bench, size: int) -> list[Row]:
    for n in range(size):
        assert bench.request("POST", "Users", user_body(f"user{n}@contoso.com")).status == 201
    user_id = json.loads(bench.search('userName eq "user7@contoso.com"').body)["Resources"][0]["id"]
    client = bench.storage.table_client(bench.storage.table_name("Users"))
    created: list[str] = []

    def create() -> None:
        response = bench.request("POST", "Users", user_body(f"new-{uuid.uuid4().hex}@contoso.com"))
        created.append(json.loads(response.body)["id"])

    def delete() -> None:
        assert bench.request("DELETE", f"Users/{created.pop()}").status == 204

    operations: list[tuple[str, Callable[[], object]]] = [
        (RAW, lambda: client.get_entity(bench.tenant, resource_key(user_id))),
        ("Test Connection (userName eq <guid>)", lambda: bench.search(f'userName eq "{uuid.uuid4()}"')),
        ("GET /Users/{id}", lambda: bench.request("GET", f"Users/{user_id}")),
        ("filter userName eq", lambda: bench.search('userName eq "USER7@contoso.com"')),
        ("filter externalId eq", lambda: bench.search('externalId eq "ext-user7@contoso.com"')),
        ('filter emails[type eq "work"].value eq', lambda: bench.search(WORK_EMAIL_FILTER)),
        ("POST /Users", create),
        ("PATCH active (repeats change nothing)", lambda: bench.request("PATCH", f"Users/{user_id}", PATCH_DISABLE)),
        ("DELETE /Users/{id}", delete),
        ("unindexed filter (partition scan)", lambda: bench.search('displayName eq "x"')),
    ]
    return [(name, size, *bench.measure(action)) for name, action in operations]


def bench_api(azurite: Azurite, storage: TableStorage, tenants: list[str]) -> ScimApi:
    """The API over this storage, with the tenants registered and TOKEN as each one's Secret Token."""
    for tenant in tenants:  # tenants are registered before they are served
        TenantTable(storage).create(TenantRow(tenant, tenant, datetime.now(UTC), True, None))
    secrets = StaticSecretSource(dict.fromkeys(tenants, TOKEN))
    return build_api(Settings(storage_connection_string=azurite.connection_string), storage=storage, secrets=secrets)


def seed_users(api: ScimApi, tenant: str, count: int, prefix: str = "user") -> list[str]:
    """Users written straight through the store by four writers, their counts added once at the end.

    Seeding is not what is measured: it skips the counter row per user, which four writers on one tenant
    would otherwise contend for.
    """
    users = api.users
    now = datetime.now(UTC)

    def one(n: int) -> str:
        # Two rows a user (the user and its userName index): Azurite stores about a hundred rows a second.
        name = f"{prefix}{n}@contoso.com"
        body = {"schemas": [USER_SCHEMA], "userName": name, "emails": [{"value": name}]}
        user = users.parse(body, Context.RESOURCE_CREATION_REQUEST, USER_SCHEMA)
        user_id = uuid.uuid4().hex
        users.table.create(
            tenant, user_id, users.document(user), users.indexes(user), now, change=CountChange(), name=name
        )
        return user_id

    with ThreadPoolExecutor(max_workers=4) as pool:
        ids = list(pool.map(one, range(count)))
    users.table.adjust_counts(tenant, CountChange(total=count, active=count))
    api.groups.memberships.users.register(tenant, ids)  # their member-index entries, as POST /Users writes them
    return ids


def seed_users_in_transactions(
    api: ScimApi, tenant: str, count: int, prefix: str = "user", *, change_records: bool = False, writers: int = 2
) -> tuple[list[str], int]:
    """Users written straight through the store, as many to a transaction as fit; their ids and the transactions.

    The partition ends as if each user had been created by POST /Users (ResourceTable.create) and, unless
    ``change_records``, its "created" change record delivered and trimmed since (as the sweep does after the
    retention period): a resource row stamped with the Seq of that record, its index rows, and the counter
    row's Total, Active and Seq counting them all. Sequence numbers are handed out here, in order, so the
    transactions need not update the counter row and several writers never contend for it; the counter row
    is written once at the end. Without records, the registry's watermark says all were delivered; with them,
    they wait for the delivery sweep (none is handed to the queue publisher here).

    Azurite looks a row up by scanning its partition, so each write costs more as the partition grows: a
    change record is a third row per user, which makes seeding 20,000 users about twice as slow.
    """
    users = api.users
    loaded: list[LoadedResource] = []
    for n in range(count):
        name = f"{prefix}{n}@contoso.com"
        body = {"schemas": [USER_SCHEMA], "userName": name, "emails": [{"value": name}]}
        user = users.parse(body, Context.RESOURCE_CREATION_REQUEST, USER_SCHEMA)
        document = users.document(user)
        loaded.append(LoadedResource(uuid.uuid4().hex, document, users.indexes(user), name, is_active(user)))
    transactions = users.table.load(tenant, loaded, datetime.now(UTC), change_records=change_records, writers=writers)
    ids = [resource.id for resource in loaded]
    api.groups.memberships.users.register(tenant, ids)  # their member-index entries, as POST /Users writes them
    return ids, transactions


def main() -> None:
    with Azurite() as azurite:
        storage = TableStorage(connection_string=azurite.connection_string, table_prefix="bench")
        api = bench_api(azurite, storage, [f"bench{size}" for size in SIZES])
        rows: list[Row] = []
        for size in SIZES:
            rows += run_size(Bench(api, storage, f"bench{size}"), size)
        storage.close()

    raw_ms = {size: ms for name, size, _, ms in rows if name == RAW}
    print(f"{'operation':<46} {'users':>6} {'round trips':>11} {'median ms':>10} {'x raw read':>10}")
    for name, size, trips, ms in rows:
        print(f"{name:<46} {size:>6} {trips:>11} {ms:>10.2f} {ms / raw_ms[size]:>10.1f}")


if __name__ == "__main__":
    main()
