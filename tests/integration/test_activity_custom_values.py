"""Issue 25: the activity view shows the custom attribute values a user's write set (CLI text and --json, the
operator page), from the change record's summary; a tenant without declarations shows nothing new; hostile
values are shown escaped, never obeyed. Against Azurite, after requests through the real API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from devhost.azurite import Azurite
from scim import api
from scim.api.admin import AdminApi, OperatorCredential
from scim.cli import main
from scim.http import Request
from scim.platform.activity_report import build_activity_report
from scim.settings import Settings
from scim.wiring import build_storage

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
CUSTOM = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
HOSTILE = "<script>alert(1)</script>\x1b]0;pwned\x07\u202e"
KEY = "custom-values-operator-key"


@pytest.fixture
def cli_env(azurite: Azurite, tmp_path: Path) -> dict[str, str]:
    return {
        "SCIM_STORAGE_CONNECTION_STRING": azurite.connection_string,
        "SCIM_TABLE_PREFIX": "acv",
        "SCIM_SECRET_SOURCE": "local",
        "SCIM_LOCAL_SECRETS_FILE": str(tmp_path / "secrets.json"),
        "SCIM_PUBLIC_BASE_URL": "https://scim.example.net",
    }


def run(cli_env: dict[str, str], *args: str) -> Result:
    result = CliRunner().invoke(main, list(args), env=cli_env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def send(served: Any, method: str, tenant: str, token: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    parts = path.split("/")
    request = Request.build(
        method,
        f"https://scim.example.net/scim/v2/{tenant}/{path}",
        route_params={"tenant": tenant, **({"id": parts[1]} if len(parts) > 1 else {})},
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
        body=json.dumps(body).encode(),
    )
    response = served.users_collection(request) if len(parts) == 1 else served.user_item(request)
    assert response.status in (200, 201), response.body
    return dict(json.loads(response.body))


def user(name: str, **custom: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"schemas": [CORE, CUSTOM] if custom else [CORE], "userName": name}
    body["emails"] = [{"type": "work", "value": name}]
    return body | ({CUSTOM: custom} if custom else {})


def operator_page(cli_env: dict[str, str], tenant: str) -> tuple[str, dict[str, str]]:
    storage = build_storage(Settings.from_environ(cli_env))

    class Catalog:
        def tenant_ids(self) -> list[str]:
            return [tenant]

        def exists(self, tenant_id: str) -> bool:
            return tenant_id == tenant

    pages = AdminApi(
        build_activity_report(storage), Catalog(), OperatorCredential(lambda refresh: (KEY,)), lambda t: True
    )  # type: ignore[arg-type]
    path = f"tenants/{tenant}/activity"
    request = Request.build(
        "GET", f"http://x/operator/{path}", route_params={"path": path}, headers={"Authorization": f"Bearer {KEY}"}
    )
    response = pages.handle(request)
    assert response.status == 200
    return response.body.decode("utf-8"), response.headers


def test_the_activity_shows_the_declared_values_a_write_set(cli_env: dict[str, str], tenant: str) -> None:
    declared, plain = f"{tenant}-d", f"{tenant}-p"
    tokens = {}
    for tenant_id in (declared, plain):
        created = json.loads(run(cli_env, "tenant", "create", tenant_id, "--json").stdout)
        tokens[tenant_id] = created["secretToken"]
    for name, kind in (("employeeLevel", "string"), ("grade", "integer"), ("isContractor", "boolean")):
        run(cli_env, "tenant", "attributes", declared, "add", f"{CUSTOM}:{name}", "--type", kind)
    served = api.build_api(Settings.from_environ(cli_env))

    ada = send(served, "POST", declared, tokens[declared], "Users", user("ada@contoso.com", employeeLevel="L3"))
    operations = [
        {"op": "replace", "path": f"{CUSTOM}:grade", "value": 42},
        {"op": "replace", "path": f"{CUSTOM}:isContractor", "value": "True"},
    ]
    ada_path = f"Users/{ada['id']}"
    send(served, "PATCH", declared, tokens[declared], ada_path, {"schemas": [PATCH], "Operations": operations})
    removal = [
        {"op": "remove", "path": f"{CUSTOM}:employeeLevel"},
        {"op": "replace", "path": "displayName", "value": "A"},
    ]
    send(served, "PATCH", declared, tokens[declared], ada_path, {"schemas": [PATCH], "Operations": removal})
    send(served, "POST", declared, tokens[declared], "Users", user("eve@contoso.com", employeeLevel=HOSTILE))
    send(served, "POST", declared, tokens[declared], "Users", user("bob@contoso.com"))  # sets none of them
    send(served, "POST", plain, tokens[plain], "Users", user("ada@contoso.com"))

    records = json.loads(run(cli_env, "tenant", "activity", declared, "--json").stdout)["records"]
    shown = sorted(
        (r["name"], r["operation"], json.dumps(r["customAttributes"], sort_keys=True))
        for r in records
        if r["resourceType"] == "User"
    )
    assert shown == [
        ("ada@contoso.com", "created", json.dumps({"employeeLevel": "L3"})),
        ("ada@contoso.com", "updated", json.dumps({"employeeLevel": None})),  # the displayName is not shown
        ("ada@contoso.com", "updated", json.dumps({"grade": 42, "isContractor": True}, sort_keys=True)),
        ("bob@contoso.com", "created", "null"),
        ("eve@contoso.com", "created", json.dumps({"employeeLevel": HOSTILE})),
    ]
    assert all(r["customAttributesOmitted"] == 0 for r in records)

    text = run(cli_env, "tenant", "activity", declared).stdout
    assert 'set:  employeeLevel="L3"' in text
    assert "set:  grade=42, isContractor=true" in text
    assert "set:  employeeLevel=null" in text
    assert 'set:  employeeLevel="<script>alert(1)</script>\\u001b]0;pwned\\u0007\\u202e"' in text
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text

    page, headers = operator_page(cli_env, declared)
    assert "set: <code>employeeLevel=&#34;L3&#34;</code>" in page
    assert "set: <code>grade=42, isContractor=true</code>" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;\\u001b]0;pwned\\u0007\\u202e" in page
    assert "<script>" not in page and "\x1b" not in page and "\u202e" not in page
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert "script-src" not in headers["Content-Security-Policy"]

    # A tenant without declarations: nothing new on any view.
    records = json.loads(run(cli_env, "tenant", "activity", plain, "--json").stdout)["records"]
    assert [r["customAttributes"] for r in records if r["resourceType"] == "User"] == [None]
    assert "set:" not in run(cli_env, "tenant", "activity", plain).stdout
    assert 'class="custom"' not in operator_page(cli_env, plain)[0]
