"""Microsoft Entra ID access tokens for the management API: the only credential its routes accept.

The issuer is a setting (SCIM_MANAGE_ISSUER). Its OpenID configuration (``<issuer>/.well-known/openid-
configuration``) and the keys its ``jwks_uri`` names are fetched over HTTPS with the certificate verified
(against SCIM_MANAGE_CA_BUNDLE when set, else the system's trust store; never unverified), at most 1 MiB,
5 s each, and cached: the configuration for a day, the keys for an hour. A token whose ``kid`` is not among
the cached keys makes one refetch of the keys (Entra rotates its signing keys), at most one every
`min_refetch_seconds` per worker however many unknown kids arrive, so forged tokens cannot make us hammer the
issuer. If the issuer cannot be reached, keys already cached stay in use; with none, the request gets 503.

A token is accepted only if: its header says RS256 (whatever else it says, `none` and HS256 included, it is
refused before any key is used, and PyJWT is told to accept RS256 only, so the public key can never serve as
an HMAC secret); its ``kid`` names an RSA signing key of the issuer; the signature verifies; ``iss`` is the
configured issuer exactly; ``aud`` is one of the configured audiences; ``exp`` is in the future and ``iat``
present (``nbf`` honoured), with a leeway for clock skew; and it names the calling application (``azp`` in
v2 tokens, ``appid`` in v1). Its ``roles`` then decide what it may do (scim.manage.routes).
"""

from __future__ import annotations

import json
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt

ALGORITHM = "RS256"
MAX_TOKEN_CHARS = 16_384
MAX_DOCUMENT_BYTES = 1_048_576
FETCH_TIMEOUT_SECONDS = 5.0

Fetch = Callable[[str], dict[str, Any]]


class TokenRefusedError(Exception):
    """The token is not one we accept; the message says why (it carries no part of the token)."""


class IssuerUnavailableError(Exception):
    """The issuer's configuration or keys could not be read, and none are cached."""


@dataclass(frozen=True)
class Caller:
    """Who called: the calling application and the app roles its token carries."""

    app_id: str
    roles: frozenset[str]
    object_id: str
    """The caller's service principal (oid), or '' if the token has none."""


def https_fetcher(ca_bundle: Path | None = None) -> Fetch:
    """GET a JSON object over HTTPS with the certificate and host name verified; bounded in size and time."""
    context = ssl.create_default_context(cafile=str(ca_bundle) if ca_bundle else None)

    def fetch(url: str) -> dict[str, Any]:
        if urlsplit(url).scheme != "https":
            raise IssuerUnavailableError("the issuer's metadata must be served over https")
        request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310 - https only
        try:
            with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_SECONDS, context=context) as answer:  # noqa: S310
                body = answer.read(MAX_DOCUMENT_BYTES + 1)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise IssuerUnavailableError(f"cannot read {url}: {type(exc).__name__}") from exc
        if len(body) > MAX_DOCUMENT_BYTES:
            raise IssuerUnavailableError(f"{url} answered more than {MAX_DOCUMENT_BYTES} bytes")
        try:
            loaded = json.loads(body)
        except ValueError as exc:
            raise IssuerUnavailableError(f"{url} did not answer JSON") from exc
        if not isinstance(loaded, dict):
            raise IssuerUnavailableError(f"{url} did not answer a JSON object")
        return loaded

    return fetch


