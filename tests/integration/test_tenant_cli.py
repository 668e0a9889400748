"""The operator CLI against Azurite and a local secret store: each command as an operator runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from devhost.azurite import ROOT, Azurite, free_port
from scim.cli import main
from scim.platform.tenants import TenantDirectory
from scim.secrets import CachedSecretSource, LocalSecretStore
from scim.settings import azurite_connection_string
from scim.store import COUNTER_SHARDS, TableStorage, TenantTable


@pytest.fixture
def cli_env(azurite: Azurite, tmp_path: Path) -> dict[str, str]:
    return {
        "SCIM_STORAGE_CONNECTION_STRING": azurite.connection_string,
        "SCIM_TABLE_PREFIX": "cli",
        "SCIM_SECRET_SOURCE": "local",
        "SCIM_LOCAL_SECRETS_FILE": str(tmp_path / "secrets.json"),
        "SCIM_PUBLIC_BASE_URL": "https://scim.example.net",
    }


@pytest.fixture
def cli(cli_env: dict[str, str]) -> Iterator[Any]:
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(main, list(args), env=cli_env, catch_exceptions=False)

    yield run


def as_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def accepted(cli_env: dict[str, str], tenant_id: str) -> tuple[str, ...]:
    """The tokens the running endpoint would accept now (a fresh worker's view)."""
    return CachedSecretSource(LocalSecretStore(Path(cli_env["SCIM_LOCAL_SECRETS_FILE"]))).tenant_tokens(tenant_id)


def test_create_prints_the_tenant_url_and_a_strong_token(cli: Any, cli_env: dict[str, str], tenant: str) -> None:
    result = cli("tenant", "create", tenant, "--name", "Contoso Ltd", "--max-users", "50")
    assert result.exit_code == 0, result.output
    assert f"Tenant URL:   https://scim.example.net/scim/v2/{tenant}" in result.output
    token = result.output.split("Secret Token:")[1].split()[0]
    assert len(token) >= 43
    assert accepted(cli_env, tenant) == (token,)
    shown = as_json(cli("tenant", "show", tenant, "--json"))
    assert shown["displayName"] == "Contoso Ltd" and shown["maxActiveUsers"] == 50 and shown["enabled"] is True
    assert (shown["users"], shown["activeUsers"], shown["groups"]) == (0, 0, 0)
    assert token not in json.dumps(shown)  # show never prints a token
    assert tenant in [t["id"] for t in as_json(cli("tenant", "list", "--json"))]


def test_rotate_keeps_the_previous_token_until_retired(cli: Any, cli_env: dict[str, str], tenant: str) -> None:
    first = as_json(cli("tenant", "create", tenant, "--json"))["secretToken"]
    second = as_json(cli("tenant", "rotate-token", tenant, "--json"))["secretToken"]
    assert set(accepted(cli_env, tenant)) == {first, second}
    again = cli("tenant", "rotate-token", tenant)
    assert again.exit_code == 1 and "retire-token" in again.output  # a third token would drop one silently
    assert as_json(cli("tenant", "retire-token", tenant, "--json"))["retired"] == 1
    assert accepted(cli_env, tenant) == (second,)


def test_limit_disable_enable(cli: Any, azurite: Azurite, tenant: str) -> None:
    cli("tenant", "create", tenant)
    assert as_json(cli("tenant", "set-limit", tenant, "10", "--json"))["maxActiveUsers"] == 10
    assert as_json(cli("tenant", "set-limit", tenant, "none", "--json"))["maxActiveUsers"] is None
    assert cli("tenant", "set-limit", tenant, "-3").exit_code == 2
    assert as_json(cli("tenant", "disable", tenant, "--json"))["enabled"] is False
    directory = TenantDirectory(
        TenantTable(TableStorage(connection_string=azurite.connection_string, table_prefix="cli"))
    )
    found = directory.lookup(tenant)
    assert found is not None and not found.enabled
    assert as_json(cli("tenant", "enable", tenant, "--json"))["enabled"] is True


def test_delete_needs_yes_and_removes_everything(
    cli: Any, cli_env: dict[str, str], azurite: Azurite, tenant: str
) -> None:
    from scim.resources.users import UserService

    cli("tenant", "create", tenant)
    storage = TableStorage(connection_string=azurite.connection_string, table_prefix="cli")
    users = UserService(storage.resources("Users"))
    for n in range(40):  # three rows each: more than one 100-row batch
        users.create(
            tenant,
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": f"u{n}@contoso.com",
                "emails": [{"type": "work", "value": f"u{n}@contoso.com"}],
            },
        )
    refused = cli("tenant", "delete", tenant)
    assert refused.exit_code == 2 and "--yes" in refused.output
    deleted = as_json(cli("tenant", "delete", tenant, "--yes", "--json"))
    # a resource row, two index rows and a change record per user, and the counter shards they were counted in
    assert 160 < deleted["deletedRows"]["Users"] <= 160 + COUNTER_SHARDS
    assert list(storage.resources("Users").scan(tenant)) == []
    assert accepted(cli_env, tenant) == ()
    assert cli("tenant", "show", tenant).exit_code == 1
    # The id can be used again, and only the new token works.
    token = as_json(cli("tenant", "create", tenant, "--json"))["secretToken"]
    assert accepted(cli_env, tenant) == (token,)


