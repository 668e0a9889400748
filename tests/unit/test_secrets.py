from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.core.exceptions import ResourceNotFoundError, ServiceRequestError

from scim.secrets import KeyVaultSecretSource, LocalSecretSource, SecretSourceUnavailableError

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass
class Version:
    version: str
    enabled: bool
    created_on: datetime
    value: str


class FakeVault:
    """Implements the two SecretClient calls KeyVaultSecretSource makes, counting them."""

    def __init__(self, secrets: dict[str, list[Version]]) -> None:
        self.secrets = secrets
        self.calls = 0

    def list_properties_of_secret_versions(self, name: str, **kwargs: Any) -> list[Version]:
        self.calls += 1
        if name not in self.secrets:
            raise ResourceNotFoundError("SecretNotFound")
        return list(self.secrets[name])

    def get_secret(self, name: str, version: str | None = None, **kwargs: Any) -> Version:
        self.calls += 1
        return next(v for v in self.secrets[name] if v.version == version)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def vault_with_rotation() -> FakeVault:
    return FakeVault(
        {
            "scim-token-acme": [
                Version("v1", True, T0, "oldest"),
                Version("v3", True, T0 + timedelta(days=2), "newest"),
                Version("v2", True, T0 + timedelta(days=1), "previous"),
                Version("v4", False, T0 + timedelta(days=3), "disabled"),
            ]
        }
    )


def test_two_newest_enabled_versions_are_accepted() -> None:
    source = KeyVaultSecretSource(vault_with_rotation(), clock=Clock())
    assert list(source.tenant_tokens("acme")) == ["newest", "previous"]


def test_tokens_are_cached_for_the_ttl() -> None:
    vault, clock = vault_with_rotation(), Clock()
    source = KeyVaultSecretSource(vault, ttl_seconds=300, clock=clock)
    source.tenant_tokens("acme")
    calls = vault.calls
    clock.now += 299
    source.tenant_tokens("acme")
    assert vault.calls == calls
    clock.now += 2
    source.tenant_tokens("acme")
    assert vault.calls == 2 * calls


def test_forced_refresh_is_rate_limited_per_tenant() -> None:
    vault, clock = vault_with_rotation(), Clock()
    source = KeyVaultSecretSource(vault, min_refresh_seconds=30, clock=clock)
    source.tenant_tokens("acme")
    calls = vault.calls
    for _ in range(50):
        source.tenant_tokens("acme", refresh=True)
    assert vault.calls == calls
    clock.now += 31
    source.tenant_tokens("acme", refresh=True)
    assert vault.calls == 2 * calls


def test_unknown_tenant_has_no_tokens() -> None:
    assert list(KeyVaultSecretSource(FakeVault({}), clock=Clock()).tenant_tokens("ghost")) == []


def test_local_source() -> None:
    source = LocalSecretSource({"acme": "t"})
    assert list(source.tenant_tokens("acme")) == ["t"]
    assert list(source.tenant_tokens("other")) == []


class FailingVault(FakeVault):
    def __init__(self, secrets: dict[str, list[Version]]) -> None:
        super().__init__(secrets)
        self.down = False

    def list_properties_of_secret_versions(self, name: str, **kwargs: Any) -> list[Version]:
        if self.down:
            raise ServiceRequestError("vault unreachable")
        return super().list_properties_of_secret_versions(name)


def test_vault_outage_keeps_serving_the_last_tokens() -> None:
    vault, clock = FailingVault(vault_with_rotation().secrets), Clock()
    source = KeyVaultSecretSource(vault, ttl_seconds=300, clock=clock)
    assert list(source.tenant_tokens("acme")) == ["newest", "previous"]
    vault.down = True
    clock.now += 301
    assert list(source.tenant_tokens("acme")) == ["newest", "previous"]


def test_vault_outage_without_cache_is_reported_as_unavailable() -> None:
    vault = FailingVault({})
    vault.down = True
    with pytest.raises(SecretSourceUnavailableError):
        KeyVaultSecretSource(vault, clock=Clock()).tenant_tokens("acme")
