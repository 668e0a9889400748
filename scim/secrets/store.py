"""Named secrets with versions, as Key Vault keeps them: the contract both secret stores meet."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

TOKEN_SECRET_PREFIX = "scim-token-"
"""Tenant T's Secret Token is the secret scim-token-T (Key Vault names allow [0-9a-zA-Z-], 127 at most)."""

CLIENT_SECRET_PREFIX = "scim-client-secret-"
"""Tenant T's OAuth2 client secret is the secret scim-client-secret-T (client id T; 82 characters at most)."""

TOKEN_BYTES = 32
"""256 bits of randomness per Secret Token; URL-safe base64 makes it 43 characters."""


def secret_name(tenant: str) -> str:
    """The name of tenant's Secret Token in the secret store."""
    return f"{TOKEN_SECRET_PREFIX}{tenant}"


def client_secret_name(tenant: str) -> str:
    """The name of tenant's OAuth2 client secret in the secret store."""
    return f"{CLIENT_SECRET_PREFIX}{tenant}"


def new_token() -> str:
    """A fresh Secret Token: 256 random bits, URL-safe, no padding (nothing to trim when pasted)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


_GENERATED_RE = re.compile(r"[A-Za-z0-9_-]{43,}")


def looks_generated(token: str) -> bool:
    """Whether a stored value has new_token's shape (at least 43 URL-safe characters). A value put into the vault
    by hand (shorter, or another alphabet) may be guessable: its tenant keeps being checked against the store."""
    return _GENERATED_RE.fullmatch(token) is not None


def token_verifier(token: str) -> str:
    """What the tenants table keeps instead of a Secret Token: its SHA-256, hex.

    A fast unkeyed hash is a sound verifier here because every value it is applied to is a 256-bit random
    token from new_token (the CLI, the management API and setup links never take a token a person chose, and
    a stored value without new_token's shape gets no verifier: scim.platform.tenants checks looks_generated).
    No guess list or brute force reaches 2^256, so the digest gives away nothing usable, and a leaked tenants
    table does not let anyone call the endpoint. Compare digests with hmac.compare_digest.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class SecretSourceUnavailableError(Exception):
    """The secret store cannot answer now; callers answer 503 (never 401: Entra would quarantine the job)."""


class SecretStoreOutageError(SecretSourceUnavailableError):
    """Transient: the store is unreachable, throttling (429) or failing (5xx). Cached values may be served."""


class SecretStoreRefusedError(SecretSourceUnavailableError):
    """The store refused us (access revoked, 401/403, a bad request): cached values stop being served."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        """The HTTP status Key Vault answered (403: no role on the vault for this identity); None locally."""


@dataclass(frozen=True)
class SecretVersion:
    """One version of a secret, without its value (Key Vault lists versions without values)."""

    name: str
    version: str
    enabled: bool
    created_on: datetime | None = None
    not_before: datetime | None = None
    expires_on: datetime | None = None

    def usable_at(self, now: datetime) -> bool:
        """Enabled, and inside its not-before / expires window (Key Vault's nbf and exp)."""
        if not self.enabled:
            return False
        if self.not_before is not None and now < self.not_before:
            return False
        return self.expires_on is None or now < self.expires_on


class SecretStore(Protocol):
    """Reading and writing versioned secrets; Key Vault in Azure, a git-ignored file locally."""

    def versions(self, name: str) -> list[SecretVersion]:
        """Every version of the secret (values not included); [] if there is no such secret."""
        ...

    def value(self, name: str, version: str) -> str | None:
        """One version's value; None if it is gone or disabled meanwhile."""
        ...

    def add_version(self, name: str, value: str) -> SecretVersion:
        """A new, enabled version; the secret is created if it does not exist."""
        ...

    def set_enabled(self, name: str, version: str, enabled: bool) -> None:
        """Enable or disable one version (disabled versions are never accepted)."""
        ...
