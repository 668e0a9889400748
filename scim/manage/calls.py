"""What every management API handler shares: the call it is given, the services it uses, cursors and queries."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from scim.manage.idempotency import IdempotentCreates
from scim.manage.problems import ProblemError
from scim.platform.activity_report import ActivityReport
from scim.platform.changes import ChangeLog
from scim.platform.clients import ClientService
from scim.platform.setup_links import SetupLinks
from scim.platform.tenants import TenantService, is_tenant_id


@dataclass(frozen=True)
class Call:
    """One authorised request as a handler sees it."""

    caller: str
    """The calling application's id."""
    method: str
    path: str
    params: Mapping[str, str]
    query: Mapping[str, str]
    body: BaseModel | None
    raw_body: bytes
    idempotency_key: str | None

    @property
    def tenant(self) -> str:
        """The tenant id of the path; a malformed one is a tenant that does not exist."""
        tenant = self.params.get("tenantId", "")
        if not is_tenant_id(tenant):
            raise ProblemError(404, "There is no tenant with this id (ids are lower case)", kind="tenant-not-found")
        return tenant


@dataclass(frozen=True)
class Services:
    """The services one call uses, built for its caller's door."""

    tenants: TenantService
    clients: ClientService
    report: Callable[[int | None], ActivityReport]
    """The activity report of a tenant with this license limit."""
    change_log: Callable[[str], ChangeLog]
    """The change log of a tenant, on its own data account (TenantService.storage_of)."""
    revocation_seconds: int
    creates: IdempotentCreates
    setup_links: SetupLinks
    """The tenant's one-time setup links; the handler names the caller's door as `by`."""


Answer = tuple[BaseModel, int]


def encode_cursor(data: dict[str, Any]) -> str:
    """An opaque cursor: clients pass it back as it is, and must not build or parse it."""
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        loaded = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise ProblemError(400, "cursor is not one this API gave out", kind="invalid-cursor") from exc
    if not isinstance(loaded, dict) or len(text) > 2048:
        raise ProblemError(400, "cursor is not one this API gave out", kind="invalid-cursor")
    return loaded


def int_query(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or len(raw) > 12 or not low <= int(raw) <= high:
        raise ProblemError(400, f"{name} is a whole number from {low} to {high}", kind="invalid-query")
    return int(raw)


def bool_query(query: Mapping[str, str], name: str) -> bool:
    raw = (query.get(name) or "").lower()
    if raw in ("", "false", "0"):
        return False
    if raw in ("true", "1"):
        return True
    raise ProblemError(400, f"{name} is true or false", kind="invalid-query")
