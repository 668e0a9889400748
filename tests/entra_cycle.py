"""A scripted Entra provisioning cycle, in-process through ScimApi (no HTTP server), as Entra runs it:
look each object up by its matching attribute, create it if missing, then patch; a 5xx fails that object
for this cycle and the next cycle retries it. Used by the fault sweep, the log test and the soak run.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from scim.api.scim import ScimApi
from scim.auth import TenantAuthenticator
from scim.http import Request, Response
from scim.platform.tenants import Tenant, TenantDirectory
from scim.resources.groups import GroupService
from scim.resources.users import UserService
from scim.settings import Settings
from scim.store import TableStorage, membership_of

TOKEN = "cycle-secret-token-0123456789abcdefghijklmnopqrstuvwxyz"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class _Directory:
    def __init__(self, limit: int | None) -> None:
        self.limit = limit

    def lookup(self, tenant_id: str, *, refresh: bool = False) -> Tenant:
        return Tenant(tenant_id, tenant_id, datetime(2026, 1, 1, tzinfo=UTC), True, self.limit)


class _Tokens:
    def tenant_tokens(self, tenant: str, *, refresh: bool = False) -> tuple[str, ...]:
        return (TOKEN,)


def in_process_api(storage: TableStorage, *, active_limit: int | None = None) -> ScimApi:
    """The real API over real storage; only tenant records and tokens are stand-ins (no storage calls)."""
    groups = GroupService(storage.resources("Groups"), storage.resources("Users"))
    users = UserService(storage.resources("Users"), memberships=groups.memberships)
    auth = TenantAuthenticator(cast(TenantDirectory, _Directory(active_limit)), _Tokens())
    return ScimApi(Settings(), users, auth, groups)


@dataclass
class Client:
    """Entra's side: sends requests, records each answer's status."""

    api: ScimApi
    tenant: str
    statuses: Counter[int] = field(default_factory=Counter)

    def call(
        self, route: str, method: str, rid: str | None = None, body: Any = None, query: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        path = f"http://localhost/scim/v2/{self.tenant}/{'Users' if route.startswith('user') else 'Groups'}"
        params = {"tenant": self.tenant}
        if rid is not None:
            params["id"] = rid
            path += f"/{rid}"
        request = Request.build(
            method,
            path,
            route_params=params,
            query=query or {},
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/scim+json"},
            body=json.dumps(body).encode() if body is not None else b"",
        )
        handler: Callable[[Request], Response] = getattr(self.api, route)
        response = handler(request)
        self.statuses[response.status] += 1
        return response.status, json.loads(response.body) if response.body else None

    def find(self, route: str, attribute: str, value: str) -> str | None:
        """Entra's matching query; raises _Failed on an error answer."""
        status, body = self.call(route, "GET", query={"filter": f'{attribute} eq "{value}"'})
        if status != 200:
            raise _Failed(status)
        resources = body.get("Resources") or []
        return str(resources[0]["id"]) if resources else None


class _Failed(Exception):
    def __init__(self, status: int) -> None:
        self.status = status


def user_body(n: int, prefix: str) -> dict[str, Any]:
    name = f"{prefix}{n}@contoso.test"
    return {
        "schemas": [USER, ENTERPRISE],
        "userName": name,
        "externalId": f"ext-{prefix}{n}",
        "active": True,
        "displayName": f"Person {prefix}{n}",
        "name": {"givenName": "Person", "familyName": f"{prefix}{n}"},
        "emails": [{"primary": True, "type": "work", "value": name}],
        ENTERPRISE: {"department": "Sales"},
    }


@dataclass
class Plan:
    """One cycle's objects: users 0..n-1; user 1 reports to user 0; the last user is deleted, user 2 disabled;
    every group gets every user but the last, then loses user 1."""

    users: int = 4
    groups: int = 1
    prefix: str = "u"

    def expected(self) -> dict[str, Any]:
        names = [f"{self.prefix}{n}@contoso.test" for n in range(self.users - 1)]
        return {
            "users": {
                name: {"active": n != 2, "manager": names[0] if n == 1 else None} for n, name in enumerate(names)
            },
            "groups": {
                f"G{self.prefix}{g}": sorted(name for n, name in enumerate(names) if n != 1) for g in range(self.groups)
            },
        }


