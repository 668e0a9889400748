"""The route table is the one place a route is named: the log line's operation is the table's name."""

import json
import logging
from datetime import UTC, datetime
from typing import Any, cast

import pytest

import function_app
from devhost.server import app_functions
from scim.api.routes import ROUTE_TABLE
from scim.api.scim import ScimApi
from scim.auth import TenantAuthenticator
from scim.http import Request
from scim.platform.tenants import Tenant, TenantDirectory
from scim.resources.groups import GroupService
from scim.resources.users import UserService
from scim.settings import Settings
from scim.store import ResourceTable


class Directory:
    def lookup(self, tenant_id: str, *, refresh: bool = False) -> Tenant:
        return Tenant(tenant_id, tenant_id, datetime(2026, 1, 1, tzinfo=UTC), True, None)


class NoTokens:
    def tenant_tokens(self, tenant: str, *, refresh: bool = False) -> tuple[str, ...]:
        return ()


def test_every_trigger_is_a_row_of_the_table_in_its_order() -> None:
    http = [f for f in app_functions(function_app.app) if f.get_trigger().get_dict_repr()["type"] == "httpTrigger"]
    assert [(f.get_function_name(), f.get_trigger().get_dict_repr()["route"]) for f in http] == [
        (route.function_name, route.path) for route in ROUTE_TABLE
    ]
    assert len({route.function_name for route in ROUTE_TABLE}) == len(ROUTE_TABLE)


# The token endpoint and the management API log lines of their own (scim.api.oauth, scim.manage.api).
@pytest.mark.parametrize(
    "route", [r for r in ROUTE_TABLE if r.handler is not None and r.name not in ("oauth_token", "manage")]
)
def test_a_request_logs_the_route_name_of_the_table(route: Any, caplog: pytest.LogCaptureFixture) -> None:
    table = cast(ResourceTable, object())
    auth = TenantAuthenticator(cast(TenantDirectory, Directory()), NoTokens())
    scim = ScimApi(Settings(), UserService(table), auth, GroupService(table, table))
    path = route.path.replace("{tenant}", "acme").replace("{id}", "a" * 32).replace("{*path}", "x")
    request = Request.build("GET", f"http://h/{path}", route_params={"tenant": "acme", "id": "a" * 32})
    with caplog.at_level(logging.INFO, logger="scim"):
        response = route.handler(scim, request)
    assert response.status in (401, 404)  # no token, or no SCIM endpoint there
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.getMessage().startswith("{")]
    assert [line["operation"] for line in lines] == [route.name]