@pytest.mark.parametrize("bad", ["Acme", "a/b", "a#b", "a?b", "..", "ü", "x" * 200, "-x", "a b"])
def test_bad_tenant_ids_are_refused_with_a_reason(cli: Any, bad: str) -> None:
    result = cli("tenant", "create", "--", bad)
    assert result.exit_code == 1
    assert "Error:" in result.output and "Traceback" not in result.output


def test_upper_case_id_suggests_the_lower_case_one(cli: Any) -> None:
    result = cli("tenant", "create", "Contoso")
    assert result.exit_code == 1 and "'contoso'" in result.output


def test_unknown_tenant_and_existing_tenant_are_clear_errors(cli: Any, tenant: str) -> None:
    assert "no tenant" in cli("tenant", "show", tenant).output
    cli("tenant", "create", tenant)
    assert "already exists" in cli("tenant", "create", tenant).output


def test_every_command_has_help(cli: Any) -> None:
    for command in [
        "",
        "tenant",
        "tenant create",
        "tenant list",
        "tenant show",
        "tenant rotate-token",
        "tenant retire-token",
        "tenant set-limit",
        "tenant disable",
        "tenant enable",
        "tenant delete",
    ]:
        result = cli(*command.split(), "--help")
        assert result.exit_code == 0 and "Usage:" in result.output


def test_unreachable_storage_is_one_clear_line(tmp_path: Path) -> None:
    """The installed console script, pointed at a port where nothing listens: no traceback."""
    env = {
        "PATH": "/usr/bin:/bin",
        "SCIM_STORAGE_CONNECTION_STRING": azurite_connection_string(free_port()),
        "SCIM_STATE_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [str(Path(sys.executable).parent / "scim-admin"), "tenant", "list"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "cannot reach Table Storage" in result.stderr and "make run" in result.stderr
    assert "Traceback" not in result.stderr


def test_changes_lists_the_change_log_for_replay(cli: Any, azurite: Azurite, tenant: str) -> None:
    from scim.resources.groups import GroupService
    from scim.resources.users import UserService

    cli("tenant", "create", tenant)
    storage = TableStorage(connection_string=azurite.connection_string, table_prefix="cli")
    users = UserService(storage.resources("Users"))
    ids = [
        str(
            users.create(
                tenant,
                {
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": f"u{n}@contoso.com",
                    "emails": [{"type": "work", "value": f"u{n}@contoso.com"}],
                },
            ).id
        )
        for n in range(3)
    ]
    text = cli("tenant", "changes", tenant, "--stream", "users").stdout
    header, *rows = text.splitlines()
    assert header.split() == ["STREAM", "SEQ", "TIME", "(UTC)", "OPERATION", "TYPE", "ID", "NAME"]
    listed = [line.split()[:2] + line.split()[3:7] for line in rows]
    seqs = [int(line[1]) for line in listed]
    assert seqs == sorted(set(seqs))  # numbered once each, listed in number order
    assert sorted(line[:1] + line[2:] for line in listed) == sorted(
        ["Users", "created", "User", uid, f"u{n}@contoso.com"] for n, uid in enumerate(ids)
    )
    second = listed[1]
    # A group PATCH's member-added record carries no name (the group row is not read then): shown anyway.
    groups = GroupService(storage.resources("Groups"), storage.resources("Users"))
    group = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Eng"}
    gid = str(groups.create(tenant, group).id)
    add = {"op": "add", "path": "members", "value": [{"value": ids[0]}]}
    groups.patch(tenant, gid, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [add]})
    group_rows = cli("tenant", "changes", tenant, "--stream", "groups").stdout.splitlines()[1:]
    assert [row.split()[3] for row in group_rows] == ["created", "member-added"]
    assert all("Eng" in row.split() for row in group_rows)
    after = str(seqs[0])
    replay = as_json(cli("tenant", "changes", tenant, "--after", after, "--limit", "1", "--stream", "users", "--json"))
    assert [(m["seq"], m["operation"], m["id"], m["resource"]["userName"]) for m in replay] == [
        (seqs[1], "created", second[4], second[5])
    ]
    last = str(seqs[-1])
    assert cli("tenant", "changes", tenant, "--after", last, "--stream", "users").stdout.strip() == (
        f"No changes after {last}."
    )
    # A cursor pages one stream missing nothing, whatever shard numbered a change.
    first = cli("tenant", "changes", tenant, "--stream", "users", "--cursor", "0", "--limit", "2").stdout.splitlines()
    assert len(first) == 4 and first[-1].startswith("next: --cursor ")
    rest = cli("tenant", "changes", tenant, "--stream", "users", "--cursor", first[-1].split()[-1]).stdout.splitlines()
    assert sorted(line.split()[5] for line in [*first[1:3], *rest[1:-1]]) == sorted(ids)
    assert cli("tenant", "changes", tenant, "--stream", "users", "--cursor", "x.y").exit_code == 2
    missing = cli("tenant", "changes", tenant + "-nope")
    assert missing.exit_code == 1 and "no tenant" in missing.output


def test_every_revoking_command_says_when_it_takes_effect(cli: Any, tenant: str) -> None:
    cli("tenant", "create", tenant)
    cli("tenant", "rotate-token", tenant)
    for command in (["retire-token"], ["set-limit", tenant, "5"], ["disable"], ["enable"]):
        args = [command[0], tenant, *command[2:]] if len(command) > 1 else [command[0], tenant]
        result = cli("tenant", *args)
        assert result.exit_code == 0, result.output
        assert "within 30 s" in result.stdout, (command, result.stdout)
        assert json.loads(cli("tenant", *args, "--json").stdout)["effectiveWithinSeconds"] == 30
