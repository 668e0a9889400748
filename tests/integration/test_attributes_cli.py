"""`scim-admin tenant attributes` against Azurite: declare, list, and remove (refused while users hold a
value; --force deletes those values and says from which users)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from devhost.azurite import Azurite
from scim.cli import main
from scim.platform.tenant_attributes import TenantSchemas
from scim.resources.users import UserService
from scim.settings import Settings
from scim.store import TenantSchemaTable
from scim.wiring import build_storage

CUSTOM = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"
LEVEL = f"{CUSTOM}:employeeLevel"


@pytest.fixture
def cli_env(azurite: Azurite, tmp_path: Path) -> dict[str, str]:
    return {
        "SCIM_STORAGE_CONNECTION_STRING": azurite.connection_string,
        "SCIM_TABLE_PREFIX": "cliattrs",
        "SCIM_SECRET_SOURCE": "local",
        "SCIM_LOCAL_SECRETS_FILE": str(tmp_path / "secrets.json"),
        "SCIM_PUBLIC_BASE_URL": "https://scim.example.net",
        "SCIM_ENV_FILE": "none",
    }


@pytest.fixture
def cli(cli_env: dict[str, str]) -> Callable[..., Result]:
    runner = CliRunner()
    return lambda *args: runner.invoke(main, list(args), env=cli_env, catch_exceptions=False)


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_declare_list_and_remove(cli: Callable[..., Result], cli_env: dict[str, str], tenant: str) -> None:
    assert cli("tenant", "create", tenant).exit_code == 0
    added = as_json(cli("tenant", "attributes", tenant, "add", LEVEL, "--type", "string", "--unique", "--json"))
    assert added | {"effectiveWithinSeconds": 0} == {
        "tenant": tenant,
        "attribute": LEVEL,
        "schema": CUSTOM,
        "name": "employeeLevel",
        "type": "string",
        "case_exact": False,
        "unique": True,
        "effectiveWithinSeconds": 0,
    }
    text = cli("tenant", "attributes", tenant, "list")
    assert text.exit_code == 0 and f"{LEVEL}  string  unique" in text.output
    twice = cli("tenant", "attributes", tenant, "add", LEVEL.upper().replace("URN:", "urn:"), "--type", "integer")
    assert twice.exit_code == 1 and "already declared" in twice.output

    # A worker's view: what the request path reads.
    storage = build_storage(Settings.from_environ(cli_env))
    declared = TenantSchemas(TenantSchemaTable(storage), ttl_seconds=0).declarations(tenant)
    users = UserService(storage.resources("Users"), declarations=lambda _: declared, require_email=False)
    holder = users.create(
        tenant,
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", CUSTOM],
            "userName": "a@contoso.com",
            CUSTOM: {"employeeLevel": "L3"},
        },
    )
    users.create(tenant, {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "b@contoso.com"})

    refused = cli("tenant", "attributes", tenant, "remove", LEVEL)
    assert refused.exit_code == 1
    assert "1 user(s) of this tenant hold a value" in refused.output and "--force" in refused.output
    assert [a["attribute"] for a in as_json(cli("tenant", "attributes", tenant, "list", "--json"))["attributes"]] == [
        LEVEL
    ]

    forced = as_json(cli("tenant", "attributes", tenant, "remove", LEVEL, "--force", "--json"))
    assert forced["droppedFrom"] == [holder.id]
    assert as_json(cli("tenant", "attributes", tenant, "list", "--json"))["attributes"] == []
    stored = storage.resources("Users").get(tenant, str(holder.id))
    assert stored is not None and CUSTOM not in stored.document
    assert CUSTOM not in stored.document.get("schemas", [])


def test_unknown_tenant_is_named(cli: Callable[..., Result]) -> None:
    result = cli("tenant", "attributes", "no-such-tenant", "list")
    assert result.exit_code == 1 and "no tenant 'no-such-tenant'" in result.output


def test_export_and_import_carry_the_declarations(
    cli: Callable[..., Result], cli_env: dict[str, str], tenant: str, tmp_path: Path
) -> None:
    assert cli("tenant", "create", tenant).exit_code == 0
    as_json(cli("tenant", "attributes", tenant, "add", LEVEL, "--type", "integer", "--json"))
    export = tmp_path / "tenants.jsonl"
    runner = CliRunner()
    env = {**cli_env, "SCIM_EXPORT_PASSPHRASE": "correct horse battery staple"}
    exported = runner.invoke(main, ["export", str(export), "--tenant", tenant], env=env, catch_exceptions=False)
    assert exported.exit_code == 0, exported.output
    assert cli("tenant", "delete", tenant, "--yes").exit_code == 0
    assert cli("tenant", "attributes", tenant, "list").exit_code == 1  # the tenant is gone
    schemas = TenantSchemaTable(build_storage(Settings.from_environ(cli_env)))
    assert schemas.schema(tenant).etag == ""  # and its declarations row with it
    imported = runner.invoke(main, ["import", str(export)], env=env, catch_exceptions=False)
    assert imported.exit_code == 0, imported.output
    listed = as_json(cli("tenant", "attributes", tenant, "list", "--json"))["attributes"]
    assert [(a["attribute"], a["type"]) for a in listed] == [(LEVEL, "integer")]