def run_cycle(client: Client, plan: Plan) -> int:
    """One provisioning cycle; returns how many objects failed (a 5xx or other error), to retry next cycle."""
    failed = 0
    ids: dict[int, str] = {}

    def step(action: Callable[[], None]) -> None:
        nonlocal failed
        try:
            action()
        except _Failed:
            failed += 1

    def ok(status: int, *allowed: int) -> None:
        if status not in allowed:
            raise _Failed(status)

    def ensure_user(n: int) -> None:
        body = user_body(n, plan.prefix)
        found = client.find("users_collection", "userName", body["userName"])
        if found is None:
            status, created = client.call("users_collection", "POST", body=body)
            ok(status, 201)
            found = str(created["id"])
        ids[n] = found

    for n in range(plan.users):
        step(lambda n=n: ensure_user(n))

    def patch_user(n: int, operations: list[dict[str, Any]]) -> None:
        if n not in ids:
            raise _Failed(0)
        status, _ = client.call("user_item", "PATCH", ids[n], {"schemas": [PATCH], "Operations": operations})
        ok(status, 200, 204)

    if plan.users > 1:
        step(lambda: patch_user(1, [{"op": "Add", "path": f"{ENTERPRISE}:manager", "value": ids.get(0, "")}]))

    group_ids: dict[int, str] = {}

    def ensure_group(g: int) -> None:
        name = f"G{plan.prefix}{g}"
        found = client.find("groups_collection", "displayName", name)
        if found is None:
            status, created = client.call(
                "groups_collection", "POST", body={"schemas": [GROUP], "displayName": name, "externalId": name}
            )
            ok(status, 201)
            found = str(created["id"])
        group_ids[g] = found

    def members(g: int, op: str, which: list[int]) -> None:
        if g not in group_ids or any(n not in ids for n in which):
            raise _Failed(0)
        value = [{"value": ids[n]} for n in which]
        body = {"schemas": [PATCH], "Operations": [{"op": op, "path": "members", "value": value}]}
        status, _ = client.call("group_item", "PATCH", group_ids[g], body)
        ok(status, 200, 204)

    for g in range(plan.groups):
        step(lambda g=g: ensure_group(g))
        step(lambda g=g: members(g, "Add", list(range(plan.users - 1))))
    if plan.users > 2:
        step(lambda: patch_user(2, [{"op": "Replace", "path": "active", "value": False}]))

    def delete_last() -> None:
        n = plan.users - 1
        if n not in ids:
            raise _Failed(0)
        status, _ = client.call("user_item", "DELETE", ids[n])
        ok(status, 204, 404)

    step(delete_last)
    for g in range(plan.groups):
        if plan.users > 1:
            step(lambda g=g: members(g, "Remove", [1]))
    return failed


def final_state(client: Client) -> dict[str, Any]:
    """What Entra would see: users by userName (active, manager's userName), groups by name (members' userNames).
    Raises AssertionError on a duplicate."""
    status, body = client.call("users_collection", "GET", query={"count": "1000"})
    assert status == 200, body
    by_id = {r["id"]: r for r in body["Resources"]}
    names = [r["userName"] for r in by_id.values()]
    assert len(names) == len(set(names)), f"duplicate users: {Counter(names).most_common(3)}"
    users = {}
    for r in by_id.values():
        manager = (r.get(ENTERPRISE) or {}).get("manager") or {}
        manager_name = by_id[manager["value"]]["userName"] if manager.get("value") in by_id else None
        users[r["userName"]] = {"active": r.get("active") is not False, "manager": manager_name}
    status, body = client.call("groups_collection", "GET", query={"count": "1000"})
    assert status == 200, body
    group_names = [g["displayName"] for g in body["Resources"]]
    assert len(group_names) == len(set(group_names)), f"duplicate groups: {Counter(group_names).most_common(3)}"
    groups = {}
    for g in body["Resources"]:
        status, full = client.call("group_item", "GET", g["id"])
        assert status == 200, full
        groups[g["displayName"]] = sorted(by_id[m["value"]]["userName"] for m in full.get("members") or [])
    return {"users": users, "groups": groups}


def stored_state(storage: TableStorage, tenant: str) -> dict[str, Any]:
    """final_state read straight from the partitions (a scan of each, and the membership rows)."""
    users: dict[str, dict[str, Any]] = {}
    names: dict[str, str] = {}
    managers: dict[str, str | None] = {}
    for stored in storage.resources("Users").scan(tenant):
        doc = stored.document
        name = str(doc["userName"])
        assert name not in users, f"duplicate user {name}"
        names[stored.id] = name
        users[name] = {"active": doc.get("active") is not False}
        managers[name] = ((doc.get(ENTERPRISE) or {}).get("manager") or {}).get("value")
    for name, manager in managers.items():
        users[name]["manager"] = names.get(manager) if manager else None
    groups: dict[str, list[str]] = {}
    group_names: dict[str, str] = {}
    members: list[tuple[str, str]] = []
    for stored in storage.resources("Groups").scan(tenant):
        name = str(stored.document["displayName"])
        assert name not in groups, f"duplicate group {name}"
        group_names[stored.id] = name
        groups[name] = []
    for row in storage.resources("Groups").rows(tenant):
        pair = membership_of(str(row["RowKey"]))
        if pair is not None and pair[0]:
            members.append((pair[1], pair[2]))
    for gid, uid in members:
        groups[group_names[gid]].append(names[uid])
    return {"users": users, "groups": {g: sorted(m) for g, m in groups.items()}}
