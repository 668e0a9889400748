"""Tenant names and bearer-token checks: constant-time, per tenant, rotation-aware."""

from __future__ import annotations

import hmac
import re
from collections.abc import Sequence

from scim2_models import NotFoundException, UnauthorizedException

from scim.secrets import SecretSource

TENANT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,62}$")
"""Tenant names double as Table Storage partition keys and Key Vault secret-name suffixes."""


def check_tenant(tenant: str) -> str:
    """A tenant name from the URL, or 404: anything else cannot name a tenant."""
    if not TENANT_RE.match(tenant):
        raise NotFoundException(detail="No SCIM tenant is served at this URL; check the Tenant URL")
    return tenant


def _bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return None
    return token


def _matches(presented: str, accepted: Sequence[str]) -> bool:
    given = presented.encode("utf-8")
    found = False
    for token in accepted:
        # Compare against every accepted token, without stopping early.
        found |= hmac.compare_digest(given, token.encode("utf-8"))
    return found


def authenticate(authorization: str | None, tenant: str, secrets: SecretSource) -> None:
    """Accept the request only if it carries this tenant's bearer token; raise 401 otherwise."""
    presented = _bearer_token(authorization)
    if presented is None:
        raise UnauthorizedException(detail="Missing bearer token: send 'Authorization: Bearer <Secret Token>'")
    if _matches(presented, secrets.tenant_tokens(tenant)):
        return
    # The token may have been rotated since it was cached: read it again once before refusing.
    if _matches(presented, secrets.tenant_tokens(tenant, refresh=True)):
        return
    raise UnauthorizedException(detail="The bearer token is not valid for this tenant; check the Secret Token in Entra")
