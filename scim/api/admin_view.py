"""What the tenant page shows besides the activity: the tenant's state, and its errors grouped when identical.

Read-only like every operator page: the state is the tenant's record (through the worker's cache) and the
creation times of its secrets' valid versions (never their values).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from scim.platform.tenants import TenantDirectory
from scim.secrets import SecretStore, client_secret_name, secret_name
from scim.store import ActivityRecord


@dataclass(frozen=True)
class TenantState:
    """The tenant's record and credentials as the operator checks them: enabled, limit, auth mode, ages, URL."""

    enabled: bool
    display_name: str
    max_active_users: int | None
    auth_mode: str
    """'Secret Token', 'OAuth2 client credentials', both, or 'none' (Entra is refused)."""
    token_ages: tuple[str, ...]
    client_secret_ages: tuple[str, ...]
    tenant_url: str


def age(created: datetime | None, now: datetime) -> str:
    """'3 d', '5 h', '12 min': how long ago a credential was made."""
    if created is None:
        return "?"
    seconds = max(0, int((now - created).total_seconds()))
    if seconds >= 86_400:
        return f"{seconds // 86_400} d"
    if seconds >= 3_600:
        return f"{seconds // 3_600} h"
    return f"{seconds // 60} min"


def state_reader(
    directory: TenantDirectory, secrets: SecretStore, public_base_url: str | None
) -> Callable[[str, str], TenantState | None]:
    """(tenant, the request's origin) -> the tenant's state; two secret listings per page view."""

    def ages(name: str, now: datetime) -> tuple[str, ...]:
        valid = [v for v in secrets.versions(name) if v.usable_at(now)]
        valid.sort(key=lambda v: v.created_on or datetime.min.replace(tzinfo=UTC), reverse=True)
        return tuple(age(v.created_on, now) for v in valid)

    def read(tenant: str, origin: str) -> TenantState | None:
        row = directory.lookup(tenant)
        if row is None:
            return None
        now = datetime.now(UTC)
        tokens, clients = ages(secret_name(tenant), now), ages(client_secret_name(tenant), now)
        modes = [mode for mode, held in (("Secret Token", tokens), ("OAuth2 client credentials", clients)) if held]
        return TenantState(
            enabled=row.enabled,
            display_name=row.display_name,
            max_active_users=row.max_active_users,
            auth_mode=" and ".join(modes) or "none (Entra is refused)",
            token_ages=tokens,
            client_secret_ages=clients,
            tenant_url=f"{(public_base_url or origin).rstrip('/')}/scim/v2/{tenant}",
        )

    return read


@dataclass(frozen=True)
class ErrorGroup:
    """Identical errors (same operation, resource, status, scimType and detail) shown once, with a count."""

    record: ActivityRecord
    """The newest of them."""
    count: int
    first: datetime
    last: datetime


def group_errors(records: Sequence[ActivityRecord]) -> list[ErrorGroup]:
    """Records (newest first) folded into groups of identical errors, in the order of their newest."""
    groups: dict[tuple[str, ...], ErrorGroup] = {}
    for record in records:
        key = (
            record.operation,
            record.resource_type,
            record.resource_id,
            record.name,
            str(record.status),
            record.scim_type,
            record.detail,
        )
        held = groups.get(key)
        if held is None:
            groups[key] = ErrorGroup(record, 1, record.time, record.time)
        else:
            groups[key] = ErrorGroup(
                held.record, held.count + 1, min(held.first, record.time), max(held.last, record.time)
            )
    return list(groups.values())
