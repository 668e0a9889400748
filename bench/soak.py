"""Soak run (issue 10; not in CI): a whole Entra cycle of N users (default 10,000) from C concurrent clients
(default 8) through the in-process API, with random storage faults injected at the SDK's transport.

Each client provisions its share the way Entra does: look up, create, set managers, create groups, add
members 50 a PATCH, disable every tenth user, delete every twentieth; an answer of 429 or 5xx is retried
(up to 6 times, with a pause), as Entra retries. At the end, with storage healthy, it reads the partition
and reports: operations by status, faults injected, 5xx answered, invariant violations
(scim.platform.invariants), and resources lost or duplicated against the expected final state.

    make soak                      # 10,000 users, 8 clients, 2% of storage requests failing
    python -m bench.soak --users 1000 --clients 8 --fault-rate 0.05
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from devhost.azurite import Azurite
from scim.platform.invariants import check_tenant
from scim.store import RetryBudget, TableStorage
from tests.entra_cycle import ENTERPRISE, GROUP, PATCH, Client, in_process_api, stored_state, user_body
from tests.faults import FaultTransport

RETRIES = 6
MEMBERS_PER_PATCH = 50


class Soak:
    def __init__(self, api: Any, tenant: str, users: int, clients: int, groups_per_client: int) -> None:
        self.api = api
        self.tenant = tenant
        self.per_client = users // clients
        self.clients = clients
        self.groups_per_client = groups_per_client
        self.statuses: Counter[int] = Counter()
        self.gave_up = 0
        self.lock = threading.Lock()

    def request(self, client: Client, *args: Any, ok: tuple[int, ...], **kwargs: Any) -> Any:
        """Entra's retry of one call: 429/5xx retried after a pause; other answers are final."""
        for attempt in range(RETRIES):
            status, body = client.call(*args, **kwargs)
            if status in ok:
                return body
            if status != 429 and status < 500:
                raise RuntimeError(f"unexpected {status}: {body}")
            time.sleep(0.05 * (attempt + 1))
        with self.lock:
            self.gave_up += 1
        return None

    def run_client(self, c: int) -> Counter[int]:
        client = Client(self.api, self.tenant)
        prefix = f"s{c}x"
        ids: dict[int, str] = {}
        for n in range(self.per_client):
            name = user_body(n, prefix)["userName"]
            found = self.request(
                client, "users_collection", "GET", query={"filter": f'userName eq "{name}"'}, ok=(200,)
            )
            if found and found["Resources"]:
                ids[n] = found["Resources"][0]["id"]
                continue
            created = self.request(client, "users_collection", "POST", body=user_body(n, prefix), ok=(201, 409))
            if created and "id" in created:
                ids[n] = created["id"]
            elif created:  # 409: an earlier attempt was stored though its answer was lost; Entra matches it
                found = self.request(
                    client, "users_collection", "GET", query={"filter": f'userName eq "{name}"'}, ok=(200,)
                )
                if found and found["Resources"]:
                    ids[n] = found["Resources"][0]["id"]
        for n in range(self.per_client):
            manager = (n // 10) * 10
            if n % 10 and n in ids and manager in ids:
                op = {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": ids[manager]}
                self.request(
                    client, "user_item", "PATCH", ids[n], {"schemas": [PATCH], "Operations": [op]}, ok=(200, 204)
                )
        for g in range(self.groups_per_client):
            name = f"S{c}G{g}"
            found = self.request(
                client, "groups_collection", "GET", query={"filter": f'displayName eq "{name}"'}, ok=(200,)
            )
            if found and found["Resources"]:
                gid = found["Resources"][0]["id"]
            else:
                created = self.request(
                    client, "groups_collection", "POST", body={"schemas": [GROUP], "displayName": name}, ok=(201, 409)
                )
                if created and "id" not in created:  # 409: an earlier attempt was stored; match it as Entra does
                    created = self.request(
                        client, "groups_collection", "GET", query={"filter": f'displayName eq "{name}"'}, ok=(200,)
                    )
                    created = (created or {}).get("Resources", [None])[0] if created else None
                if not created:
                    continue
                gid = created["id"]
            members = [ids[n] for n in range(self.per_client) if n % self.groups_per_client == g and n in ids]
            for start in range(0, len(members), MEMBERS_PER_PATCH):
                value = [{"value": uid} for uid in members[start : start + MEMBERS_PER_PATCH]]
                ops = [{"op": "Add", "path": "members", "value": value}]
                self.request(client, "group_item", "PATCH", gid, {"schemas": [PATCH], "Operations": ops}, ok=(200, 204))
        for n in range(self.per_client):
            if n % 10 == 3 and n in ids:
                op = {"op": "Replace", "path": "active", "value": False}
                self.request(
                    client, "user_item", "PATCH", ids[n], {"schemas": [PATCH], "Operations": [op]}, ok=(200, 204)
                )
        for n in range(self.per_client):
            if n % 20 == 19 and n in ids:
                self.request(client, "user_item", "DELETE", ids[n], ok=(204, 404))
        return client.statuses

    def expected(self) -> dict[str, Any]:
        users: dict[str, Any] = {}
        groups: dict[str, list[str]] = {}
        for c in range(self.clients):
            prefix = f"s{c}x"
            names = {n: user_body(n, prefix)["userName"] for n in range(self.per_client) if n % 20 != 19}
            for n, name in names.items():
                users[name] = {"active": n % 10 != 3, "manager": names[(n // 10) * 10] if n % 10 else None}
            for g in range(self.groups_per_client):
                groups[f"S{c}G{g}"] = sorted(name for n, name in names.items() if n % self.groups_per_client == g)
        return {"users": users, "groups": groups}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--groups-per-client", type=int, default=5)
    parser.add_argument("--fault-rate", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=10)
    args = parser.parse_args(argv)

    logging.getLogger("scim").setLevel(logging.ERROR)  # one line per request would swamp the report
    with Azurite() as azurite:
        transport = FaultTransport(RetryBudget(retries=1, backoff_seconds=0.05, max_sleep_seconds=0.2))
        storage = TableStorage(connection_string=azurite.connection_string, table_prefix="soak", transport=transport)
        tenant = f"t-{uuid.uuid4().hex[:16]}"
        soak = Soak(in_process_api(storage), tenant, args.users, args.clients, args.groups_per_client)
        transport.fail_randomly(args.fault_rate, args.seed)
        started = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            for statuses in pool.map(soak.run_client, range(args.clients)):
                soak.statuses += statuses
        elapsed = time.perf_counter() - started
        transport.healthy()
        report = check_tenant(storage, tenant)
        state = stored_state(storage, tenant)
        expected = soak.expected()
        lost_users = sorted(set(expected["users"]) - set(state["users"]))
        extra_users = sorted(set(state["users"]) - set(expected["users"]))
        wrong_users = sorted(
            n for n in expected["users"] if n in state["users"] and state["users"][n] != expected["users"][n]
        )
        lost_groups = sorted(set(expected["groups"]) - set(state["groups"]))
        wrong_groups = sorted(
            g for g in expected["groups"] if g in state["groups"] and state["groups"][g] != expected["groups"][g]
        )
        result = {
            "users": args.users,
            "clients": args.clients,
            "faultRate": args.fault_rate,
            "seconds": round(elapsed, 1),
            "operations": sum(soak.statuses.values()),
            "operationsPerSecond": round(sum(soak.statuses.values()) / elapsed, 1),
            "byStatus": {str(k): v for k, v in sorted(soak.statuses.items())},
            "storageRequests": transport.sent,
            "faultsInjected": transport.injected,
            "answered5xx": sum(v for k, v in soak.statuses.items() if k >= 500),
            "answered500": soak.statuses.get(500, 0),
            "gaveUpAfterRetries": soak.gave_up,
            "invariantViolations": len(report.violations),
            "violations": [v.__dict__ for v in report.violations[:10]],
            "lostUsers": len(lost_users),
            "unexpectedUsers": len(extra_users),
            "usersInWrongState": len(wrong_users),
            "lostGroups": len(lost_groups),
            "groupsWithWrongMembers": len(wrong_groups),
            "storedUsers": report.resources.get("Users"),
            "storedGroups": report.resources.get("Groups"),
            "memberships": report.memberships,
        }
        storage.close()
    print(json.dumps(result, indent=2))
    bad = result["invariantViolations"] or result["lostUsers"] or result["unexpectedUsers"] or result["answered500"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
