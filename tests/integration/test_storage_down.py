"""Azurite stopped mid-run, then started again: every route answers a SCIM 503 with Retry-After quickly
(bounded retries, never a hang), the service recovers without a restart, and nothing half-written is left."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from devhost.azurite import Azurite
from scim.http import Request
from scim.platform.invariants import check_tenant
from scim.store import RetryBudget, TableStorage
from tests.entra_cycle import GROUP, PATCH, TOKEN, Client, in_process_api, user_body

QUICK = RetryBudget(retries=2, backoff_seconds=0.05, max_sleep_seconds=0.2, connection_timeout=1.0, call_timeout=5.0)


@pytest.fixture
def own_azurite(tmp_path: Path) -> Iterator[Azurite]:
    """An Azurite of this test's own, keeping its data on disk so that it survives a stop."""
    server = Azurite(location=tmp_path / "azurite").start()
    try:
        yield server
    finally:
        server.stop()


def every_route(client: Client, user_id: str, group_id: str) -> list[tuple[str, str, str | None, object]]:
    patch = {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": False}]}
    search = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": 'userName eq "x"'}
    return [
        ("users_collection", "GET", None, None),
        ("users_collection", "POST", None, user_body(99, "down")),
        ("users_search", "POST", None, search),
        ("user_item", "GET", user_id, None),
        ("user_item", "PUT", user_id, user_body(1, "down")),
        ("user_item", "PATCH", user_id, patch),
        ("user_item", "DELETE", user_id, None),
        ("groups_collection", "GET", None, None),
        ("groups_collection", "POST", None, {"schemas": [GROUP], "displayName": "Down"}),
        ("groups_search", "POST", None, {"schemas": search["schemas"]}),
        ("group_item", "GET", group_id, None),
        ("group_item", "PUT", group_id, {"schemas": [GROUP], "displayName": "Down"}),
        (
            "group_item",
            "PATCH",
            group_id,
            {"schemas": [PATCH], "Operations": [{"op": "Add", "path": "members", "value": [{"value": user_id}]}]},
        ),
        ("group_item", "DELETE", group_id, None),
        ("root_search", "POST", None, {"schemas": search["schemas"]}),
    ]


def call(client: Client, route: str, method: str, rid: str | None, body: object) -> tuple[int, dict[str, str], object]:
    path = f"http://localhost/scim/v2/{client.tenant}/x" + (f"/{rid}" if rid else "")
    params = {"tenant": client.tenant, **({"id": rid} if rid else {})}
    request = Request.build(
        method,
        path,
        route_params=params,
        headers={
            "Authorization": f"Bearer {TOKEN}",
            "Content-Type": "application/scim+json",
        },
        body=json.dumps(body).encode() if body is not None else b"",
    )
    response = getattr(client.api, route)(request)
    return response.status, dict(response.headers), json.loads(response.body) if response.body else None


def test_storage_down_is_a_quick_503_on_every_route_and_recovers_without_restart(own_azurite: Azurite) -> None:
    storage = TableStorage(connection_string=own_azurite.connection_string, table_prefix="down", retry=QUICK)
    client = Client(in_process_api(storage), f"t-{uuid.uuid4().hex[:16]}")
    status, user = client.call("users_collection", "POST", body=user_body(1, "down"))
    assert status == 201
    status, group = client.call("groups_collection", "POST", body={"schemas": [GROUP], "displayName": "G"})
    assert status == 201

    own_azurite.stop()
    for route, method, rid, body in every_route(client, user["id"], group["id"]):
        started = time.perf_counter()
        status, headers, error = call(client, route, method, rid, body)
        elapsed = time.perf_counter() - started
        assert status == 503, (route, method, status, error)
        assert int(headers["Retry-After"]) > 0
        assert isinstance(error, dict)
        assert error["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"] and error["status"] == "503"
        assert elapsed < 3 * QUICK.call_timeout, (route, method, elapsed)

    # The production budget: one request, storage refusing connections, answered well inside Entra's limit.
    default = TableStorage(connection_string=own_azurite.connection_string, table_prefix="down")
    slow_client = Client(in_process_api(default), client.tenant)
    started = time.perf_counter()
    assert slow_client.call("user_item", "GET", user["id"])[0] == 503
    assert time.perf_counter() - started < 30

    own_azurite.start()
    for api_client in (client, slow_client):
        status, body = api_client.call("user_item", "GET", user["id"])
        assert status == 200 and body["userName"] == "down1@contoso.test"
    assert client.call("users_collection", "POST", body=user_body(2, "down"))[0] == 201
    assert (
        client.call(
            "group_item",
            "PATCH",
            group["id"],
            {"schemas": [PATCH], "Operations": [{"op": "Add", "path": "members", "value": [{"value": user["id"]}]}]},
        )[0]
        == 204
    )
    report = check_tenant(storage, client.tenant)
    assert report.ok, report.violations
    assert report.resources == {"Users": 2, "Groups": 1} and report.memberships == 1
    storage.close()
    default.close()
