"""The management API's one endpoint table: what the dispatcher serves and what the OpenAPI document says.

Each row names its method, path (under /manage/v1), the role it needs, its request and answer models, its
query parameters and the handler method (scim.manage.handlers.ManageHandlers) that serves it. The dispatcher
matches requests against these rows and nothing else, and scim.manage.openapi builds the document from the
same rows and models, so a route cannot be served without being documented, or documented without a row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from scim.manage import models

Role = Literal["read", "write"]
BASE_PATH = "/manage/v1"


@dataclass(frozen=True)
class Query:
    """One query parameter."""

    name: str
    kind: Literal["string", "integer", "boolean"]
    description: str


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    """Under BASE_PATH; path parameters: ``{tenantId}``, and ``{linkId}`` (a setup link's)."""
    handler: str
    """The ManageHandlers method that serves it."""
    summary: str
    role: Role
    answer: type[BaseModel]
    status: int = 200
    body: type[BaseModel] | None = None
    query: tuple[Query, ...] = ()
    idempotency_key: bool = False
    """Whether the request must carry an Idempotency-Key (creates)."""

    @property
    def operation_id(self) -> str:
        """The handler's name in camelCase (createTenant), unique as handler names are."""
        first, *rest = self.handler.split("_")
        return first + "".join(word.title() for word in rest)

    def match(self, segments: list[str]) -> dict[str, str] | None:
        """The path parameters if `segments` (the path under BASE_PATH, split on '/') is this endpoint's path."""
        template = self.path.strip("/").split("/")
        if len(template) != len(segments):
            return None
        params: dict[str, str] = {}
        for want, got in zip(template, segments, strict=True):
            if want.startswith("{") and want.endswith("}"):
                params[want[1:-1]] = got
            elif want != got:
                return None
        return params


_LIMIT = Query("limit", "integer", "Items per page: 1 to 200 (default 50).")
_CURSOR = Query("cursor", "string", "The `next` value of the previous page; omitted: the first page.")

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "POST",
        "/tenants",
        "create_tenant",
        "Create a customer tenant: its Tenant URL and Secret Token (or OAuth2 client), shown once",
        "write",
        models.TenantCreated,
        status=201,
        body=models.TenantCreate,
        idempotency_key=True,
    ),
    Endpoint(
        "GET",
        "/tenants",
        "list_tenants",
        "List tenants, by id, a page at a time",
        "read",
        models.TenantPage,
        query=(_LIMIT, _CURSOR),
    ),
    Endpoint(
        "GET",
        "/tenants/{tenantId}",
        "show_tenant",
        "A tenant: record, usage and credential counts",
        "read",
        models.TenantDetail,
    ),
    Endpoint(
        "DELETE",
        "/tenants/{tenantId}",
        "delete_tenant",
        "Delete a tenant with its users, groups and tokens",
        "write",
        models.Deleted,
    ),
    Endpoint(
        "POST",
        "/tenants/{tenantId}/token/rotate",
        "rotate_token",
        "A new Secret Token; the previous one stays valid until retired",
        "write",
        models.TokenIssued,
    ),
    Endpoint(
        "POST",
        "/tenants/{tenantId}/token/retire",
        "retire_token",
        "Retire every Secret Token but the newest (or all, with a new one, after a leak)",
        "write",
        models.TokenIssued,
        body=models.TokenRetire,
    ),
    Endpoint(
        "POST",
        "/tenants/{tenantId}/client-secret/rotate",
        "rotate_client_secret",
        "A new OAuth2 client secret; the previous one stays valid until retired",
        "write",
        models.TokenIssued,
    ),
    Endpoint(
        "POST",
        "/tenants/{tenantId}/client-secret/retire",
        "retire_client_secret",
        "Retire every client secret but the newest",
        "write",
        models.Retired,
    ),
    Endpoint(
        "PUT",
        "/tenants/{tenantId}/limit",
        "set_limit",
        "Set the license cap (most active users)",
        "write",
        models.TenantChanged,
        body=models.LimitUpdate,
    ),
    Endpoint(
        "POST",
        "/tenants/{tenantId}/disable",
        "disable_tenant",
        "Refuse every request of the tenant's Entra (data is kept)",
        "write",
        models.TenantChanged,
    ),
    Endpoint(
        "POST", "/tenants/{tenantId}/enable", "enable_tenant", "Serve the tenant again", "write", models.TenantChanged
    ),
    Endpoint(
        "GET",
        "/tenants/{tenantId}/status",
        "tenant_status",
        "What Entra did lately: last request, last cycle, 24 h, users, groups, license use",
        "read",
        models.TenantStatus,
    ),
    Endpoint(
        "GET",
        "/tenants/{tenantId}/activity",
        "tenant_activity",
        "What Entra sent and what it was answered, and the platform's changes with their door, newest first",
        "read",
        models.ActivityPage,
        query=(
            Query("userName", "string", "Only records about this userName (or group displayName), any case."),
            Query("errors", "boolean", "Only refusals and errors."),
            Query("since", "string", "Only records this recent: 90m, 2h, 7d."),
            _LIMIT,
            _CURSOR,
        ),
    ),
    Endpoint(
        "GET",
        "/tenants/{tenantId}/changes",
        "tenant_changes",
        "Committed changes after a cursor, oldest first (the queue messages' facts): every change once, none missed",
        "read",
        models.ChangePage,
        query=(
            Query("stream", "string", "Users or Groups: one stream only; omitted: both, merged by time."),
            Query(
                "after",
                "integer",
                "Without a cursor: start at the changes numbered above this (in `stream`, or in each). Numbers are "
                "not in commit order, so a change numbered below it that commits later is not shown: keep `next`.",
            ),
            Query("limit", "integer", "Changes per page: 1 to 1000 (default 100)."),
            Query(
                "cursor",
                "string",
                "The `next` value of the previous page (with the same `stream`); omitted: the oldest change kept.",
            ),
        ),
    ),
)

SETUP_LINK_ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "POST",
        "/tenants/{tenantId}/setup-links",
        "create_setup_link",
        "A one-time setup link for the tenant's IT admin: its URL, shown once; a new credential behind it",
        "write",
        models.SetupLinkCreated,
        status=201,
        body=models.SetupLinkCreate,
        idempotency_key=True,
    ),
    Endpoint(
        "GET",
        "/tenants/{tenantId}/setup-links",
        "list_setup_links",
        "The tenant's setup links, oldest first, each with its state (never a URL)",
        "read",
        models.SetupLinkPage,
        query=(_LIMIT, _CURSOR),
    ),
    Endpoint(
        "DELETE",
        "/tenants/{tenantId}/setup-links/{linkId}",
        "revoke_setup_link",
        "Revoke a setup link (its credential too, if nobody revealed it)",
        "write",
        models.SetupLinksRevoked,
    ),
    Endpoint(
        "DELETE",
        "/tenants/{tenantId}/setup-links",
        "revoke_setup_links",
        "Revoke every open setup link of the tenant",
        "write",
        models.SetupLinksRevoked,
    ),
)

ENDPOINTS += SETUP_LINK_ENDPOINTS

OPENAPI_PATH = "/openapi.json"
