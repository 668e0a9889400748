"""Secrets in Azure Key Vault through the real SecretClient; the only module that imports the Key Vault SDK.

On the request path the client is built for a quick answer: no SDK retries (a 429 with Retry-After would
otherwise hold the request for as long as the vault asks) and short timeouts. The cache in front of it
serves the last values through an outage, and the caller answers 503 when it cannot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

from scim.secrets.store import (
    SecretSourceUnavailableError,
    SecretStoreOutageError,
    SecretStoreRefusedError,
    SecretVersion,
)

T = TypeVar("T")

REQUEST_PATH_CLIENT_OPTIONS: dict[str, Any] = {"retry_total": 0, "connection_timeout": 2, "read_timeout": 4}
"""For reads on the request path: fail fast, let the cache and Entra's own retries absorb a blip."""

OPERATOR_CLIENT_OPTIONS: dict[str, Any] = {"retry_total": 3, "connection_timeout": 5, "read_timeout": 20}
"""For the operator CLI: a person is waiting, but a throttled write is worth a few retries."""


def _translate(exc: AzureError) -> SecretSourceUnavailableError:
    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        return SecretStoreOutageError(f"Key Vault unreachable: {type(exc).__name__}")
    status = getattr(exc, "status_code", None)
    if status in (408, 429) or (isinstance(status, int) and status >= 500):
        return SecretStoreOutageError(f"Key Vault answered {status}")
    if isinstance(exc, HttpResponseError) and status is not None:
        code = getattr(exc, "error_code", None) or ""
        return SecretStoreRefusedError(f"Key Vault refused the request ({status} {code})".replace(" )", ")"), status)
    return SecretStoreOutageError(f"Key Vault failed: {type(exc).__name__}")


def _disabled(exc: HttpResponseError) -> bool:
    """Key Vault answers 403 with inner code SecretDisabled when reading a disabled version."""
    return exc.status_code == 403 and "SecretDisabled" in str(exc.message or exc)


class KeyVaultSecretStore:
    """A SecretStore over azure.keyvault.secrets.SecretClient (versions, values, new versions, enable)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def _call(self, action: Callable[[], T]) -> T:
        try:
            return action()
        except AzureError as exc:
            raise _translate(exc) from exc

    @staticmethod
    def _version(name: str, props: Any) -> SecretVersion:
        return SecretVersion(
            name=name,
            version=str(props.version),
            enabled=bool(props.enabled),
            created_on=props.created_on,
            not_before=props.not_before,
            expires_on=props.expires_on,
        )

    def versions(self, name: str) -> list[SecretVersion]:
        def listing() -> list[SecretVersion]:
            try:
                return [
                    self._version(name, props)
                    for props in self._client.list_properties_of_secret_versions(name)
                    if props.version
                ]
            except ResourceNotFoundError:
                return []

        return self._call(listing)

    def value(self, name: str, version: str) -> str | None:
        def read() -> str | None:
            try:
                found = self._client.get_secret(name, version)
            except ResourceNotFoundError:
                return None
            except HttpResponseError as exc:
                if _disabled(exc):
                    return None
                raise
            return str(found.value) if found.value else None

        return self._call(read)

    def add_version(self, name: str, value: str) -> SecretVersion:
        secret = self._call(lambda: self._client.set_secret(name, value, content_type="scim-bearer-token"))
        return self._version(name, secret.properties)

    def set_enabled(self, name: str, version: str, enabled: bool) -> None:
        self._call(lambda: self._client.update_secret_properties(name, version, enabled=enabled))


def secret_client(vault_url: str, credential: Any, **options: Any) -> Any:
    """A SecretClient; options are azure-core client options (retries, timeouts, connection_verify)."""
    from azure.keyvault.secrets import SecretClient

    return SecretClient(vault_url=vault_url, credential=credential, **options)