class IssuerKeys:
    """The issuer's signing keys by kid: cached, refetched when old or when a kid is unknown (bounded)."""

    def __init__(
        self,
        issuer: str,
        fetch: Fetch,
        *,
        keys_ttl_seconds: float = 3600.0,
        config_ttl_seconds: float = 86_400.0,
        min_refetch_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = issuer
        self._fetch = fetch
        self._keys_ttl = keys_ttl_seconds
        self._config_ttl = config_ttl_seconds
        self.min_refetch_seconds = min_refetch_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._jwks_uri: str | None = None
        self._config_at = float("-inf")
        self._keys: dict[str, jwt.PyJWK] = {}
        self._keys_at = float("-inf")
        self._tried_at = float("-inf")
        self.fetches = 0
        """Documents fetched by this instance (configuration and key sets): what a test bounds."""

    def key(self, kid: str) -> jwt.PyJWK | None:
        """The key named kid, or None if the issuer has no such key (after at most one bounded refetch)."""
        with self._lock:
            now = self._clock()
            stale = now - self._keys_at >= self._keys_ttl or kid not in self._keys
            if stale and now - self._tried_at >= self.min_refetch_seconds:
                self._refresh(now, required=not self._keys)
            if not self._keys:
                raise IssuerUnavailableError("the issuer's signing keys could not be read")
            return self._keys.get(kid)

    def _refresh(self, now: float, *, required: bool) -> None:
        self._tried_at = now
        try:
            if self._jwks_uri is None or now - self._config_at >= self._config_ttl:
                self._jwks_uri = self._configuration()
                self._config_at = now
            self.fetches += 1
            self._keys = _signing_keys(self._fetch(self._jwks_uri))
            self._keys_at = now
        except IssuerUnavailableError:
            if required:
                raise
            # Keys already cached stay in use while the issuer cannot be reached.

    def _configuration(self) -> str:
        url = f"{self.issuer.rstrip('/')}/.well-known/openid-configuration"
        self.fetches += 1
        config = self._fetch(url)
        if config.get("issuer") != self.issuer:
            raise IssuerUnavailableError("the OpenID configuration names another issuer than SCIM_MANAGE_ISSUER")
        jwks_uri = config.get("jwks_uri")
        if not isinstance(jwks_uri, str) or urlsplit(jwks_uri).scheme != "https":
            raise IssuerUnavailableError("the OpenID configuration has no https jwks_uri")
        return jwks_uri


def _signing_keys(document: dict[str, Any]) -> dict[str, jwt.PyJWK]:
    """RSA signature keys of a JWKS by kid; other keys (encryption, other types) are left out."""
    keys: dict[str, jwt.PyJWK] = {}
    listed = document.get("keys")
    if not isinstance(listed, list):
        raise IssuerUnavailableError("the issuer's key set has no keys")
    for item in listed:
        if not isinstance(item, dict) or item.get("kty") != "RSA" or item.get("use", "sig") != "sig":
            continue
        kid = item.get("kid")
        if not isinstance(kid, str) or not kid:
            continue
        try:
            keys[kid] = jwt.PyJWK({**item, "alg": ALGORITHM}, algorithm=ALGORITHM)
        except (jwt.PyJWKError, ValueError, TypeError):
            continue
    return keys


class EntraTokenVerifier:
    """Checks a bearer token against the issuer, audiences and clock; the caller it names, or a refusal."""

    def __init__(self, keys: IssuerKeys, audiences: Sequence[str], *, leeway_seconds: int = 60) -> None:
        self._keys = keys
        self._audiences = list(audiences)
        self._leeway = leeway_seconds

    def verify(self, token: str) -> Caller:
        if not token or len(token) > MAX_TOKEN_CHARS:
            raise TokenRefusedError("the access token is missing or too long")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenRefusedError("the access token is not a JWT") from exc
        if header.get("alg") != ALGORITHM:
            raise TokenRefusedError(f"the access token must be signed with {ALGORITHM}")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenRefusedError("the access token names no signing key (kid)")
        key = self._keys.key(kid)
        if key is None:
            raise TokenRefusedError("the access token is signed by a key the issuer does not publish")
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[ALGORITHM],
                audience=self._audiences,
                issuer=self._keys.issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "iss", "aud"], "verify_signature": True},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenRefusedError("the access token has expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise TokenRefusedError("the access token is for another audience") from exc
        except jwt.InvalidIssuerError as exc:
            raise TokenRefusedError("the access token is from another issuer") from exc
        except jwt.InvalidSignatureError as exc:
            raise TokenRefusedError("the access token's signature does not verify") from exc
        except jwt.PyJWTError as exc:
            raise TokenRefusedError(f"the access token is not valid ({type(exc).__name__})") from exc
        app_id = claims.get("azp") or claims.get("appid")
        if not isinstance(app_id, str) or not app_id:
            raise TokenRefusedError("the access token names no calling application (azp or appid)")
        roles = claims.get("roles")
        held = frozenset(r for r in roles if isinstance(r, str)) if isinstance(roles, list) else frozenset()
        oid = claims.get("oid")
        return Caller(app_id=app_id[:128], roles=held, object_id=oid[:64] if isinstance(oid, str) else "")
