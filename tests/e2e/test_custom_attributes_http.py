"""Issue 25's Entra cycle with two custom extension attributes, over HTTP: on a tenant that declared them
(with `scim-admin tenant attributes`) they are stored, returned, patched in both dialects, filtered and
removed; the same cycle on a tenant that did not gets the documented 400s, nothing stored, each recorded
in the activity log with the command that declares the attribute."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from scim import api
from scim.cli import main
from scim.platform.tenants import TenantService
from scim.settings import Settings
from scim.wiring import build_change_log, build_storage

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
CUSTOM = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
LEVEL, CONTRACTOR = f"{CUSTOM}:employeeLevel", f"{CUSTOM}:isContractor"
DECLARED, UNDECLARED = "attrs-declared", "attrs-undeclared"


def cli(environ: dict[str, str], *args: str) -> Any:
    env = {**environ, "SCIM_PUBLIC_BASE_URL": "http://127.0.0.1:7071", "SCIM_ENV_FILE": "none"}
    result = CliRunner().invoke(main, [*args, "--json"], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def clients(base_url: str, tenants: TenantService, e2e_environ: dict[str, str]) -> Iterator[dict[str, httpx.Client]]:
    made = {}
    for tenant_id in (DECLARED, UNDECLARED):
        _, token = tenants.create(tenant_id)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
        made[tenant_id] = httpx.Client(base_url=f"{base_url}/scim/v2/{tenant_id}", headers=headers, timeout=10)
    cli(e2e_environ, "tenant", "attributes", DECLARED, "add", LEVEL, "--type", "string", "--unique")
    cli(e2e_environ, "tenant", "attributes", DECLARED, "add", CONTRACTOR, "--type", "boolean")
    cli(e2e_environ, "tenant", "attributes", DECLARED, "add", f"{CUSTOM}:grade", "--type", "integer")
    # The workers see a declaration within the tenant cache's bound (1 s in these tests).
    deadline = time.monotonic() + 15
    while CUSTOM not in extensions(made[DECLARED]) and time.monotonic() < deadline:
        time.sleep(0.2)
    yield made
    for client in made.values():
        client.close()


def extensions(client: httpx.Client) -> list[str]:
    user = client.get("/ResourceTypes/User").json()
    return [extension["schema"] for extension in user.get("schemaExtensions", [])]


def create_body(name: str, **custom: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schemas": [CORE, CUSTOM] if custom else [CORE],
        "userName": name,
        "active": True,
        "emails": [{"type": "work", "value": name, "primary": True}],
    }
    return body | ({CUSTOM: custom} if custom else {})


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH], "Operations": list(operations)}


def found(client: httpx.Client, expression: str) -> list[str]:
    answer = client.get("/Users", params={"filter": expression})
    assert answer.status_code == 200, answer.text
    return [user["userName"] for user in answer.json()["Resources"]]


def test_discovery_shows_the_extension_to_its_tenant_only(clients: dict[str, httpx.Client]) -> None:
    assert CUSTOM in extensions(clients[DECLARED])
    schema = clients[DECLARED].get(f"/Schemas/{CUSTOM}").json()
    assert schema["name"] == "CustomExtensionName"
    assert {(a["name"], a["type"], a["uniqueness"]) for a in schema["attributes"]} == {
        ("employeeLevel", "string", "server"),
        ("isContractor", "boolean", "none"),
        ("grade", "integer", "none"),
    }
    assert CUSTOM not in extensions(clients[UNDECLARED])
    assert clients[UNDECLARED].get(f"/Schemas/{CUSTOM}").status_code == 404


def test_entra_cycle_on_the_tenant_that_declared_them(
    clients: dict[str, httpx.Client], e2e_environ: dict[str, str]
) -> None:
    client = clients[DECLARED]
    created = client.post("/Users", json=create_body("level@contoso.com", employeeLevel="L3", isContractor="True"))
    assert created.status_code == 201, created.text
    uid = created.json()["id"]
    assert created.json()[CUSTOM] == {"employeeLevel": "L3", "isContractor": True}
    assert CUSTOM in created.json()["schemas"]
    assert found(client, f'{LEVEL} eq "l3"') == ["level@contoso.com"]  # caseExact false, through the index
    assert found(client, f"{CONTRACTOR} eq true") == ["level@contoso.com"]

    # Entra's default dialect: one op per attribute, URN-qualified paths, "False" as a string.
    default = patch(
        {"op": "Replace", "path": LEVEL, "value": "L4"}, {"op": "Replace", "path": CONTRACTOR, "value": "False"}
    )
    patched = client.patch(f"/Users/{uid}", json=default)
    assert patched.status_code == 200, patched.text
    assert patched.json()[CUSTOM] == {"employeeLevel": "L4", "isContractor": False}
    # With ?aadOptscim062020: one path-less op with URN-qualified keys.
    flagged = patch({"op": "replace", "value": {LEVEL: "L5", CONTRACTOR: True, "displayName": "Level Five"}})
    patched = client.patch(f"/Users/{uid}", json=flagged)
    assert patched.status_code == 200, patched.text
    assert client.get(f"/Users/{uid}").json()[CUSTOM] == {"employeeLevel": "L5", "isContractor": True}
    assert found(client, f'{LEVEL} eq "L5"') == ["level@contoso.com"]
    assert found(client, f'{LEVEL} eq "L3"') == []

    # Unique: another user may not take L5, in any case.
    taken = client.post("/Users", json=create_body("other@contoso.com", employeeLevel="l5"))
    assert (taken.status_code, taken.json()["scimType"]) == (409, "uniqueness")
    # Typed: "L3" into the integer names both.
    wrong = client.post("/Users", json=create_body("typed@contoso.com", grade="L3"))
    assert (wrong.status_code, wrong.json()["scimType"]) == (400, "invalidValue")
    assert "grade" in wrong.json()["detail"] and "L3" in wrong.json()["detail"]

    removed = client.patch(f"/Users/{uid}", json=patch({"op": "Remove", "path": LEVEL}))
    assert removed.status_code == 200, removed.text
    assert removed.json()[CUSTOM] == {"isContractor": True}
    assert found(client, f'{LEVEL} eq "L5"') == []

    # The platform's change messages carry the values as they were written.
    messages = [
        json.loads(m)
        for m in build_change_log(build_storage(Settings.from_environ(e2e_environ))).messages(DECLARED, limit=100)
    ]
    resources = [m["resource"] for m in messages if m["id"] == uid and "resource" in m]
    assert resources[0][CUSTOM] == {"employeeLevel": "L3", "isContractor": True}
    assert resources[-1][CUSTOM] == {"isContractor": True}
    assert client.delete(f"/Users/{uid}").status_code == 204


def test_the_same_cycle_on_a_tenant_that_did_not_declare_them(
    clients: dict[str, httpx.Client], e2e_environ: dict[str, str]
) -> None:
    client = clients[UNDECLARED]
    refused = client.post("/Users", json=create_body("level@contoso.com", employeeLevel="L3", isContractor="True"))
    assert (refused.status_code, refused.json()["scimType"]) == (400, "invalidValue")
    assert f"scim-admin tenant attributes {UNDECLARED} add {LEVEL}" in refused.json()["detail"]
    assert client.get("/Users", params={"filter": 'userName eq "level@contoso.com"'}).json()["totalResults"] == 0
    filtered = client.get("/Users", params={"filter": f'{LEVEL} eq "L3"'})
    assert (filtered.status_code, filtered.json()["scimType"]) == (400, "invalidFilter")
    assert f"scim-admin tenant attributes {UNDECLARED} add {LEVEL}" in filtered.json()["detail"]

    plain = client.post("/Users", json=create_body("plain@contoso.com"))
    assert plain.status_code == 201
    uid, before = plain.json()["id"], plain.json()
    for body in (
        patch({"op": "Replace", "path": LEVEL, "value": "L4"}),
        patch({"op": "replace", "value": {LEVEL: "L5", "displayName": "Level Five"}}),
        patch({"op": "add", "value": {CUSTOM: {"employeeLevel": "L6"}}}),
    ):
        answer = client.patch(f"/Users/{uid}", json=body)
        assert (answer.status_code, answer.json()["scimType"]) == (400, "invalidPath"), answer.text
        assert f"scim-admin tenant attributes {UNDECLARED} add {LEVEL}" in answer.json()["detail"]
    after = client.get(f"/Users/{uid}")
    assert after.json() == before | {"meta": after.json()["meta"]} and after.headers["etag"] == plain.headers["etag"]

    recorder = api.get_api().activity
    assert recorder is not None and recorder.flush()
    records = cli(e2e_environ, "tenant", "activity", UNDECLARED, "--errors")["records"]
    records = [r for r in records if r["operation"] in ("create", "list", "update")]  # not discovery's 404
    assert sorted(r["operation"] for r in records) == ["create", "list", "update", "update", "update"]
    assert all("scim-admin tenant attributes" in r["detail"] and "declare" in r["hint"] for r in records)


def test_me_answers_501_on_every_method(clients: dict[str, httpx.Client]) -> None:
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        answer = clients[DECLARED].request(method, "/Me", json={} if method in ("POST", "PUT", "PATCH") else None)
        assert answer.status_code == 501
        assert answer.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
        assert answer.json()["status"] == "501"
