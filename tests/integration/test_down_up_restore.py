"""`azd down` → `azd up` → `scim-admin import`: every tenant answers again with its old Secret Token and its
old OAuth client, with its users, groups, memberships and limit (issue #21).

"Down" is simulated at its worst: the data account and the vault are both gone. The tenants live in one
Azurite (the run's) and one local secret store; they are exported; "up" is a second, fresh Azurite and an
empty secret store; the export is imported there; the app is served over HTTP on the fresh one and Entra's
requests are made with the credentials printed before "down".
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

import function_app
from devhost.azurite import ROOT, Azurite
from devhost.server import make_server, serve_in_thread
from scim import api
from scim.cli import main
from scim.settings import Settings

PUBLIC = "https://scim.example.net"  # the Function App's name, and so SCIM_BASE_URL, survive down and up
PASSPHRASE = "correct horse battery staple"
SCIM = "application/scim+json"


def environ(connection_string: str, state: Path, prefix: str) -> dict[str, str]:
    state.mkdir(parents=True, exist_ok=True)
    return {
        "SCIM_STORAGE_CONNECTION_STRING": connection_string,
        "SCIM_TABLE_PREFIX": prefix,
        "SCIM_SECRET_SOURCE": "local",
        "SCIM_LOCAL_SECRETS_FILE": str(state / "secrets.json"),
        "SCIM_PUBLIC_BASE_URL": PUBLIC,
        "SCIM_TENANT_CACHE_SECONDS": "1",
        "SCIM_ENV_FILE": "none",
    }


def cli(env: dict[str, str]) -> Callable[..., Result]:
    runner = CliRunner()

    def run(*args: str, passphrase: str | None = PASSPHRASE) -> Result:
        extra = {"SCIM_EXPORT_PASSPHRASE": passphrase} if passphrase else {}
        return runner.invoke(main, list(args), env={**env, **extra}, catch_exceptions=False)

    return run


def ok(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@contextmanager
def served(env: dict[str, str]) -> Iterator[str]:
    """The app over HTTP against this environment's storage and secrets (the process-wide API swapped in)."""
    previous = api._api
    api._api = api.build_api(Settings.from_environ(env))
    server = make_server(function_app.app, "127.0.0.1", 0, ROOT / "host.json")
    serve_in_thread(server)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        api._api = previous


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": SCIM}


