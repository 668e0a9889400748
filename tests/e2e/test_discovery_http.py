"""RFC 7644 §4 discovery over HTTP: what Entra and conformance tools read before provisioning anything."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.e2e.conftest import OTHER_TOKEN
from tests.e2e.test_users_http import LIST, USER, assert_scim_error

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"
RESOURCE_TYPE = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
DISCOVERY = ["/ServiceProviderConfig", "/Schemas", f"/Schemas/{USER}", "/ResourceTypes", "/ResourceTypes/User"]


def nulls(value: Any) -> list[str]:
    """Paths of every JSON null (Entra reads /Schemas expecting none)."""
    if isinstance(value, dict):
        return [f"{k}.{p}" if p else k for k, v in value.items() for p in ([""] if v is None else nulls(v))]
    if isinstance(value, list):
        return [p for item in value for p in nulls(item)]
    return []


def attribute(schema: dict[str, Any], name: str) -> dict[str, Any]:
    return next(a for a in schema["attributes"] if a["name"] == name)


def test_schemas_lists_user_enterprise_user_and_group(client: httpx.Client, base_url: str) -> None:
    response = client.get("/Schemas")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/scim+json")
    body = response.json()
    assert body["schemas"] == [LIST]
    assert [s["id"] for s in body["Resources"]] == [USER, ENTERPRISE, GROUP]
    assert body["totalResults"] == body["itemsPerPage"] == 3 and body["startIndex"] == 1
    user, enterprise, group = body["Resources"]
    assert group["name"] == "Group" and attribute(group, "members")["multiValued"] is True
    assert user["schemas"] == [SCHEMA] and user["name"] == "User"
    assert user["meta"] == {"resourceType": "Schema", "location": f"{base_url}/scim/v2/acme/Schemas/{USER}"}
    assert attribute(user, "userName") == {
        "name": "userName",
        "type": "string",
        "multiValued": False,
        "description": attribute(user, "userName")["description"],
        "required": True,
        "caseExact": False,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "server",
    }
    assert attribute(enterprise, "manager")["subAttributes"][0]["name"] == "value"
    assert nulls(body) == []


def test_user_schema_says_an_email_is_required(client: httpx.Client) -> None:
    # SCIM_REQUIRE_EMAIL is on by default, and a user without an e-mail is refused: the schema says so.
    emails = attribute(client.get(f"/Schemas/{USER}").json(), "emails")
    assert emails["required"] is True and emails["multiValued"] is True
    assert next(s for s in emails["subAttributes"] if s["name"] == "value")["required"] is True


def test_one_schema_by_urn(client: httpx.Client) -> None:
    listed = client.get("/Schemas").json()["Resources"]
    for schema in listed:
        response = client.get(f"/Schemas/{schema['id']}")
        assert response.status_code == 200
        assert response.json() == schema
    # URNs compare case-insensitively (RFC 8141), and so do the ids clients echo back to us.
    assert client.get(f"/Schemas/{ENTERPRISE.upper()}").json()["id"] == ENTERPRISE


def test_resource_types_list_user_with_its_extension_and_group(client: httpx.Client, base_url: str) -> None:
    body = client.get("/ResourceTypes").json()
    assert body["schemas"] == [LIST] and body["totalResults"] == 2 == body["itemsPerPage"]
    assert body["Resources"] == [
        {
            "schemas": [RESOURCE_TYPE],
            "id": "User",
            "name": "User",
            "description": "User",
            "endpoint": "/Users",
            "schema": USER,
            "schemaExtensions": [{"schema": ENTERPRISE, "required": False}],
            "meta": {"resourceType": "ResourceType", "location": f"{base_url}/scim/v2/acme/ResourceTypes/User"},
        },
        {
            "schemas": [RESOURCE_TYPE],
            "id": "Group",
            "name": "Group",
            "description": "Group",
            "endpoint": "/Groups",
            "schema": GROUP,
            "meta": {"resourceType": "ResourceType", "location": f"{base_url}/scim/v2/acme/ResourceTypes/Group"},
        },
    ]
    assert client.get("/ResourceTypes/User").json() == body["Resources"][0]
    # Every schema a resource type names is published.
    published = {s["id"] for s in client.get("/Schemas").json()["Resources"]}
    assert {USER, ENTERPRISE} <= published


def test_service_provider_config_advertises_only_what_is_real(client: httpx.Client, base_url: str) -> None:
    config = client.get("/ServiceProviderConfig").json()
    assert config["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]
    assert config["patch"] == {"supported": True}
    assert config["filter"] == {"supported": True, "maxResults": 1000}
    assert config["etag"] == {"supported": True}
    # POST /Bulk with the limits RFC 7644 §3.7.4 requires: SCIM_BULK_MAX_OPERATIONS, SCIM_MAX_BODY_BYTES (e2e 64 KiB)
    assert config["bulk"] == {"supported": True, "maxOperations": 100, "maxPayloadSize": 65536}
    assert config["changePassword"] == {"supported": False}
    assert config["sort"] == {"supported": True}
    assert config["meta"] == {
        "resourceType": "ServiceProviderConfig",
        "location": f"{base_url}/scim/v2/acme/ServiceProviderConfig",
    }
    assert nulls(config) == []


@pytest.mark.parametrize("path", ["/Schemas/urn:ietf:params:scim:schemas:core:2.0:Widget", "/ResourceTypes/Widget"])
def test_unknown_ids_are_scim_404(client: httpx.Client, path: str) -> None:
    assert_scim_error(client.get(path), 404)


@pytest.mark.parametrize("path", DISCOVERY)
def test_writes_are_405_with_allow(client: httpx.Client, path: str) -> None:
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        response = client.request(method, path, json={})
        assert_scim_error(response, 405)
        assert response.headers["allow"] == "GET"


@pytest.mark.parametrize("path", DISCOVERY)
def test_discovery_needs_the_tenants_token(base_url: str, path: str) -> None:
    url = f"{base_url}/scim/v2/acme{path}"
    assert_scim_error(httpx.get(url), 401)
    assert_scim_error(httpx.get(url, headers={"Authorization": f"Bearer {OTHER_TOKEN}"}), 401)


def test_a_filter_is_refused_not_ignored(client: httpx.Client) -> None:
    # RFC 7644 §4: 403, so that no client believes the filter's conditions hold for what comes back.
    assert_scim_error(client.get("/Schemas", params={"filter": 'name eq "User"'}), 403)
    assert_scim_error(client.get("/ResourceTypes", params={"filter": 'name eq "Group"'}), 403)


def test_paging_parameters_are_ignored(client: httpx.Client) -> None:
    body = client.get("/Schemas", params={"startIndex": "2", "count": "1"}).json()
    assert body["startIndex"] == 1 and body["totalResults"] == len(body["Resources"]) == 3
