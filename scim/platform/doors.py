"""Which door changed a tenant: the operator's CLI or a management API caller, recorded in its activity log.

Every change the platform makes to a tenant (created, a token rotated or retired, the limit set, disabled,
enabled, a client added, …) goes through TenantService and ClientService whichever door is used. The doors
build their services through `with_door`, which returns the same service whose changes also write one
activity record each: operation ``tenant-<what>``, resource type ``Tenant``, no status, and the door in the
record's detail as ``by cli`` or ``by manage-api:<app id>``. The activity views (CLI, operator pages,
management API) show it as the record's door. The record is written after the change succeeded; a failure to
write it is logged (tenant and door, no secret) and never undoes or fails the change. A deleted tenant's
activity goes with it (its partition is emptied), so its deletion is logged only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from scim.platform.clients import ClientCredentials, ClientService
from scim.platform.tenants import TenantService
from scim.protocol.text import log_safe
from scim.secrets import SecretVersion
from scim.store import ActivityRecord, ActivityTable, TenantRow

log = logging.getLogger("scim.doors")

TENANT_RESOURCE = "Tenant"
DOOR_PREFIX = "by "
CLI = "cli"


def api_door(app_id: str) -> str:
    """The door of a management API caller: its application (client) id."""
    return f"manage-api:{app_id}"


def door_of(record: ActivityRecord) -> str | None:
    """The door of a platform change's record; None for every other record."""
    if record.resource_type != TENANT_RESOURCE or not record.detail.startswith(DOOR_PREFIX):
        return None
    return record.detail[len(DOOR_PREFIX) :]


@dataclass(frozen=True)
class DoorLog:
    """Writes one activity record per platform change, naming the door."""

    activity_of: Callable[[str], ActivityTable]
    """The activity table of a tenant's own data account (TenantService.storage_of)."""
    door: str

    def record(self, tenant: str, what: str, note: str = "") -> None:
        record = ActivityRecord(
            time=datetime.now(UTC),
            operation=f"tenant-{what}",
            resource_type=TENANT_RESOURCE,
            resource_id="",
            name="",
            status=0,
            detail=f"{DOOR_PREFIX}{self.door}" + (f" ({note})" if note else ""),
        )
        try:
            self.activity_of(tenant).append(tenant, [(record, uuid4().hex[:8])])
        except Exception as exc:  # the change is made; its record must not undo or fail it
            log.warning(
                "door record not stored: tenant=%s operation=%s door=%s error=%s",
                log_safe(tenant),
                record.operation,
                log_safe(self.door),
                type(exc).__name__,
            )


class _DoorTenants(TenantService):
    """TenantService whose changes are recorded with their door (the state is the wrapped service's)."""

    doors: DoorLog

    def create(self, tenant_id: str, **kwargs: Any) -> tuple[TenantRow, str | None]:
        created = super().create(tenant_id, **kwargs)
        self.doors.record(created[0].id, "created")
        return created

    def rotate_token(self, tenant_id: str) -> str:
        token = super().rotate_token(tenant_id)
        self.doors.record(tenant_id, "token-rotated")
        return token

    def retire_token(self, tenant_id: str) -> int:
        retired = super().retire_token(tenant_id)
        self.doors.record(tenant_id, "token-retired", f"{retired} retired")
        return retired

    def revoke_tokens(self, tenant_id: str) -> tuple[str, int]:
        token, retired = super().revoke_tokens(tenant_id)
        self.doors.record(tenant_id, "token-revoked", f"{retired} retired, a new one issued")
        return token, retired

    def remove_tokens(self, tenant_id: str) -> int:
        removed = super().remove_tokens(tenant_id)
        self.doors.record(tenant_id, "token-removed", f"{removed} retired")
        return removed

    def set_limit(self, tenant_id: str, max_active_users: int | None) -> TenantRow:
        row = super().set_limit(tenant_id, max_active_users)
        limit = "none" if max_active_users is None else str(max_active_users)
        self.doors.record(tenant_id, "limit-set", f"at most {limit} active users")
        return row

    def set_enabled(self, tenant_id: str, enabled: bool) -> TenantRow:
        row = super().set_enabled(tenant_id, enabled)
        self.doors.record(tenant_id, "enabled" if enabled else "disabled")
        return row

    def delete(self, tenant_id: str) -> dict[str, int]:
        deleted = super().delete(tenant_id)
        # Its activity partition is gone with it: the deletion is in the application log only.
        log.info("tenant deleted: tenant=%s door=%s", log_safe(tenant_id), log_safe(self.doors.door))
        return deleted


class _DoorClients(ClientService):
    """ClientService whose changes are recorded with their door."""

    doors: DoorLog

    def add_client(self, tenant_id: str) -> ClientCredentials:
        credentials = super().add_client(tenant_id)
        self.doors.record(tenant_id, "client-added")
        return credentials

    def rotate_client_secret(self, tenant_id: str) -> ClientCredentials:
        credentials = super().rotate_client_secret(tenant_id)
        self.doors.record(tenant_id, "client-secret-rotated")
        return credentials

    def retire_client_secret(self, tenant_id: str) -> int:
        retired = super().retire_client_secret(tenant_id)
        self.doors.record(tenant_id, "client-secret-retired", f"{retired} retired")
        return retired

    def remove_client(self, tenant_id: str) -> int:
        removed = super().remove_client(tenant_id)
        self.doors.record(tenant_id, "client-removed", f"{removed} retired")
        return removed


def tenants_with_door(service: TenantService, doors: DoorLog) -> TenantService:
    """The same tenant service (its storage, secrets and base URL, however it was built) recording its door.

    A copy of the built service's state rather than a second construction: how it is built (the storage
    account a tenant is placed on, the secret store) stays wiring's business.
    """
    wrapped = _DoorTenants.__new__(_DoorTenants)
    vars(wrapped).update(vars(service))
    wrapped.doors = doors
    return wrapped


def clients_with_door(service: ClientService, doors: DoorLog) -> ClientService:
    """The same client service recording its door (see tenants_with_door)."""
    wrapped = _DoorClients.__new__(_DoorClients)
    vars(wrapped).update(vars(service))
    wrapped.doors = doors
    return wrapped


def valid_count(versions: list[SecretVersion]) -> int:
    now = datetime.now(UTC)
    return sum(1 for v in versions if v.usable_at(now))