def user(name: str) -> dict[str, Any]:
    email = f"{name}@contoso.com"
    return {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": email, "emails": [{"value": email}]}


def access_token(base: str, client_id: str, secret: str) -> str:
    grant = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    answer = httpx.post(f"{base}/oauth2/token", data=grant, timeout=10)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def listing(base: str, tenant: str, token: str, kind: str) -> tuple[int, dict[str, Any]]:
    answer = httpx.get(f"{base}/scim/v2/{tenant}/{kind}", headers=bearer(token), timeout=10)
    return answer.status_code, answer.json()


@pytest.fixture
def fresh_azurite() -> Iterator[Azurite]:
    """The data account `azd up` creates after `azd down`: empty."""
    with Azurite() as server:
        yield server


def test_down_up_import_brings_every_tenant_back_with_its_old_credentials_and_data(
    azurite: Azurite, fresh_azurite: Azurite, tmp_path: Path
) -> None:
    prefix = f"r{uuid.uuid4().hex[:10]}"
    before = environ(azurite.connection_string, tmp_path / "before", prefix)
    after = environ(fresh_azurite.connection_string, tmp_path / "after", prefix)
    old = cli(before)

    # Before `azd down`: three tenants, one per way Entra connects, and their data.
    alpha = ok(old("tenant", "create", "alpha", "--name", "Alpha Ltd", "--max-users", "2", "--json"))
    beta = ok(old("tenant", "create", "beta", "--auth", "oauth", "--json"))
    gamma = ok(old("tenant", "create", "gamma", "--auth", "both", "--json"))
    gamma_new = ok(old("tenant", "rotate-token", "gamma", "--json"))  # mid-rotation: both tokens valid
    tokens = {"alpha": [alpha["secretToken"]], "gamma": [gamma["secretToken"], gamma_new["secretToken"]]}
    clients = {"beta": beta["clientSecret"], "gamma": gamma["clientSecret"]}
    with served(before) as base:
        ids = []
        for name in ("ada", "bob"):
            created = httpx.post(f"{base}/scim/v2/alpha/Users", json=user(name), headers=bearer(tokens["alpha"][0]))
            assert created.status_code == 201, created.text
            ids.append(created.json()["id"])
        group = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Staff"}
        group["members"] = [{"value": i} for i in ids]
        assert httpx.post(f"{base}/scim/v2/alpha/Groups", json=group, headers=bearer(tokens["alpha"][0])).is_success
        beta_token = access_token(base, "beta", clients["beta"])
        assert httpx.post(f"{base}/scim/v2/beta/Users", json=user("cy"), headers=bearer(beta_token)).status_code == 201
        assert httpx.post(f"{base}/scim/v2/gamma/Users", json=user("di"), headers=bearer(tokens["gamma"][1])).is_success
        _, alpha_users = listing(base, "alpha", tokens["alpha"][0], "Users")
        _, alpha_groups = listing(base, "alpha", tokens["alpha"][0], "Groups")

    export = tmp_path / "tenants.jsonl"
    exported = ok(old("export", str(export), "--json"))
    assert sorted(exported["tenants"]) == ["alpha", "beta", "gamma"]
    assert "correct horse" not in export.read_text() and clients["beta"] not in export.read_text()
    assert tokens["alpha"][0] not in export.read_text()

    # `azd down`, `azd up`: a fresh data account and an empty vault; then the one import.
    new = cli(after)
    assert ok(new("tenant", "list", "--json")) == []
    imported = ok(new("import", str(export), "--json"))
    assert sorted(imported["tenants"]) == ["alpha", "beta", "gamma"]

    with served(after) as base:
        for tenant, valid in tokens.items():
            for token in valid:  # every Secret Token printed before `azd down`
                status, body = listing(base, tenant, token, "Users")
                assert status == 200, (tenant, body)
        for tenant, secret in clients.items():  # every OAuth client, with its old client secret
            status, body = listing(base, tenant, access_token(base, tenant, secret), "Users")
            assert status == 200, (tenant, body)
            assert body["totalResults"] == 1
        status, users = listing(base, "alpha", tokens["alpha"][0], "Users")
        assert status == 200
        assert {u["id"] for u in users["Resources"]} == {u["id"] for u in alpha_users["Resources"]} == set(ids)
        _, groups = listing(base, "alpha", tokens["alpha"][0], "Groups")
        assert groups["Resources"][0]["id"] == alpha_groups["Resources"][0]["id"]
        assert {m["value"] for m in groups["Resources"][0]["members"]} == set(ids)
        found = httpx.get(
            f"{base}/scim/v2/alpha/Users",
            params={"filter": 'userName eq "ADA@contoso.com"'},
            headers=bearer(tokens["alpha"][0]),
        ).json()
        assert found["totalResults"] == 1  # the index rows came back too
        third = httpx.post(f"{base}/scim/v2/alpha/Users", json=user("eve"), headers=bearer(tokens["alpha"][0]))
        assert third.status_code == 403 and "License limit" in third.text  # the limit came back with the tenant
        wrong = listing(base, "alpha", tokens["gamma"][0], "Users")
        assert wrong[0] == 401  # and tenants stay apart

    shown = ok(new("tenant", "show", "alpha", "--json"))
    assert (shown["displayName"], shown["maxActiveUsers"], shown["users"], shown["groups"]) == ("Alpha Ltd", 2, 2, 1)
    assert ok(new("tenant", "check", "alpha", "--json"))["ok"] is True
    again = new("import", str(export))
    assert again.exit_code == 1 and "already exist" in again.output


def test_import_refuses_a_wrong_passphrase_and_writes_nothing(
    azurite: Azurite, fresh_azurite: Azurite, tmp_path: Path
) -> None:
    prefix = f"w{uuid.uuid4().hex[:10]}"
    old = cli(environ(azurite.connection_string, tmp_path / "before", prefix))
    ok(old("tenant", "create", "alpha", "--json"))
    export = tmp_path / "tenants.jsonl"
    ok(old("export", str(export), "--json"))
    new = cli(environ(fresh_azurite.connection_string, tmp_path / "after", prefix))
    refused = new("import", str(export), passphrase="not the passphrase at all")
    assert refused.exit_code == 1 and "passphrase does not open" in refused.output
    assert ok(new("tenant", "list", "--json")) == []
    assert not (tmp_path / "after" / "secrets.json").exists()


def test_an_export_that_leaves_secrets_in_the_vault_needs_the_vault_back(
    azurite: Azurite, fresh_azurite: Azurite, tmp_path: Path
) -> None:
    prefix = f"v{uuid.uuid4().hex[:10]}"
    old = cli(environ(azurite.connection_string, tmp_path / "before", prefix))
    token = ok(old("tenant", "create", "alpha", "--json"))["secretToken"]
    export = tmp_path / "tenants.jsonl"
    assert ok(old("export", str(export), "--secrets", "vault", "--json"))["secretsMode"] == "vault"
    assert token not in export.read_text()
    empty_vault = environ(fresh_azurite.connection_string, tmp_path / "after", prefix)
    refused = cli(empty_vault)("import", str(export))
    assert refused.exit_code == 1 and "scim-token-alpha" in refused.output and "recover the vault" in refused.output
    # The vault recovered (SCIM_KEY_VAULT_RECOVER=true azd up): the same secrets file, a fresh data account.
    recovered = {**empty_vault, "SCIM_LOCAL_SECRETS_FILE": str(tmp_path / "before" / "secrets.json")}
    ok(cli(recovered)("import", str(export), "--json"))
    with served(recovered) as base:
        assert listing(base, "alpha", token, "Users")[0] == 200
