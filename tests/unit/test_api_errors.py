"""Failures that are not the client's fault still answer a SCIM error, never a stack trace."""

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from scim import api
from scim.api.scim import ScimApi
from scim.auth import TenantAuthenticator
from scim.http import Request
from scim.platform.tenants import Tenant, TenantDirectory
from scim.resources.groups import GroupService
from scim.resources.users import UserService
from scim.secrets import SecretSourceUnavailableError
from scim.settings import Settings
from scim.store import ResourceTable


class Directory:
    def lookup(self, tenant_id: str, *, refresh: bool = False) -> Tenant:
        return Tenant(tenant_id, tenant_id, datetime(2026, 1, 1, tzinfo=UTC), True, None)


def auth(source: Any) -> TenantAuthenticator:
    return TenantAuthenticator(cast(TenantDirectory, Directory()), source)


class DownSource:
    def tenant_tokens(self, tenant: str, *, refresh: bool = False) -> Sequence[str]:
        raise SecretSourceUnavailableError("vault unreachable")


class BrokenTable:
    def __getattr__(self, name: str) -> Any:
        raise RuntimeError("boom: internal detail that must not leak")


class Tokens:
    def tenant_tokens(self, tenant: str, *, refresh: bool = False) -> Sequence[str]:
        return ("tok",)


def broken_api(source: Any) -> ScimApi:
    table = cast(ResourceTable, BrokenTable())
    return ScimApi(Settings(), UserService(table), auth(source), GroupService(table, table))


def get_users(scim: ScimApi) -> tuple[int, dict[str, Any]]:
    request = Request.build(
        "GET",
        "http://h/scim/v2/acme/Users/" + "a" * 32,
        route_params={"tenant": "acme", "id": "a" * 32},
        headers={"Authorization": "Bearer tok"},
    )
    response = scim.user_item(request)
    return response.status, json.loads(response.body)


def test_token_store_outage_is_503_with_retry_after() -> None:
    scim = broken_api(DownSource())
    request = Request.build(
        "GET", "http://h/scim/v2/acme/Users", route_params={"tenant": "acme"}, headers={"Authorization": "Bearer x"}
    )
    response = scim.users_collection(request)
    assert response.status == 503 and response.headers["Retry-After"]
    assert json.loads(response.body)["status"] == "503"


def test_unexpected_failure_is_a_scim_500_without_internals() -> None:
    status, body = get_users(broken_api(Tokens()))
    assert status == 500
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"] and body["status"] == "500"
    assert "boom" not in body["detail"]


def test_misconfiguration_is_a_scim_500(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("SCIM_STORAGE_CONNECTION_STRING", "SCIM_STORAGE_TABLE_ENDPOINT"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr(api, "_api", None)
    response = api.handle("users", Request.build("GET", "http://h/scim/v2/acme/Users", route_params={"tenant": "acme"}))
    assert response.status == 500
    assert json.loads(response.body)["detail"] == "The SCIM service is misconfigured; see its logs"
