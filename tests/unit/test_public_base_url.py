"""SCIM_PUBLIC_BASE_URL: Location and meta.location come from configuration, never from the Host header."""

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from scim.api import discovery
from scim.api.scim import ScimApi
from scim.auth import TenantAuthenticator
from scim.http import Request
from scim.platform.tenants import Tenant, TenantDirectory
from scim.resources.groups import GroupService
from scim.resources.users import UserService
from scim.secrets import SecretSource
from scim.settings import Settings, SettingsError
from scim.store import ResourceTable

BASE = {"SCIM_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true"}


class Tokens:
    def tenant_tokens(self, tenant: str, *, refresh: bool = False) -> Sequence[str]:
        return ("tok",)

    def typical_read_seconds(self) -> float:
        return 0.0


class Directory:
    def lookup(self, tenant_id: str, *, refresh: bool = False) -> Tenant:
        return Tenant(tenant_id, tenant_id, datetime(2026, 1, 1, tzinfo=UTC), True, None)


def auth() -> TenantAuthenticator:
    return TenantAuthenticator(cast(TenantDirectory, Directory()), cast(SecretSource, Tokens()))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", None),
        ("https://scim.contoso.com", "https://scim.contoso.com"),
        ("https://scim.contoso.com/", "https://scim.contoso.com"),
        ("https://func-x.azurewebsites.net/scim/v2", "https://func-x.azurewebsites.net"),
        ("https://gw.contoso.com:8443/identity/scim/v2/", "https://gw.contoso.com:8443/identity"),
    ],
)
def test_the_setting_is_an_origin_with_an_optional_prefix(raw: str, expected: str | None) -> None:
    assert Settings.from_environ({**BASE, "SCIM_PUBLIC_BASE_URL": raw}).public_base_url == expected


@pytest.mark.parametrize("raw", ["scim.contoso.com", "ftp://x", "https://", "https://x/?a=b", "https://x/#f"])
def test_a_malformed_setting_is_named(raw: str) -> None:
    with pytest.raises(SettingsError, match="SCIM_PUBLIC_BASE_URL"):
        Settings.from_environ({**BASE, "SCIM_PUBLIC_BASE_URL": raw})


def service_provider_config(settings: Settings) -> dict[str, Any]:
    table = cast(ResourceTable, object())
    api = ScimApi(settings, UserService(table), auth(), GroupService(table, table))
    request = Request.build(
        "GET",
        "http://evil.example/scim/v2/acme/ServiceProviderConfig",
        route_params={"tenant": "acme"},
        headers={"Authorization": "Bearer tok", "Host": "evil.example"},
    )
    response = discovery.service_provider_config(api, request)
    assert response.status == 200
    return dict(json.loads(response.body))


def test_urls_in_bodies_use_the_configured_base() -> None:
    body = service_provider_config(Settings(public_base_url="https://scim.contoso.com"))
    assert body["meta"]["location"] == "https://scim.contoso.com/scim/v2/acme/ServiceProviderConfig"


def test_without_the_setting_the_request_url_is_used() -> None:
    # Hosts build the request URL: devhost from its bind address, Azure from the App Service front end.
    body = service_provider_config(Settings())
    assert body["meta"]["location"] == "http://evil.example/scim/v2/acme/ServiceProviderConfig"
