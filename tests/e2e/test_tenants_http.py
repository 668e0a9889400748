"""Tenants over HTTP: isolation through every route, one indistinguishable 401, and the operator's flow."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from devhost.azurite import ROOT, free_port
from scim.platform.tenants import TenantService
from tests.e2e.conftest import TOKEN
from tests.e2e.test_make_run import make_run

USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def new_user() -> dict[str, Any]:
    name = f"iso-{uuid.uuid4().hex[:10]}@contoso.com"
    return {"schemas": [USER], "userName": name, "emails": [{"type": "work", "value": name}]}


GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": 'userName sw "iso"'}


def new_group() -> dict[str, Any]:
    return {"schemas": [GROUP], "displayName": f"iso-{uuid.uuid4().hex[:10]}"}


def every_route(tenant_id: str, user_id: str, group_id: str = "0" * 32) -> list[tuple[str, str, dict[str, Any] | None]]:
    base = f"/scim/v2/{tenant_id}"
    patch = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]}
    member_patch = {"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": user_id}]}]}
    return [
        ("GET", f"{base}/Users", None),
        ("GET", f"{base}/Users?filter=userName+eq+%22x%40contoso.com%22", None),
        ("POST", f"{base}/Users", new_user()),
        ("GET", f"{base}/Users/{user_id}", None),
        ("PUT", f"{base}/Users/{user_id}", new_user()),
        ("PATCH", f"{base}/Users/{user_id}", patch),
        ("DELETE", f"{base}/Users/{user_id}", None),
        ("GET", f"{base}/ServiceProviderConfig", None),
        ("GET", f"{base}/Groups", None),
        ("POST", f"{base}/Groups", new_group()),
        ("GET", f"{base}/Groups/{group_id}", None),
        ("PUT", f"{base}/Groups/{group_id}", new_group()),
        ("PATCH", f"{base}/Groups/{group_id}", member_patch),
        ("DELETE", f"{base}/Groups/{group_id}", None),
        ("POST", f"{base}/Users/.search", SEARCH),
        ("POST", f"{base}/Groups/.search", {**SEARCH, "filter": 'displayName sw "iso"'}),
        ("POST", f"{base}/.search", SEARCH),
        ("GET", f"{base}/Schemas", None),
        ("GET", f"{base}/ResourceTypes", None),
    ]


def send(base_url: str, method: str, path: str, body: Any, token: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    return httpx.request(method, base_url + path, json=body, headers=headers, timeout=10)


def test_a_token_opens_only_its_own_tenant_on_every_route(base_url: str, tenants: TenantService) -> None:
    suffix = uuid.uuid4().hex[:8]
    a_id, b_id = f"iso-a-{suffix}", f"iso-b-{suffix}"
    a_token, b_token = tenants.create(a_id)[1], tenants.create(b_id)[1]
    assert a_token and b_token
    a_user = send(base_url, "POST", f"/scim/v2/{a_id}/Users", new_user(), a_token).json()
    b_user = send(base_url, "POST", f"/scim/v2/{b_id}/Users", new_user(), b_token).json()
    a_group = send(
        base_url, "POST", f"/scim/v2/{a_id}/Groups", {**new_group(), "members": [{"value": a_user["id"]}]}, a_token
    ).json()
    b_group = send(base_url, "POST", f"/scim/v2/{b_id}/Groups", new_group(), b_token).json()
    for method, path, body in every_route(b_id, b_user["id"], b_group["id"]):
        assert send(base_url, method, path, body, a_token).status_code == 401, (method, path)
    for method, path, body in every_route(a_id, a_user["id"], a_group["id"]):
        assert send(base_url, method, path, body, b_token).status_code == 401, (method, path)
    # With its own token, tenant B cannot read, change, delete or find A's group, nor put A's user in its own.
    for method, path, body in every_route(b_id, a_user["id"], a_group["id"])[10:14]:
        # A member PATCH is refused for its member (not a user of B) before the group is looked up.
        expected = {400, 404} if method == "PATCH" else {404}
        assert send(base_url, method, path, body, b_token).status_code in expected, (method, path)
    add_a_user = {
        "schemas": [PATCH],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": a_user["id"]}]}],
    }
    refused = send(base_url, "PATCH", f"/scim/v2/{b_id}/Groups/{b_group['id']}", add_a_user, b_token)
    assert refused.status_code == 400 and a_user["id"] in refused.json()["detail"]
    query = f"/scim/v2/{b_id}/Groups?filter=members%5Bvalue+eq+%22{a_user['id']}%22%5D"
    assert send(base_url, "GET", query, None, b_token).json()["totalResults"] == 0
    searched = send(
        base_url, "POST", f"/scim/v2/{b_id}/.search", {**SEARCH, "filter": f'id eq "{a_user["id"]}"'}, b_token
    )
    assert searched.json()["totalResults"] == 0
    a_members = send(base_url, "GET", f"/scim/v2/{a_id}/Groups/{a_group['id']}", None, a_token).json()["members"]
    assert [m["value"] for m in a_members] == [a_user["id"]]  # untouched
    # With its own token, tenant B cannot read, change, delete, find or detect A's user.
    for method, path, body in every_route(b_id, a_user["id"])[3:7]:
        assert send(base_url, method, path, body, b_token).status_code == 404, (method, path)
    query = f"/scim/v2/{b_id}/Users?filter=userName+eq+%22{a_user['userName']}%22"
    assert send(base_url, "GET", query, None, b_token).json()["totalResults"] == 0
    listed = send(base_url, "GET", f"/scim/v2/{b_id}/Users?count=1000", None, b_token).json()
    assert [u["id"] for u in listed["Resources"]] == [b_user["id"]]
    after = send(base_url, "GET", f"/scim/v2/{a_id}/Users/{a_user['id']}", None, a_token).json()
    assert after["userName"] == a_user["userName"] and after.get("active") is not False  # untouched


def test_every_wrong_way_in_gets_the_same_401(base_url: str, tenants: TenantService) -> None:
    tenants.create("off-e2e")
    tenants.set_enabled("off-e2e", False)
    attempts = {
        "wrong token": ("acme", "Bearer " + "x" * 43),
        "unknown tenant": ("ghost", f"Bearer {TOKEN}"),
        "disabled tenant": ("off-e2e", f"Bearer {TOKEN}"),
        "upper case": ("ACME", f"Bearer {TOKEN}"),
        "newline": ("acme%0A", f"Bearer {TOKEN}"),
        "long": ("a" * 200, f"Bearer {TOKEN}"),
        "unicode": ("%C3%BC", f"Bearer {TOKEN}"),
        "dot dot": ("..%2E", f"Bearer {TOKEN}"),
        "empty token": ("acme", "Bearer"),
        "two headers, as a proxy joins them": ("acme", f"Bearer {TOKEN}, Bearer {TOKEN}"),
    }
    bodies = set()
    for name, (tenant_id, header) in attempts.items():
        response = httpx.get(f"{base_url}/scim/v2/{tenant_id}/Users", headers={"Authorization": header}, timeout=10)
        assert response.status_code == 401, name
        assert response.headers["www-authenticate"].startswith("Bearer")
        bodies.add(response.content)
    assert len(bodies) == 1


@pytest.mark.parametrize("header", [f"bearer {TOKEN}", f"BEARER   {TOKEN}"])
def test_lenient_but_unambiguous_headers_are_accepted(base_url: str, header: str) -> None:
    response = httpx.get(f"{base_url}/scim/v2/acme/Users?count=1", headers={"Authorization": header}, timeout=10)
    assert response.status_code == 200


def test_make_run_then_a_second_tenant_from_the_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's promise: `make run` in one terminal, `scim-admin tenant create` in another, no other setup."""
    for key in [k for k in os.environ if k.startswith("SCIM_")]:
        monkeypatch.delenv(key)  # other e2e tests configure this process; a person's shell has none of it
    port, azurite_port = free_port(), free_port()
    with make_run(tmp_path, port, azurite_port) as (_demo_url, _demo_token):
        env = {
            "PATH": "/usr/bin:/bin",
            "PORT": str(port),
            "AZURITE_TABLE_PORT": str(azurite_port),
            "SCIM_STATE_DIR": str(tmp_path),
        }
        created = subprocess.run(
            [str(Path(sys.executable).parent / "scim-admin"), "tenant", "create", "fabrikam"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        url = created.split("Tenant URL:")[1].split()[0]
        token = created.split("Secret Token:")[1].split()[0]
        assert url == f"http://127.0.0.1:{port}/scim/v2/fabrikam"
        headers = {"Authorization": f"Bearer {token}"}
        probe = httpx.get(f"{url}/Users", params={"filter": f'userName eq "{uuid.uuid4()}"'}, headers=headers)
        assert probe.status_code == 200 and probe.json()["totalResults"] == 0  # Test Connection
        assert httpx.post(f"{url}/Users", json=new_user(), headers=headers).status_code == 201


def test_license_cap_over_http_then_raised_by_the_operator(base_url: str, tenants: TenantService) -> None:
    tenant_id = f"cap-{uuid.uuid4().hex[:8]}"
    token = tenants.create(tenant_id, max_active_users=1)[1]
    assert token
    url = f"/scim/v2/{tenant_id}/Users"
    assert send(base_url, "POST", url, new_user(), token).status_code == 201
    refused = send(base_url, "POST", url, new_user(), token)
    assert refused.status_code == 403
    error = refused.json()
    assert error["status"] == "403" and "scimType" not in error
    assert "at most 1 active users" in error["detail"] and "Sync only assigned users and groups" in error["detail"]
    assert send(base_url, "GET", url, None, token).json()["totalResults"] == 1  # nothing stored
    tenants.set_limit(tenant_id, None)
    time.sleep(1.1)  # SCIM_TENANT_CACHE_SECONDS=1 in these tests; 30 s by default
    assert send(base_url, "POST", url, new_user(), token).status_code == 201
    assert tenants.usage(tenant_id).active_users == 2
