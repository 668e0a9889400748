"""Short-lived access tokens: signed JWTs (RFC 7519) issued to a tenant's client and verified locally.

A token carries the tenant, the audience (the deployment's SCIM base URL), `iat`, `exp` and a `jti`, and
names its signing key in the `kid` header. Verification reads no storage and no Key Vault: the keys come
from the cached SecretSource (re-read only for an unknown `kid`, rate-limited), and everything else is in
the token. Only RS256 is accepted, whatever the header says (`alg: none` and HMAC confusion fail).
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scim.oauth.keys import ALGORITHM, SigningKeys

MAX_TOKEN_CHARS = 2048
"""Ours are about 740 characters; anything much longer is refused before any parsing."""

TOKEN_TYPE = "at+jwt"  # noqa: S105 - a JWT media type (RFC 9068), not a password

TENANT_CLAIM = "tenant"
"""The claim naming the tenant a token was issued to (the JWTClaimsRegistry below checks it by this name)."""


class SigningKeyMissingError(RuntimeError):
    """The deployment has no signing key yet: `scim-admin tenant add-client` creates one."""


@dataclass(frozen=True)
class VerifiedToken:
    """What a verified access token says: its tenant and when it was issued (seconds since the epoch)."""

    tenant: str
    issued_at: int


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int


class AccessTokens:
    """Issues and verifies one deployment's access tokens; `clock` (seconds since the epoch) is settable."""

    def __init__(
        self,
        keys: SigningKeys,
        *,
        lifetime_seconds: int = 3600,
        leeway_seconds: int = 30,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = keys
        self.lifetime_seconds = lifetime_seconds
        self.leeway_seconds = leeway_seconds
        self.clock = clock

    def issue(self, tenant: str, audience: str) -> IssuedToken:
        """A token for the tenant's client, valid at `audience` for lifetime_seconds."""
        key = self._keys.current()
        if key is None:
            raise SigningKeyMissingError("no OAuth signing key: run `scim-admin tenant add-client <tenant>`")
        now = int(self.clock())
        claims = {
            "iss": audience,
            "sub": tenant,
            TENANT_CLAIM: tenant,
            "aud": audience,
            "iat": now,
            "exp": now + self.lifetime_seconds,
            "jti": uuid.uuid4().hex,
        }
        from joserfc import jwt  # imported on first use: a Secret Token's first request does not need it

        token = jwt.encode(
            {"alg": ALGORITHM, "typ": TOKEN_TYPE, "kid": key.kid}, claims, key.key, algorithms=[ALGORITHM]
        )
        return IssuedToken(token, self.lifetime_seconds)

    def verify(self, token: str, tenant: str, audience: str) -> VerifiedToken | None:
        """The token's facts if it is ours, unexpired, for this audience and for exactly this tenant; else None."""
        if len(token) > MAX_TOKEN_CHARS or token.count(".") != 2:
            return None
        header = _header(token)
        kid = header.get("kid") if header else None
        # typ at+jwt (RFC 9068 §2.1): only our access tokens, never another JWT signed with the same key.
        if not header or header.get("alg") != ALGORITHM or header.get("typ") != TOKEN_TYPE or not isinstance(kid, str):
            return None
        key = self._keys.find(kid)
        if key is None:
            return None
        now = int(self.clock())
        from joserfc import jwt
        from joserfc.errors import JoseError
        from joserfc.jwt import JWTClaimsRegistry

        registry = JWTClaimsRegistry(
            now=now,
            leeway=self.leeway_seconds,
            aud={"essential": True, "value": audience},
            exp={"essential": True},
            iat={"essential": True},
            jti={"essential": True},
            tenant={"essential": True, "value": tenant},
        )
        try:
            decoded = jwt.decode(token, key.key, algorithms=[ALGORITHM])
            registry.validate(decoded.claims)
        except (JoseError, ValueError, TypeError):
            return None
        issued = decoded.claims.get("iat")
        # The registry accepts a list that contains the value; we issue one string and accept nothing else.
        # A token from the future (beyond the leeway) was not made by this clock.
        if not isinstance(issued, int) or isinstance(issued, bool) or issued > now + self.leeway_seconds:
            return None
        named = decoded.claims.get(TENANT_CLAIM)
        return VerifiedToken(tenant, issued) if isinstance(named, str) and named == tenant else None


def looks_like_jwt(token: str) -> bool:
    """Our Secret Tokens never contain a dot; a JWS compact serialization has exactly two."""
    return token.count(".") == 2


def _header(token: str) -> dict[str, Any] | None:
    segment = token.split(".", 1)[0]
    try:
        raw = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error):
        return None
    return raw if isinstance(raw, dict) else None
