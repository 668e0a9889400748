"""KeyVaultSecretSource and the CLI's Key Vault path, with the real SecretClient against an HTTPS fake vault."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from click.testing import CliRunner

from devhost.azurite import Azurite
from scim import secrets as scim_secrets
from scim.api.scim import ScimApi
from scim.auth import TenantAuthenticator
from scim.cli import main
from scim.http import Request
from scim.platform.tenants import Tenant
from scim.resources.users import UserService
from scim.secrets import KeyVaultSecretSource, SecretSourceUnavailableError, SecretStoreRefusedError
from scim.secrets.keyvault import REQUEST_PATH_CLIENT_OPTIONS, KeyVaultSecretStore, secret_client
from scim.settings import Settings
from tests.keyvault_fake import FakeCredential, FakeVault, serve_fake_vault


@pytest.fixture(scope="module")
def fake_vault(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FakeVault, str]]:
    with serve_fake_vault(tmp_path_factory.mktemp("vault")) as served:
        yield served


@pytest.fixture
def vault(fake_vault: tuple[FakeVault, str]) -> FakeVault:
    state, _ = fake_vault
    state.secrets.clear()
    state.failures.clear()
    state.fail_always = None
    return state


def client(fake_vault: tuple[FakeVault, str], **options: Any) -> Any:
    state, ca_path = fake_vault
    return secret_client(
        state.url,
        FakeCredential(),
        verify_challenge_resource=False,
        connection_verify=ca_path,
        **{**REQUEST_PATH_CLIENT_OPTIONS, **options},
    )


@pytest.fixture
def source(fake_vault: tuple[FakeVault, str], vault: FakeVault) -> Any:
    return KeyVaultSecretSource(client(fake_vault), min_refresh_seconds=0.0)


def reads(vault: FakeVault) -> int:
    return len(vault.requests)


def test_first_read_then_cache_hit(vault: FakeVault, source: Any) -> None:
    vault.put("scim-token-acme", "tok-1")
    assert source.tenant_tokens("acme") == ("tok-1",)
    after_first = reads(vault)
    assert after_first == 2  # the version listing, then the value
    assert source.tenant_tokens("acme") == ("tok-1",)
    assert reads(vault) == after_first


def test_rotation_is_seen_on_refresh_and_costs_one_listing(vault: FakeVault, source: Any) -> None:
    vault.put("scim-token-acme", "old", created=int(time.time()) - 60)
    assert source.tenant_tokens("acme") == ("old",)
    vault.put("scim-token-acme", "new")
    before = reads(vault)
    assert source.tenant_tokens("acme", refresh=True) == ("new", "old")
    assert reads(vault) - before == 2  # listing + the new value; the old value is remembered


def test_disabled_and_expired_versions_are_not_accepted(vault: FakeVault, source: Any) -> None:
    past = int((datetime.now(UTC) - timedelta(days=1)).timestamp())
    future = int((datetime.now(UTC) + timedelta(days=1)).timestamp())
    vault.put("scim-token-acme", "expired", exp=past, created=int(time.time()) - 60)
    vault.put("scim-token-acme", "good")
    vault.put("scim-token-acme", "not-yet", nbf=future)
    vault.put("scim-token-acme", "disabled", enabled=False)
    assert source.tenant_tokens("acme") == ("good",)


def test_a_version_disabled_between_listing_and_read_is_skipped(
    fake_vault: tuple[FakeVault, str], vault: FakeVault
) -> None:
    version = vault.put("scim-token-acme", "tok")
    store = KeyVaultSecretStore(client(fake_vault))
    vault.secrets["scim-token-acme"][0].enabled = False
    assert store.value("scim-token-acme", version.version) is None  # 403 SecretDisabled, not an outage


def test_missing_secret_means_no_tokens(vault: FakeVault, source: Any) -> None:
    assert source.tenant_tokens("ghost") == ()


def test_throttled_vault_does_not_hold_the_request(vault: FakeVault, source: Any) -> None:
    """Issue #15: with 429 Retry-After: 4 one request held the lock 12 s. Now: no SDK retry, an answer at once."""
    vault.put("scim-token-acme", "tok")
    vault.fail_next(429, count=5, retry_after="4")
    began = time.perf_counter()
    with pytest.raises(SecretSourceUnavailableError):
        source.tenant_tokens("acme")
    assert time.perf_counter() - began < 3.0  # SDK retries would wait 4 s each: this tells them apart under load


