"""The operator's OAuth2 commands against Azurite and a local secret store, as an operator runs them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from devhost.azurite import Azurite
from scim.cli import main
from scim.secrets import CachedSecretSource, LocalSecretStore, client_secret_name, secret_name

Cli = Callable[..., Result]


@pytest.fixture
def cli_env(azurite: Azurite, tmp_path: Path) -> dict[str, str]:
    return {
        "SCIM_STORAGE_CONNECTION_STRING": azurite.connection_string,
        "SCIM_TABLE_PREFIX": "oauthcli",
        "SCIM_SECRET_SOURCE": "local",
        "SCIM_LOCAL_SECRETS_FILE": str(tmp_path / "secrets.json"),
        "SCIM_PUBLIC_BASE_URL": "https://scim.example.net",
    }


@pytest.fixture
def cli(cli_env: dict[str, str]) -> Cli:
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(main, list(args), env=cli_env, catch_exceptions=False)

    return run


def ok_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def worker_view(cli_env: dict[str, str], name: str) -> tuple[str, ...]:
    """What a fresh worker of the endpoint accepts for the secret now."""
    return CachedSecretSource(LocalSecretStore(Path(cli_env["SCIM_LOCAL_SECRETS_FILE"]))).secret_values(name)


def test_create_with_oauth_prints_the_four_entra_fields_and_no_secret_token(
    cli: Cli, cli_env: dict[str, str], tenant: str
) -> None:
    text = cli("tenant", "create", tenant, "--auth", "oauth")
    assert text.exit_code == 0, text.output
    assert f"Tenant URL:           https://scim.example.net/scim/v2/{tenant}" in text.output
    assert "OAuth token endpoint: https://scim.example.net/oauth2/token" in text.output
    assert f"Client identifier:    {tenant}" in text.output
    secret = text.output.split("Client secret:")[1].split()[0]
    assert len(secret) >= 43
    assert "Secret Token" not in text.output
    assert worker_view(cli_env, client_secret_name(tenant)) == (secret,)
    assert worker_view(cli_env, secret_name(tenant)) == ()
    assert len(ok_json(cli("oauth", "show", "--json"))["signingKeys"]) == 1


def test_create_with_both_gives_a_secret_token_and_a_client(cli: Cli, tenant: str) -> None:
    data = ok_json(cli("tenant", "create", tenant, "--auth", "both", "--json"))
    assert data["secretToken"] and data["clientSecret"]
    assert data["clientId"] == tenant
    assert data["tokenEndpoint"] == "https://scim.example.net/oauth2/token"


def test_client_commands_refuse_what_would_break_the_rotation_rules(cli: Cli, tenant: str) -> None:
    assert cli("tenant", "create", tenant).exit_code == 0
    no_client = cli("tenant", "rotate-client-secret", tenant)
    assert no_client.exit_code == 1 and "tenant add-client" in no_client.output
    assert cli("tenant", "add-client", tenant).exit_code == 0
    again = cli("tenant", "add-client", tenant)
    assert again.exit_code == 1 and "rotate-client-secret" in again.output
    assert cli("tenant", "rotate-client-secret", tenant).exit_code == 0
    third = cli("tenant", "rotate-client-secret", tenant)
    assert third.exit_code == 1 and "retire-client-secret" in third.output
    assert ok_json(cli("tenant", "retire-client-secret", tenant, "--json"))["retired"] == 1
    assert cli("tenant", "add-client", "no-such-tenant").exit_code == 1


def test_a_deleted_tenant_leaves_no_client_to_a_new_tenant_of_the_same_id(
    cli: Cli, cli_env: dict[str, str], tenant: str
) -> None:
    assert cli("tenant", "create", tenant, "--auth", "oauth").exit_code == 0
    assert cli("tenant", "delete", tenant, "--yes").exit_code == 0
    assert worker_view(cli_env, client_secret_name(tenant)) == ()
    recreated = ok_json(cli("tenant", "create", tenant, "--json"))
    assert "clientSecret" not in recreated
    assert worker_view(cli_env, client_secret_name(tenant)) == ()
    assert cli("tenant", "add-client", tenant).exit_code == 0  # a fresh client, not "already has one"


def test_signing_keys_rotate_then_retire(cli: Cli, tenant: str) -> None:
    assert cli("tenant", "create", tenant, "--auth", "oauth").exit_code == 0
    assert cli("oauth", "rotate-signing-key").exit_code == 0
    assert len(ok_json(cli("oauth", "show", "--json"))["signingKeys"]) == 2
    refused = cli("oauth", "rotate-signing-key")
    assert refused.exit_code == 1 and "retire-signing-key" in refused.output
    assert ok_json(cli("oauth", "retire-signing-key", "--json"))["retired"] == 1
    assert len(ok_json(cli("oauth", "show", "--json"))["signingKeys"]) == 1


def test_remove_token_ends_a_migration_only_once_a_client_exists(
    cli: Cli, cli_env: dict[str, str], tenant: str
) -> None:
    assert cli("tenant", "create", tenant).exit_code == 0
    refused = cli("tenant", "remove-token", tenant)
    assert refused.exit_code == 1 and "add-client" in refused.output
    assert worker_view(cli_env, secret_name(tenant)) != ()
    assert cli("tenant", "add-client", tenant).exit_code == 0
    assert ok_json(cli("tenant", "remove-token", tenant, "--json"))["retired"] == 1
    assert worker_view(cli_env, secret_name(tenant)) == ()
    assert worker_view(cli_env, client_secret_name(tenant)) != ()
