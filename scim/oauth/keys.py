"""The deployment's access-token signing keys: RS256 keys kept as JWK text in one versioned secret.

The secret ``scim-oauth-signing-key`` holds one private JWK (RFC 7517) per version, in Key Vault in Azure
and in `.local/secrets.json` for make run. The newest enabled version signs; it and the previous one
verify (the SecretSource accepts two versions during a rotation), so tokens signed before a rotation
keep working until the operator retires the old key. A key's id (`kid`) is its RFC 7638 thumbprint,
computed from the key itself, so no store has to keep key ids in step with versions.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # joserfc is imported on first use: a Secret Token's first request does not need it
    from joserfc.jwk import RSAKey

from scim.secrets import SecretSource

SIGNING_KEY_SECRET = "scim-oauth-signing-key"  # noqa: S105 - a secret's name
"""The secret whose versions are the signing keys (Key Vault names allow [0-9a-zA-Z-])."""

ALGORITHM = "RS256"
"""RSASSA-PKCS1-v1_5 with SHA-256 and 2048-bit keys. Every SCIM request verifies a token and only one
request an hour per tenant signs one, and RSA verification (public exponent 65537) costs about a third
of ECDSA P-256's (bench/oauth.py); the price, a 1.7 KB key and 340 more characters per token, is paid
where it does not matter."""

KEY_BITS = 2048


def new_signing_key() -> str:
    """A fresh private RSA key as JWK JSON: the value of a new version of SIGNING_KEY_SECRET."""
    from joserfc.jwk import RSAKey

    key = RSAKey.generate_key(KEY_BITS, private=True)
    return json.dumps(key.as_dict(private=True), sort_keys=True)


@dataclass(frozen=True)
class SigningKey:
    kid: str
    key: RSAKey


def parse_signing_key(value: str) -> SigningKey | None:
    """The key a secret value holds, or None if it is not a private RSA JWK (it is then never used)."""
    from joserfc.jwk import RSAKey

    try:
        raw = json.loads(value)
        if not isinstance(raw, dict) or raw.get("kty") != "RSA" or "d" not in raw:
            return None
        key = RSAKey.import_key(raw)
    except (ValueError, TypeError, KeyError):
        return None
    return SigningKey(kid=key.thumbprint(), key=key)


class SigningKeys:
    """The accepted keys, read through the cached SecretSource: no store call per request.

    Parsed keys are remembered per secret value, so a request costs one cache lookup and a dict lookup.
    An unknown key id triggers one refresh of the secret, which the SecretSource rate-limits.
    """

    def __init__(self, secrets: SecretSource) -> None:
        self._secrets = secrets
        self._parsed: dict[str, SigningKey | None] = {}
        self._lock = threading.Lock()

    def current(self) -> SigningKey | None:
        """The key that signs new tokens (the newest), or None if the deployment has none yet."""
        keys = self._keys(refresh=False)
        if not keys:
            keys = self._keys(refresh=True)
        return keys[0] if keys else None

    def find(self, kid: str) -> SigningKey | None:
        """The accepted key with this id; re-reads the secret (rate-limited) before saying there is none."""
        for key in self._keys(refresh=False):
            if key.kid == kid:
                return key
        for key in self._keys(refresh=True):
            if key.kid == kid:
                return key
        return None

    def _keys(self, *, refresh: bool) -> list[SigningKey]:
        keys = []
        for value in self._secrets.secret_values(SIGNING_KEY_SECRET, refresh=refresh):
            parsed = self._parsed.get(value)
            if parsed is None and value not in self._parsed:
                parsed = parse_signing_key(value)
                with self._lock:
                    if len(self._parsed) > 16:  # retired keys are never asked for again
                        self._parsed.clear()
                    self._parsed[value] = parsed
            if parsed is not None:
                keys.append(parsed)
        return keys
