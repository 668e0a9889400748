"""Where secrets come from: Azure Key Vault in Azure, a git-ignored file locally; the only package that
imports Key Vault or azure.identity. Nothing here touches the network at import time.

Readers (the SCIM endpoint) use a SecretSource: cached, bounded, rotation-aware. Writers (the operator
CLI) use the SecretStore underneath it directly. Any named secret, not only Secret Tokens, is read the
same cached way through ``SecretSource.secret_values(name)``.
"""

from __future__ import annotations

from typing import Any

from scim.secrets.local import LocalSecretStore
from scim.secrets.source import ACCEPTED_VERSIONS, CachedSecretSource, SecretSource, StaticSecretSource
from scim.secrets.store import (
    CLIENT_SECRET_PREFIX,
    TOKEN_SECRET_PREFIX,
    SecretSourceUnavailableError,
    SecretStore,
    SecretStoreOutageError,
    SecretStoreRefusedError,
    SecretVersion,
    client_secret_name,
    looks_generated,
    new_token,
    secret_name,
    token_verifier,
)
from scim.settings import Settings

__all__ = [
    "ACCEPTED_VERSIONS",
    "CLIENT_SECRET_PREFIX",
    "TOKEN_SECRET_PREFIX",
    "CachedSecretSource",
    "KeyVaultSecretSource",
    "LocalSecretStore",
    "SecretSource",
    "SecretSourceUnavailableError",
    "SecretStore",
    "SecretStoreOutageError",
    "SecretStoreRefusedError",
    "SecretVersion",
    "StaticSecretSource",
    "azure_credential",
    "build_secret_source",
    "build_secret_store",
    "client_secret_name",
    "looks_generated",
    "new_token",
    "secret_name",
    "token_verifier",
]


def KeyVaultSecretSource(client: Any, **options: Any) -> CachedSecretSource:
    """A cached SecretSource over a Key Vault SecretClient (see scim.secrets.keyvault for its options)."""
    from scim.secrets.keyvault import KeyVaultSecretStore

    return CachedSecretSource(KeyVaultSecretStore(client), **options)


def build_secret_store(settings: Settings, *, operator: bool = False) -> SecretStore:
    """The store the settings name; operator=True gives a client that retries (a person is waiting)."""
    if settings.secret_source == "local":
        return LocalSecretStore(settings.local_secrets_path)
    from scim.secrets.keyvault import (
        OPERATOR_CLIENT_OPTIONS,
        REQUEST_PATH_CLIENT_OPTIONS,
        KeyVaultSecretStore,
        secret_client,
    )

    assert settings.key_vault_url is not None  # checked by Settings.from_environ
    options = OPERATOR_CLIENT_OPTIONS if operator else REQUEST_PATH_CLIENT_OPTIONS
    return KeyVaultSecretStore(secret_client(settings.key_vault_url, azure_credential(settings), **options))


def build_secret_source(settings: Settings) -> CachedSecretSource:
    """The request path's cached source; Key Vault clients are created here, never at import."""
    local = settings.secret_source == "local"
    return CachedSecretSource(
        build_secret_store(settings),
        ttl_seconds=settings.token_cache_seconds,
        shared_ttl_seconds=settings.revocation_seconds,
        grace_seconds=settings.token_grace_seconds,
        # A file read is cheap: a rotated local token works within a second; Key Vault is asked at most
        # every 30 s per tenant, however many wrong tokens arrive.
        min_refresh_seconds=1.0 if local else 30.0,
        typical_read_seconds=0.001 if local else 0.05,
    )


def azure_credential(settings: Settings) -> Any:
    """The app's Entra identity: the user-assigned managed identity in Azure, the developer's login elsewhere."""
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    if settings.managed_identity_client_id:
        return ManagedIdentityCredential(client_id=settings.managed_identity_client_id)
    return DefaultAzureCredential()
