"""OAuth2 clients of tenants and the deployment's signing keys: the operator's use cases.

A tenant has at most one client, whose client id is the tenant id. A client id is not a secret (RFC 6749
§2.2), and the id being guessable costs nothing: the token endpoint refuses an unknown id exactly like a
wrong secret, and the 256-bit client secret is what proves the caller. So no mapping table is needed and
the token endpoint reads only the (cached) tenant record and the (cached) secret.

Client secrets are versions of the secret scim-client-secret-<tenant>, rotated like Secret Tokens: a new
version, both valid, then the old one retired. Signing keys are versions of scim-oauth-signing-key, one
set per deployment, rotated the same way.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from scim.oauth.keys import SIGNING_KEY_SECRET, new_signing_key
from scim.platform.tenants import TenantService, TenantTokenStateError
from scim.secrets import SecretStore, SecretVersion, client_secret_name, new_token

TOKEN_PATH = "/oauth2/token"  # noqa: S105 - a URL path


@dataclass(frozen=True)
class ClientCredentials:
    """The four values the Entra admin enters under Admin Credentials for the client credentials grant."""

    tenant_url: str
    token_endpoint: str
    client_id: str
    client_secret: str


class VersionedSecret:
    """One named secret with the rotation rules of Secret Tokens: at most two valid versions, newest first."""

    def __init__(self, store: SecretStore, name: str) -> None:
        self._store = store
        self.name = name

    def valid(self) -> list[SecretVersion]:
        now = datetime.now(UTC)
        versions = sorted(
            self._store.versions(self.name),
            key=lambda v: v.created_on or datetime.min.replace(tzinfo=UTC),
            reverse=True,
        )
        return [v for v in versions if v.usable_at(now)]

    def add(self, value: str) -> SecretVersion:
        _after_newest(self._store.versions(self.name))
        return self._store.add_version(self.name, value)

    def disable(self, versions: Sequence[SecretVersion]) -> int:
        for version in versions:
            self._store.set_enabled(self.name, version.version, False)
        return len(versions)


def _after_newest(versions: Sequence[SecretVersion]) -> None:
    """Key Vault keeps creation times in whole seconds: wait out the newest version's second, so "newest"
    stays unambiguous (the same rule as tenant token rotation)."""
    created = [v.created_on for v in versions if v.created_on is not None]
    if created and max(created).microsecond == 0:
        wait = max(created).timestamp() + 1.0 - datetime.now(UTC).timestamp()
        if 0 < wait <= 1.0:
            time.sleep(wait)


class ClientService:
    """Adds, rotates and retires tenants' client secrets, and the deployment's signing keys."""

    def __init__(self, tenants: TenantService, secrets: SecretStore, *, public_base_url: str) -> None:
        self._tenants = tenants
        self._secrets = secrets
        self._base_url = public_base_url.rstrip("/")

    @property
    def token_endpoint(self) -> str:
        return f"{self._base_url}{TOKEN_PATH}"

    def _client(self, tenant_id: str) -> VersionedSecret:
        self._tenants.get(tenant_id)
        return VersionedSecret(self._secrets, client_secret_name(tenant_id))

    def _credentials(self, tenant_id: str, secret: str) -> ClientCredentials:
        return ClientCredentials(self._tenants.tenant_url(tenant_id), self.token_endpoint, tenant_id, secret)

    def client_secret_versions(self, tenant_id: str) -> list[SecretVersion]:
        """The tenant's valid client secret versions (never their values), newest first."""
        return self._client(tenant_id).valid()

    def add_client(self, tenant_id: str) -> ClientCredentials:
        """Give the tenant its client and a first client secret (shown once); a signing key if none yet."""
        client = self._client(tenant_id)
        if client.valid():
            raise TenantTokenStateError(
                f"tenant {tenant_id} already has a client; use `tenant rotate-client-secret {tenant_id}`"
            )
        self.ensure_signing_key()
        secret = new_token()
        client.add(secret)
        self._tenants.secrets_changed(tenant_id)
        return self._credentials(tenant_id, secret)

    def rotate_client_secret(self, tenant_id: str) -> ClientCredentials:
        """A new client secret; the previous one stays valid until retire_client_secret."""
        client = self._client(tenant_id)
        valid = client.valid()
        if not valid:
            raise TenantTokenStateError(f"tenant {tenant_id} has no client; run `tenant add-client {tenant_id}`")
        if len(valid) >= 2:
            raise TenantTokenStateError(
                f"tenant {tenant_id} already has two valid client secrets: once Entra uses the newest, run "
                f"`tenant retire-client-secret {tenant_id}`, then rotate again"
            )
        self.ensure_signing_key()
        secret = new_token()
        client.add(secret)
        self._tenants.secrets_changed(tenant_id)
        return self._credentials(tenant_id, secret)

    def retire_client_secret(self, tenant_id: str) -> int:
        """Disable every valid client secret but the newest; the number disabled."""
        client = self._client(tenant_id)
        valid = client.valid()
        if not valid:
            raise TenantTokenStateError(f"tenant {tenant_id} has no client; run `tenant add-client {tenant_id}`")
        retired = client.disable(valid[1:])
        self._tenants.secrets_changed(tenant_id)
        return retired

    def remove_client(self, tenant_id: str) -> int:
        """Disable every client secret: the tenant can get no new access tokens (issued ones run out)."""
        client = VersionedSecret(self._secrets, client_secret_name(tenant_id))
        removed = client.disable(client.valid())
        self._tenants.secrets_changed(tenant_id)
        return removed

    # -- the deployment's signing keys ----------------------------------------------------------

    def signing_keys(self) -> list[SecretVersion]:
        return VersionedSecret(self._secrets, SIGNING_KEY_SECRET).valid()

    def ensure_signing_key(self) -> bool:
        """Create the first signing key if the deployment has none; True if one was created."""
        keys = VersionedSecret(self._secrets, SIGNING_KEY_SECRET)
        if keys.valid():
            return False
        keys.add(new_signing_key())
        return True

    def rotate_signing_key(self) -> None:
        """A new signing key; tokens signed by the previous one stay valid until retire_signing_key."""
        keys = VersionedSecret(self._secrets, SIGNING_KEY_SECRET)
        if len(keys.valid()) >= 2:
            raise TenantTokenStateError(
                "there are already two signing keys: wait until tokens signed by the older one have expired "
                "(SCIM_OAUTH_TOKEN_SECONDS after the rotation), run `oauth retire-signing-key`, then rotate again"
            )
        keys.add(new_signing_key())

    def retire_signing_key(self) -> int:
        """Disable every signing key but the newest: tokens they signed are refused from then on."""
        keys = VersionedSecret(self._secrets, SIGNING_KEY_SECRET)
        return keys.disable(keys.valid()[1:])
