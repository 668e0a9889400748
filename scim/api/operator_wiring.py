"""Where the operator pages get tenants and the operator credential, until the tenants table is on main.

Tenants are the ones the local secret source knows (SCIM_LOCAL_TOKENS); with Key Vault there is no list
of tenants without the tenants table, so the pages list none. The operator credential is the secret
named by SCIM_OPERATOR_SECRET_NAME: locally the value of that name in SCIM_LOCAL_OPERATOR_KEY, in Azure
that Key Vault secret (the two newest enabled versions, as for tenant tokens).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from scim.auth import TENANT_RE
from scim.settings import Settings


def is_tenant_id(value: str) -> bool:
    return TENANT_RE.fullmatch(value) is not None


class LocalTenantCatalog:
    """The tenants of SCIM_LOCAL_TOKENS (no licence limits before the tenants table)."""

    def __init__(self, settings: Settings) -> None:
        self._ids = sorted(settings.local_tokens) if settings.secret_source == "local" else []

    def tenant_ids(self) -> list[str]:
        return list(self._ids)

    def exists(self, tenant: str) -> bool:
        return tenant in self._ids

    def active_limit(self, tenant: str) -> int | None:
        return None


def operator_values(settings: Settings) -> Callable[[bool], Sequence[str]]:
    """The accepted operator credentials; empty (every request refused) when none is configured."""
    if settings.secret_source == "local":
        local = (os.environ.get("SCIM_LOCAL_OPERATOR_KEY") or "").strip()
        return lambda refresh: (local,) if local else ()
    return lambda refresh: ()  # Key Vault: SecretSource.secret_values, once the tenants work is on main
