"""Sending POST /Bulk and single requests to ScimApi in-process, for the bulk tests of this folder."""

from __future__ import annotations

import json
from typing import Any

from scim.api.bulk import bulk
from scim.api.scim import ScimApi
from scim.http import Request
from scim.store import TableStorage, is_record_key
from tests.conftest import partition_rows
from tests.entra_cycle import TOKEN

BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def user(name: str, **extra: Any) -> dict[str, Any]:
    return {"schemas": [USER], "userName": name, "emails": [{"type": "work", "value": name}], **extra}


def post_user(bulk_id: str, name: str, **extra: Any) -> dict[str, Any]:
    return {"method": "POST", "path": "/Users", "bulkId": bulk_id, "data": user(name, **extra)}


def job(*operations: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"schemas": [BULK], "Operations": list(operations), **extra}


def send(api: ScimApi, tenant: str, body: Any, *, token: str = TOKEN, raw: bytes | None = None) -> tuple[int, Any]:
    request = Request.build(
        "POST",
        f"http://localhost/scim/v2/{tenant}/Bulk",
        route_params={"tenant": tenant},
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
        body=raw if raw is not None else json.dumps(body).encode(),
    )
    response = bulk(api, request)
    return response.status, json.loads(response.body) if response.body else None


def call(api: ScimApi, tenant: str, method: str, path: str, body: Any = None) -> tuple[int, Any, dict[str, str]]:
    """One single request, as Entra would send it."""
    endpoint, _, rid = path.strip("/").partition("/")
    params = {"tenant": tenant, **({"id": rid} if rid else {})}
    handler = {
        ("Users", False): api.users_collection,
        ("Users", True): api.user_item,
        ("Groups", False): api.groups_collection,
        ("Groups", True): api.group_item,
    }[(endpoint, bool(rid))]
    request = Request.build(
        method,
        f"http://localhost/scim/v2/{tenant}{path}",
        route_params=params,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/scim+json"},
        body=json.dumps(body).encode() if body is not None else b"",
    )
    response = handler(request)
    return response.status, json.loads(response.body) if response.body else None, dict(response.headers)


def resources(storage: TableStorage, kind: str, tenant: str) -> list[dict[str, Any]]:
    """The stored documents of a tenant's users or groups (no index, counter or change rows)."""
    rows = partition_rows(storage, kind, tenant)
    return [row for row in rows if not is_record_key(str(row["RowKey"])) and "Document0" in row]


def ids_of(result: dict[str, Any]) -> str:
    return str(result["location"]).rsplit("/", 1)[-1]
