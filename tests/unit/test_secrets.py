"""The cached secret source over any store, and the local (file) store that make run and tests use."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scim.secrets import (
    CachedSecretSource,
    LocalSecretStore,
    SecretSourceUnavailableError,
    SecretStoreOutageError,
    SecretStoreRefusedError,
    SecretVersion,
    new_token,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class MemoryStore:
    """A SecretStore in memory that counts calls and can fail."""

    def __init__(self) -> None:
        self.secrets: dict[str, list[tuple[SecretVersion, str]]] = {}
        self.calls = 0
        self.fail: Exception | None = None

    def put(self, name: str, version: str, value: str, created: datetime, **attrs: object) -> None:
        props = SecretVersion(name, version, bool(attrs.pop("enabled", True)), created, **attrs)  # type: ignore[arg-type]
        self.secrets.setdefault(name, []).append((props, value))

    def versions(self, name: str) -> list[SecretVersion]:
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        return [props for props, _ in self.secrets.get(name, [])]

    def value(self, name: str, version: str) -> str | None:
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        return next((v for p, v in self.secrets.get(name, []) if p.version == version and p.enabled), None)


class Clocks:
    def __init__(self) -> None:
        self.mono = 1000.0
        self.wall = T0 + timedelta(days=10)

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.wall += timedelta(seconds=seconds)


def source(store: MemoryStore, clocks: Clocks, **options: float) -> CachedSecretSource:
    return CachedSecretSource(
        store,  # type: ignore[arg-type]
        clock=lambda: clocks.mono,
        wall_clock=lambda: clocks.wall,
        **options,  # type: ignore[arg-type]
    )


def rotated() -> MemoryStore:
    store = MemoryStore()
    store.put("scim-token-acme", "v1", "oldest", T0)
    store.put("scim-token-acme", "v3", "newest", T0 + timedelta(days=2))
    store.put("scim-token-acme", "v2", "previous", T0 + timedelta(days=1))
    store.put("scim-token-acme", "v4", "disabled", T0 + timedelta(days=3), enabled=False)
    return store


def test_two_newest_enabled_versions_are_accepted() -> None:
    assert source(rotated(), Clocks()).tenant_tokens("acme") == ("newest", "previous")


def test_a_refresh_costs_one_listing_once_values_are_known() -> None:
    store, clocks = rotated(), Clocks()
    tokens = source(store, clocks, ttl_seconds=300)
    tokens.tenant_tokens("acme")
    assert store.calls == 3  # list, then the two values
    clocks.advance(301)
    tokens.tenant_tokens("acme")
    assert store.calls == 4


def test_expired_and_not_yet_valid_versions_are_refused_even_while_cached() -> None:
    store, clocks = MemoryStore(), Clocks()
    store.put("scim-token-acme", "v1", "expiring", T0, expires_on=clocks.wall + timedelta(seconds=60))
    store.put(
        "scim-token-acme", "v2", "future", T0 + timedelta(days=1), not_before=clocks.wall + timedelta(seconds=120)
    )
    store.put("scim-token-acme", "v0", "expired", T0 - timedelta(days=1), expires_on=clocks.wall - timedelta(days=1))
    tokens = source(store, clocks, ttl_seconds=300)
    assert tokens.tenant_tokens("acme") == ("expiring",)
    clocks.advance(61)
    assert tokens.tenant_tokens("acme") == ()
    clocks.advance(60)
    assert tokens.tenant_tokens("acme") == ("future",)


def test_outage_serves_cached_tokens_for_the_grace_period_then_503() -> None:
    store, clocks = rotated(), Clocks()
    tokens = source(store, clocks, ttl_seconds=300, grace_seconds=900)
    tokens.tenant_tokens("acme")
    store.fail = SecretStoreOutageError("429")
    clocks.advance(301)
    assert tokens.tenant_tokens("acme") == ("newest", "previous")
    clocks.advance(900)
    with pytest.raises(SecretSourceUnavailableError):
        tokens.tenant_tokens("acme")


def test_revoked_vault_access_takes_effect_within_the_cache_lifetime() -> None:
    store, clocks = rotated(), Clocks()
    tokens = source(store, clocks, ttl_seconds=300, grace_seconds=900)
    tokens.tenant_tokens("acme")
    store.fail = SecretStoreRefusedError("403")
    clocks.advance(301)
    with pytest.raises(SecretSourceUnavailableError):
        tokens.tenant_tokens("acme")


def test_vault_down_and_nothing_cached_costs_one_call_per_refresh_interval() -> None:
    """Issue #15: with the vault down each request for an uncached tenant went back to the vault."""
    store, clocks = rotated(), Clocks()
    store.fail = SecretStoreOutageError("down")
    tokens = source(store, clocks, min_refresh_seconds=30)
    for _ in range(100):
        with pytest.raises(SecretSourceUnavailableError):
            tokens.tenant_tokens("acme")
    assert store.calls == 1


def test_cache_is_bounded() -> None:
    """Issue #15: 5,000 names gave 5,000 cache entries, never evicted."""
    store, clocks = MemoryStore(), Clocks()
    tokens = source(store, clocks, max_entries=100)
    for n in range(5000):
        tokens.secret_values(f"scim-token-t{n}")
    assert len(tokens._cache) == 100


def test_any_named_secret_is_read_the_same_way() -> None:
    store, clocks = MemoryStore(), Clocks()
    store.put("oauth-signing-key", "k1", "key-material", T0)
    assert source(store, clocks).secret_values("oauth-signing-key") == ("key-material",)


def test_generated_tokens_are_long_url_safe_and_unique() -> None:
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100
    for token in tokens:
        assert len(token) >= 43  # 256 bits in URL-safe base64
        assert token.replace("-", "").replace("_", "").isalnum()


def test_local_store_keeps_versions_like_a_vault(tmp_path: Path) -> None:
    path = tmp_path / "state" / "secrets.json"
    store = LocalSecretStore(path)
    assert store.versions("scim-token-acme") == []
    first = store.add_version("scim-token-acme", "one")
    second = store.add_version("scim-token-acme", "two")
    store.set_enabled("scim-token-acme", first.version, False)
    versions = {v.version: v for v in LocalSecretStore(path).versions("scim-token-acme")}
    assert not versions[first.version].enabled and versions[second.version].enabled
    assert store.value("scim-token-acme", second.version) == "two"
    assert store.value("scim-token-acme", first.version) is None  # disabled
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_local_store_that_is_not_json_is_refused_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "secrets.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(SecretStoreRefusedError):
        LocalSecretStore(path).versions("scim-token-acme")
