"""Where each tenant's bearer secret comes from: Azure Key Vault in Azure, a settings value locally."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from scim.settings import Settings

SECRET_NAME_PREFIX = "scim-token-"
"""Key Vault secret holding tenant T's token is named scim-token-T (names allow [0-9a-zA-Z-])."""


def secret_name(tenant: str) -> str:
    return f"{SECRET_NAME_PREFIX}{tenant}"


class SecretSource(Protocol):
    """The tokens a tenant may present; more than one while a rotation is under way."""

    def tenant_tokens(self, tenant: str, *, refresh: bool = False) -> Sequence[str]:
        """Tokens accepted now for the tenant; refresh=True bypasses any cache (after a mismatch)."""
        ...


class SecretSourceUnavailableError(Exception):
    """The token store could not be read and no earlier copy is cached; the request may be retried."""


class LocalSecretSource:
    """Tokens from the SCIM_LOCAL_TOKENS setting: for make run, tests, and single-tenant set-ups."""

    def __init__(self, tokens: Mapping[str, str]) -> None:
        self._tokens = dict(tokens)

    def tenant_tokens(self, tenant: str, *, refresh: bool = False) -> Sequence[str]:
        token = self._tokens.get(tenant)
        return (token,) if token else ()


class SecretVersionProperties(Protocol):
    """The part of azure.keyvault.secrets.SecretProperties this module reads."""

    @property
    def enabled(self) -> bool | None: ...
    @property
    def created_on(self) -> datetime | None: ...
    @property
    def version(self) -> str | None: ...


class SecretReader(Protocol):
    """The part of azure.keyvault.secrets.SecretClient this module calls."""

    def list_properties_of_secret_versions(self, name: str, **kwargs: Any) -> Iterable[Any]: ...
    def get_secret(self, name: str, version: str | None = None, **kwargs: Any) -> Any: ...


@dataclass
class _CachedTokens:
    tokens: tuple[str, ...]
    fetched_at: float


class KeyVaultSecretSource:
    """Tenant tokens from Key Vault, cached per worker; the two newest enabled versions are accepted.

    Key Vault allows about 4,000 operations per 10 s per vault, so it is never called per request:
    entries live for `ttl_seconds`, and a forced refresh (after a token mismatch) happens at most
    once per `min_refresh_seconds` per tenant, so wrong tokens cannot hammer the vault.
    """

    def __init__(
        self,
        client: SecretReader,
        *,
        ttl_seconds: float = 300.0,
        min_refresh_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl = ttl_seconds
        self._min_refresh = min_refresh_seconds
        self._clock = clock
        self._cache: dict[str, _CachedTokens] = {}
        self._lock = threading.Lock()

    def tenant_tokens(self, tenant: str, *, refresh: bool = False) -> Sequence[str]:
        now = self._clock()
        with self._lock:
            cached = self._cache.get(tenant)
            if cached is not None:
                age = now - cached.fetched_at
                if age < self._ttl and (not refresh or age < self._min_refresh):
                    return cached.tokens
            try:
                tokens = self._fetch(tenant)
            except SecretSourceUnavailableError:
                if cached is None:
                    raise
                # Key Vault is unreachable or throttling: keep using the last tokens read.
                cached.fetched_at = now - self._ttl + self._min_refresh
                return cached.tokens
            self._cache[tenant] = _CachedTokens(tokens, now)
            return tokens

    def _fetch(self, tenant: str) -> tuple[str, ...]:
        from azure.core.exceptions import AzureError, ResourceNotFoundError

        name = secret_name(tenant)
        try:
            versions = [
                props
                for props in self._client.list_properties_of_secret_versions(name)
                if props.enabled and props.version
            ]
            versions.sort(key=lambda p: p.created_on or datetime.min.replace(tzinfo=UTC), reverse=True)
            values = [self._client.get_secret(name, props.version).value for props in versions[:2]]
        except ResourceNotFoundError:
            return ()
        except AzureError as exc:
            raise SecretSourceUnavailableError(type(exc).__name__) from exc
        return tuple(str(value) for value in values if value)


def build_secret_source(settings: Settings) -> SecretSource:
    """The secret source the settings ask for; Key Vault clients are created here, never at import."""
    if settings.secret_source == "local":
        return LocalSecretSource(settings.local_tokens)
    from azure.keyvault.secrets import SecretClient

    assert settings.key_vault_url is not None  # checked by Settings.from_environ
    return KeyVaultSecretSource(SecretClient(vault_url=settings.key_vault_url, credential=azure_credential(settings)))


def azure_credential(settings: Settings) -> Any:
    """The app's Entra identity: the user-assigned managed identity in Azure, the developer's login elsewhere."""
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    if settings.managed_identity_client_id:
        return ManagedIdentityCredential(client_id=settings.managed_identity_client_id)
    return DefaultAzureCredential()
