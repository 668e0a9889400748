"""Who is calling: the tenant in the URL and its Secret Token or access token, checked so that tenants
cannot be enumerated; and, for the OAuth2 token endpoint, a tenant's client id and client secret.

An unknown tenant, a disabled tenant, a malformed tenant id and a wrong token all get the same 401
with the same body. A Secret Token is checked against the verifiers in the tenant's row (SHA-256 digests of
its valid versions, scim.secrets.token_verifier), which every worker already holds in its tenant cache:
no secret store call on the request path. Only a row written before verifiers existed is checked against
the secret store, as OAuth2 client secrets are (the token endpoint's low rate). For every name whose check
read no secret store (a tenant with verifiers, an unknown name) the refusal runs a stand-in read that takes
as long as a real one typically does, so the time to refuse does not tell whether a tenant exists either.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from scim2_models import UnauthorizedException

from scim.cache import ReadThroughCache
from scim.oauth.tokens import AccessTokens, looks_like_jwt
from scim.platform.tenants import Tenant, TenantDirectory, is_tenant_id
from scim.secrets import ACCEPTED_VERSIONS, SecretSource, client_secret_name, secret_name, token_verifier
from scim.store import TokenVerifier

REFUSED_DETAIL = (
    "The Secret Token is not valid for this Tenant URL: check both in the Entra provisioning settings "
    "(after a token rotation, paste the new Secret Token)"
)

ACCESS_REFUSED_DETAIL = (
    "The access token is not valid for this Tenant URL (expired, for another tenant, or not ours): "
    "Entra fetches a new one from the OAuth token endpoint"
)

_B64TOKEN_RE = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
"""RFC 6750 §2.1 b64token: a comma, a space or a second credential make the header invalid."""

_DECOY = b"\x00" * 43
"""Compared against when there is nothing to compare: the same work as a real token check."""

_DECOY_DIGEST = b"0" * 64
"""The same, for a tenant whose verifiers allow no token now."""


def bearer_token(authorization: str | None) -> str | None:
    """The credentials of `Authorization: Bearer <token>`, or None if the header is anything else.

    The scheme is case-insensitive (RFC 9110 §11.1), so `bearer` is accepted. Whitespace around the
    value is not part of it (HTTP strips it), so a token pasted with a trailing space still works. Two
    Authorization headers, which proxies join with a comma, are refused.
    """
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not _B64TOKEN_RE.fullmatch(token):
        return None
    return token


def _verified(presented: str, verifiers: Sequence[TokenVerifier], now: datetime) -> bool:
    """Whether the token's digest is one of the usable verifiers', compared in constant time against each."""
    given = token_verifier(presented).encode("ascii")
    usable = [v.digest.encode("ascii") for v in verifiers if v.usable_at(now)][:ACCEPTED_VERSIONS]
    found = False
    for digest in usable:
        found |= hmac.compare_digest(given, digest)
    if not usable:
        hmac.compare_digest(given, _DECOY_DIGEST)
    return found


def _matches(presented: str, accepted: Sequence[str]) -> bool:
    given = presented.encode("utf-8")
    found = False
    for token in accepted:
        # Compare against every accepted token, without stopping early.
        found |= hmac.compare_digest(given, token.encode("utf-8"))
    if not accepted:
        hmac.compare_digest(given, _DECOY)
    return found


class TenantAuthenticator:
    """Checks `Authorization` for a tenant; returns the tenant's record, read at most once per request."""

    def __init__(
        self,
        directory: TenantDirectory,
        secrets: SecretSource,
        *,
        ttl_seconds: float = 300.0,
        min_refresh_seconds: float = 30.0,
        max_entries: int = 10_000,
        access_tokens: AccessTokens | None = None,
    ) -> None:
        self._directory = directory
        self._secrets = secrets
        self.access_tokens = access_tokens
        # Names that are not enabled tenants go through a cache shaped like the secret source's, so a
        # first, a repeated and a forced read cost what they would for a real tenant. Keys are digests:
        # a name from a URL can be long.
        self._stand_in: ReadThroughCache[bytes, tuple[str, ...]] = ReadThroughCache(
            self._stand_in_read, ttl=ttl_seconds, max_entries=max_entries, min_reload=min_refresh_seconds
        )
        # The tenant record each secret was last used under: the CLI rewrites the record whenever it changes
        # the tenant's secrets, so a record newer than that makes the worker drop the cached secret.
        self._stamps: OrderedDict[str, str] = OrderedDict()
        self._stamps_lock = threading.Lock()
        self._max_stamps = max_entries

    def authenticate(self, authorization: str | None, tenant_id: str, *, audience: str | None = None) -> Tenant:
        """The enabled tenant whose Secret Token (or, given the audience, access token) this request carries.

        UnauthorizedException otherwise. An access token is checked without any store call: its signature,
        expiry, audience and tenant; only then is the (cached) tenant record read, and a token issued before
        the tenant's creation is refused.
        """
        presented = bearer_token(authorization)
        if presented is None:
            raise UnauthorizedException(detail=REFUSED_DETAIL)
        if self.access_tokens is not None and audience is not None and looks_like_jwt(presented):
            verified = self.access_tokens.verify(presented, tenant_id, audience)
            if verified is not None:
                tenant = self._directory.lookup(tenant_id)
                # A tenant deleted and created again under the same id is a new tenant: tokens issued before
                # its creation (whole seconds, as `iat` is) were issued to the old one.
                if tenant is not None and tenant.enabled and verified.issued_at >= int(tenant.created.timestamp()):
                    return tenant
            raise UnauthorizedException(detail=ACCESS_REFUSED_DETAIL)
        return self._check_token(tenant_id, presented)

    def authenticate_client(self, client_id: str, client_secret: str) -> Tenant:
        """The enabled tenant whose OAuth2 client this is (the client id is the tenant id), checked like a
        Secret Token: the same work and the same refusal whether or not the client id exists."""

        def client_secrets(tenant: str, *, refresh: bool = False) -> Sequence[str]:
            return self._secrets.secret_values(client_secret_name(tenant), refresh=refresh)

        return self._check_secret(
            client_id, client_secret, client_secrets, "invalid client", stamped=client_secret_name
        )

    def knows_client(self, client_id: str) -> bool:
        """Whether the client id names a registered tenant (the cached record the secret check just read)."""
        return self._directory.lookup(client_id) is not None

    def _check_token(self, tenant_id: str, presented: str) -> Tenant:
        """A Secret Token against the tenant row's verifiers; the secret store only for a row without them.

        On a mismatch the row is read again (rate-limited by the tenant cache): a token rotated since the row
        was cached works at once. A token retired is refused once the cached row is older than
        SCIM_TENANT_CACHE_SECONDS, the revocation bound.
        """
        known = is_tenant_id(tenant_id)
        tenant = self._directory.lookup(tenant_id) if known else None
        read_store = False
        for again in (False, True):
            if again and known:
                tenant = self._directory.lookup(tenant_id, refresh=True)
            if tenant is None or not tenant.enabled:
                continue
            if tenant.token_verifiers is not None:
                if _verified(presented, tenant.token_verifiers, datetime.now(UTC)):
                    return tenant
            else:
                read_store = True
                self._follow(secret_name(tenant.id), tenant.etag)
                if _matches(presented, self._secrets.tenant_tokens(tenant.id, refresh=again)):
                    return tenant
        if not read_store:
            self._imitate_store(tenant_id, presented)
        raise UnauthorizedException(detail=REFUSED_DETAIL)

    def _imitate_store(self, tenant_id: str, presented: str) -> None:
        """The cached read and the forced re-read a tenant without verifiers costs, with a stand-in store."""
        key = hashlib.sha256(tenant_id.encode("utf-8", "surrogatepass")).digest()
        _matches(presented, self._stand_in.get(key))
        _matches(presented, self._stand_in.get(key, reload=True))

    def _check_secret(
        self,
        tenant_id: str,
        presented: str,
        accepted: Callable[..., Sequence[str]],
        refused: str,
        *,
        stamped: Callable[[str], str],
    ) -> Tenant:
        tenant = self._directory.lookup(tenant_id) if is_tenant_id(tenant_id) else None
        if tenant is not None and tenant.enabled:
            self._follow(stamped(tenant.id), tenant.etag)
            if _matches(presented, accepted(tenant.id)):
                return tenant
            # The secret may have been rotated since it was cached: read again (rate-limited) before refusing.
            if _matches(presented, accepted(tenant.id, refresh=True)):
                return tenant
        else:
            self._imitate_store(tenant_id, presented)
        raise UnauthorizedException(detail=refused)

    def _follow(self, name: str, stamp: str) -> None:
        """Forget the cached secret when the tenant record changed since it was last used: a retired token or
        secret is refused within the tenant cache time (30 s) without a store call per request."""
        with self._stamps_lock:
            seen = self._stamps.get(name)
            self._stamps[name] = stamp
            self._stamps.move_to_end(name)
            while len(self._stamps) > self._max_stamps:
                self._stamps.popitem(last=False)
        if seen is not None and seen != stamp:
            # Test doubles and older sources may cache nothing and have no `forget`.
            forget = getattr(self._secrets, "forget", None)
            if forget is not None:
                forget(name)

    def _stand_in_read(self, key: bytes) -> tuple[str, ...]:
        time.sleep(min(self._secrets.typical_read_seconds(), 0.5))
        return ()
