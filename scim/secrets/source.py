"""Reading secrets on the request path: cached, bounded, rotation-aware, honest about outages.

A request never waits on a lock held across a store call, an unknown tenant never reaches the store
(scim.auth asks the tenants table first), and one cached copy serves every request of a worker for
``ttl`` seconds. Versions past ``expires_on`` or before ``not_before`` are refused even while cached.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from scim.cache import ReadThroughCache
from scim.secrets.store import (
    CLIENT_SECRET_PREFIX,
    TOKEN_SECRET_PREFIX,
    SecretStore,
    SecretStoreOutageError,
    SecretVersion,
    secret_name,
)

ACCEPTED_VERSIONS = 2
"""The newest and the previous version are both accepted, so a rotation never breaks provisioning."""


class SecretSource(Protocol):
    """The values a named secret may take now, newest first: more than one while a rotation is under way."""

    def secret_values(self, name: str, *, refresh: bool = False) -> Sequence[str]:
        """Accepted values of any named secret; refresh=True re-reads the store if allowed (after a mismatch)."""
        ...

    def tenant_tokens(self, tenant: str, *, refresh: bool = False) -> Sequence[str]:
        """Accepted Secret Tokens of a tenant (the secret scim-token-<tenant>)."""
        ...

    def typical_read_seconds(self) -> float:
        """How long an uncached read usually takes here; scim.auth spends as long on unknown tenants."""
        ...


@dataclass(frozen=True)
class _HeldValue:
    value: str
    version: SecretVersion


class CachedSecretSource:
    """A SecretSource over any SecretStore: one bounded read-through cache per worker process."""

    def __init__(
        self,
        store: SecretStore,
        *,
        ttl_seconds: float = 300.0,
        min_refresh_seconds: float = 30.0,
        grace_seconds: float = 900.0,
        shared_ttl_seconds: float = 30.0,
        max_entries: int = 10_000,
        typical_read_seconds: float = 0.05,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._ttl = ttl_seconds
        self.min_refresh_seconds = min_refresh_seconds
        self._wall_clock = wall_clock
        self._cache: ReadThroughCache[str, tuple[_HeldValue, ...]] = ReadThroughCache(
            self._load,
            ttl=ttl_seconds,
            max_entries=max_entries,
            min_reload=min_refresh_seconds,
            grace=grace_seconds,
            transient=(SecretStoreOutageError,),
            clock=clock,
        )
        # Secrets of the whole deployment (operator key, signing keys) have no tenant record to say they
        # changed: they are kept no longer than the revocation bound.
        self._shared: ReadThroughCache[str, tuple[_HeldValue, ...]] = ReadThroughCache(
            self._load,
            ttl=min(ttl_seconds, shared_ttl_seconds),
            max_entries=64,
            min_reload=min(min_refresh_seconds, shared_ttl_seconds),
            grace=grace_seconds,
            transient=(SecretStoreOutageError,),
            clock=clock,
        )
        # A version's value never changes: remember it, so a refresh costs one listing, not three calls.
        self._values: ReadThroughCache[tuple[str, str], str | None] = ReadThroughCache(
            lambda key: store.value(*key), ttl=3600.0, max_entries=2 * max_entries, min_reload=0.0, clock=clock
        )
        self._typical = typical_read_seconds
        self._typical_lock = threading.Lock()

    def secret_values(self, name: str, *, refresh: bool = False) -> tuple[str, ...]:
        now = self._wall_clock()
        held = self._cache_of(name).get(name, reload=refresh)
        usable = [item.value for item in held if item.version.usable_at(now)]
        return tuple(usable[:ACCEPTED_VERSIONS])

    def tenant_tokens(self, tenant: str, *, refresh: bool = False) -> tuple[str, ...]:
        return self.secret_values(secret_name(tenant), refresh=refresh)

    def typical_read_seconds(self) -> float:
        return self._typical

    def forget(self, name: str) -> None:
        """Drop what is cached for the secret: its next use reads the store (its tenant record changed)."""
        self._cache_of(name).invalidate(name)

    def _cache_of(self, name: str) -> ReadThroughCache[str, tuple[_HeldValue, ...]]:
        return self._cache if name.startswith((TOKEN_SECRET_PREFIX, CLIENT_SECRET_PREFIX)) else self._shared

    def _load(self, name: str) -> tuple[_HeldValue, ...]:
        started = time.perf_counter()
        now = self._wall_clock()
        horizon = now.timestamp() + self._ttl
        candidates = [
            version
            for version in self._store.versions(name)
            if version.enabled
            and (version.expires_on is None or version.expires_on > now)
            and (version.not_before is None or version.not_before.timestamp() <= horizon)
        ]
        candidates.sort(key=lambda v: v.created_on or datetime.min.replace(tzinfo=UTC), reverse=True)
        held = []
        for version in candidates[:ACCEPTED_VERSIONS]:
            value = self._values.get((name, version.version))
            if value:
                held.append(_HeldValue(value, version))
        self._observe(time.perf_counter() - started)
        return tuple(held)

    def _observe(self, seconds: float) -> None:
        with self._typical_lock:
            self._typical = 0.8 * self._typical + 0.2 * seconds


class StaticSecretSource:
    """Fixed tenant tokens given in code, for benchmarks and tests that build the API themselves."""

    min_refresh_seconds = 0.0

    def __init__(self, tokens: dict[str, str]) -> None:
        self._tokens = dict(tokens)

    def secret_values(self, name: str, *, refresh: bool = False) -> tuple[str, ...]:
        return ()

    def tenant_tokens(self, tenant: str, *, refresh: bool = False) -> tuple[str, ...]:
        token = self._tokens.get(tenant)
        return (token,) if token else ()

    def typical_read_seconds(self) -> float:
        return 0.0

    def forget(self, name: str) -> None:
        """Nothing is cached."""
