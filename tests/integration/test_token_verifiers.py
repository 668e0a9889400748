"""Secret Tokens checked against the verifiers in the tenant row (issue 24): every operator door writes them, the
endpoint reads no secret store for them, a row from before them keeps the secret store path until `tenant
reindex`, and no output shows them. Against Azurite and a local secret store, through the CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from scim2_models import UnauthorizedException

from devhost.azurite import Azurite
from scim.auth import TenantAuthenticator
from scim.cli import main
from scim.platform.tenants import TenantDirectory
from scim.secrets import CachedSecretSource, LocalSecretStore, SecretVersion, token_verifier
from scim.store import TableStorage, TenantTable

PREFIX = "verif"


class CountingStore:
    """The local secret store, counting every read the endpoint makes of it."""

    def __init__(self, path: Path) -> None:
        self._store = LocalSecretStore(path)
        self.reads = 0

    def versions(self, name: str) -> list[SecretVersion]:
        self.reads += 1
        return self._store.versions(name)

    def value(self, name: str, version: str) -> str | None:
        self.reads += 1
        return self._store.value(name, version)


@pytest.fixture
def cli_env(azurite: Azurite, tmp_path: Path) -> dict[str, str]:
    return {
        "SCIM_STORAGE_CONNECTION_STRING": azurite.connection_string,
        "SCIM_TABLE_PREFIX": PREFIX,
        "SCIM_SECRET_SOURCE": "local",
        "SCIM_LOCAL_SECRETS_FILE": str(tmp_path / "secrets.json"),
        "SCIM_PUBLIC_BASE_URL": "https://scim.example.net",
        "SCIM_EXPORT_PASSPHRASE": "correct horse battery staple",
    }


@pytest.fixture
def cli(cli_env: dict[str, str]) -> Callable[..., Result]:
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(main, list(args), env=cli_env, catch_exceptions=False)

    return run


def ok(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout) if result.stdout.lstrip().startswith(("{", "[")) else result.stdout


def table(azurite: Azurite) -> TenantTable:
    return TenantTable(TableStorage(connection_string=azurite.connection_string, table_prefix=PREFIX))


class Worker:
    """A fresh endpoint worker: the tenant cache's bound is 0 here, so every request sees the row as stored."""

    def __init__(self, azurite: Azurite, cli_env: dict[str, str]) -> None:
        self.store = CountingStore(Path(cli_env["SCIM_LOCAL_SECRETS_FILE"]))
        source = CachedSecretSource(self.store, min_refresh_seconds=0.0)  # type: ignore[arg-type]
        self.auth = TenantAuthenticator(TenantDirectory(table(azurite), ttl_seconds=0.0), source)

    def accepts(self, tenant_id: str, token: str) -> bool:
        try:
            return self.auth.authenticate(f"Bearer {token}", tenant_id).id == tenant_id
        except UnauthorizedException:
            return False


def test_every_token_change_writes_the_verifiers_and_the_endpoint_reads_no_secret_store(
    cli: Callable[..., Result], cli_env: dict[str, str], azurite: Azurite, tenant: str
) -> None:
    worker = Worker(azurite, cli_env)
    first = ok(cli("tenant", "create", tenant, "--json"))["secretToken"]
    assert worker.accepts(tenant, first)
    second = ok(cli("tenant", "rotate-token", tenant, "--json"))["secretToken"]
    assert worker.accepts(tenant, first) and worker.accepts(tenant, second)  # both during the rotation
    ok(cli("tenant", "retire-token", tenant, "--json"))
    assert not worker.accepts(tenant, first) and worker.accepts(tenant, second)
    third = ok(cli("tenant", "retire-token", tenant, "--now", "--json"))["secretToken"]  # after a leak
    assert not worker.accepts(tenant, second) and worker.accepts(tenant, third)
    ok(cli("tenant", "add-client", tenant, "--json"))  # a client secret: verifiers rewritten, tokens unchanged
    assert worker.accepts(tenant, third)
    ok(cli("tenant", "remove-token", tenant, "--json"))
    assert not worker.accepts(tenant, third)
    assert worker.store.reads == 0
    row = table(azurite).get(tenant)
    assert row is not None and row.token_verifiers == ()


def test_a_row_from_before_verifiers_works_through_the_store_until_reindexed(
    cli: Callable[..., Result], cli_env: dict[str, str], azurite: Azurite, tenant: str
) -> None:
    token = ok(cli("tenant", "create", tenant, "--json"))["secretToken"]
    tenants = table(azurite)
    legacy = tenants.get(tenant)
    assert legacy is not None and legacy.token_verifiers is not None
    tenants.update(replace(legacy, token_verifiers=None))  # as every row stored before verifiers existed

    before = Worker(azurite, cli_env)
    assert before.accepts(tenant, token) and not before.accepts(tenant, token + "x")
    assert before.store.reads > 0  # the secret store path, as before

    ok(cli("tenant", "reindex", tenant, "--json"))
    row = tenants.get(tenant)
    assert row is not None and row.token_verifiers is not None and len(row.token_verifiers) == 1
    after = Worker(azurite, cli_env)
    assert after.accepts(tenant, token) and not after.accepts(tenant, token + "x")
    assert after.store.reads == 0


def test_no_output_shows_a_verifier_and_an_import_writes_its_own(
    cli: Callable[..., Result], cli_env: dict[str, str], azurite: Azurite, tenant: str, tmp_path: Path
) -> None:
    token = ok(cli("tenant", "create", tenant, "--json"))["secretToken"]
    rotated = ok(cli("tenant", "rotate-token", tenant, "--json"))["secretToken"]
    digests = [token_verifier(token), token_verifier(rotated)]
    export = tmp_path / "tenants.jsonl"
    outputs = [
        cli("tenant", "show", tenant, "--json").output,
        cli("tenant", "show", tenant).output,
        cli("tenant", "list", "--json").output,
        cli("tenant", "list").output,
        cli("tenant", "reindex", tenant, "--json").output,
        cli("export", str(export), "--tenant", tenant, "--json").output,
    ]
    outputs.append(export.read_text())
    assert not any(digest in text for digest in digests for text in outputs)
    assert "TokenVerifiers" not in export.read_text()

    ok(cli("tenant", "delete", tenant, "--yes", "--json"))
    ok(cli("import", str(export), "--json"))
    row = table(azurite).get(tenant)
    assert row is not None and row.token_verifiers is not None and len(row.token_verifiers) == 2
    worker = Worker(azurite, cli_env)
    assert worker.accepts(tenant, token) and worker.accepts(tenant, rotated)
    assert worker.store.reads == 0


def test_a_setup_link_writes_the_verifier_of_its_token_and_its_revocation_removes_it(
    cli: Callable[..., Result], cli_env: dict[str, str], azurite: Azurite, tenant: str
) -> None:
    token = ok(cli("tenant", "create", tenant, "--json"))["secretToken"]
    tenants = table(azurite)
    ok(cli("tenant", "setup-link", tenant, "--json"))  # a new token behind the link, nobody has seen it yet
    minted = tenants.get(tenant)
    assert minted is not None and minted.token_verifiers is not None and len(minted.token_verifiers) == 2
    ok(cli("tenant", "setup-link", tenant, "--revoke", "all", "--json"))  # its unseen token disabled
    revoked = tenants.get(tenant)
    assert revoked is not None and revoked.token_verifiers is not None
    assert [v.digest for v in revoked.token_verifiers] == [token_verifier(token)]
    worker = Worker(azurite, cli_env)
    assert worker.accepts(tenant, token) and worker.store.reads == 0