@pytest.mark.parametrize("status", [429, 500, 503])
def test_vault_outage_is_503_for_the_caller_never_401(
    vault: FakeVault, fake_vault: tuple[FakeVault, str], status: int
) -> None:
    vault.put("scim-token-acme", "tok")
    vault.fail_always = (status, {"Retry-After": "4"} if status == 429 else {}, "Throttled")
    directory = type("D", (), {"lookup": lambda self, t: Tenant(t, t, datetime.now(UTC), True, None)})()
    auth = TenantAuthenticator(directory, KeyVaultSecretSource(client(fake_vault)))  # type: ignore[arg-type]
    api = ScimApi(Settings(), UserService(None), auth, None)  # type: ignore[arg-type]
    request = Request.build(
        "GET", "https://h/scim/v2/acme/Users", route_params={"tenant": "acme"}, headers={"Authorization": "Bearer tok"}
    )
    response = api.users_collection(request)
    assert response.status == 503 and response.headers["Retry-After"]
    assert json.loads(response.body)["status"] == "503"


def test_cached_tokens_survive_an_outage_but_not_revoked_access(
    fake_vault: tuple[FakeVault, str], vault: FakeVault
) -> None:
    vault.put("scim-token-acme", "tok")
    clock = [1000.0]
    source = KeyVaultSecretSource(client(fake_vault), ttl_seconds=60, grace_seconds=120, clock=lambda: clock[0])
    assert source.tenant_tokens("acme") == ("tok",)
    vault.fail_always = (503, {}, "ServiceUnavailable")
    clock[0] += 61
    assert source.tenant_tokens("acme") == ("tok",)  # inside the grace period
    clock[0] += 120
    with pytest.raises(SecretSourceUnavailableError):
        source.tenant_tokens("acme")  # grace period over: 503, not 401
    vault.fail_always = None
    clock[0] += 31  # the next read is allowed min_refresh after the failed one
    assert source.tenant_tokens("acme") == ("tok",)
    vault.fail_always = (403, {}, "Forbidden")  # the app's access to the vault is revoked
    clock[0] += 61
    with pytest.raises(SecretStoreRefusedError):
        source.tenant_tokens("acme")


def test_cli_creates_rotates_and_retires_tokens_in_key_vault(
    fake_vault: tuple[FakeVault, str], vault: FakeVault, azurite: Azurite, monkeypatch: pytest.MonkeyPatch, tenant: str
) -> None:
    state, ca_path = fake_vault
    monkeypatch.setattr(scim_secrets, "azure_credential", lambda settings: FakeCredential())
    real_client = scim_secrets.keyvault.secret_client
    monkeypatch.setattr(
        scim_secrets.keyvault,
        "secret_client",
        lambda url, credential, **options: real_client(
            url, credential, verify_challenge_resource=False, connection_verify=ca_path, **options
        ),
    )
    env = {
        "SCIM_STORAGE_CONNECTION_STRING": azurite.connection_string,
        "SCIM_TABLE_PREFIX": "kvcli",
        "SCIM_SECRET_SOURCE": "keyvault",
        "SCIM_KEY_VAULT_URL": state.url,
        "SCIM_PUBLIC_BASE_URL": "https://func-scim.azurewebsites.net",
    }
    runner = CliRunner()
    created = json.loads(
        runner.invoke(main, ["tenant", "create", tenant, "--json"], env=env, catch_exceptions=False).stdout
    )
    assert created["tenantUrl"] == f"https://func-scim.azurewebsites.net/scim/v2/{tenant}"
    assert vault.valid_values(f"scim-token-{tenant}") == [created["secretToken"]]
    rotated = json.loads(runner.invoke(main, ["tenant", "rotate-token", tenant, "--json"], env=env).stdout)
    assert vault.valid_values(f"scim-token-{tenant}") == [created["secretToken"], rotated["secretToken"]]
    assert runner.invoke(main, ["tenant", "retire-token", tenant], env=env).exit_code == 0
    assert vault.valid_values(f"scim-token-{tenant}") == [rotated["secretToken"]]
    vault.fail_always = (403, {}, "Forbidden")
    denied = runner.invoke(main, ["tenant", "rotate-token", tenant], env=env)
    assert denied.exit_code == 1 and "secret store" in denied.output and "Traceback" not in denied.output
    assert "(403" in denied.output and "Key Vault Secrets Officer" in denied.output  # the role it lacks
