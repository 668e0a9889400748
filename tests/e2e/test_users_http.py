"""What Entra and an admin see over HTTP: Test Connection, the user lifecycle, and every bad input."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from tests.conftest import fixture_json
from tests.e2e.conftest import OTHER_TOKEN

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def new_user(**extra: Any) -> dict[str, Any]:
    name = f"user-{uuid.uuid4().hex[:10]}@contoso.com"
    return {"schemas": [USER], "userName": name, "emails": [{"type": "work", "value": name}], **extra}


def assert_scim_error(response: httpx.Response, status: int, scim_type: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/scim+json")
    body = response.json()
    assert body["schemas"] == [ERROR]
    assert body["status"] == str(status)
    assert body.get("scimType") == scim_type
    assert body["detail"]
    return body


def count_users(client: httpx.Client) -> int:
    return int(client.get("/Users", params={"count": "0"}).json()["totalResults"])


def test_test_connection_gets_an_empty_list(client: httpx.Client) -> None:
    response = client.get("/Users", params={"filter": f'userName eq "{uuid.uuid4()}"'})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/scim+json")
    assert response.json() == {
        "schemas": [LIST],
        "totalResults": 0,
        "startIndex": 1,
        "itemsPerPage": 0,
        "Resources": [],
    }


def test_test_connection_with_email_as_matching_attribute(client: httpx.Client) -> None:
    # The GUID is not an e-mail address, so no user can match: an empty list, not a 400.
    response = client.get("/Users", params={"filter": f'emails[type eq "work"].value eq "{uuid.uuid4()}"'})
    assert response.status_code == 200
    assert response.json()["totalResults"] == 0


def test_form_encoded_filter_as_entra_sends_it(client: httpx.Client) -> None:
    created = client.post("/Users", json=new_user()).json()
    query = "filter=userName+eq+%22" + created["userName"].replace("@", "%40") + "%22"
    response = client.get(f"/Users?{query}")
    assert [r["id"] for r in response.json()["Resources"]] == [created["id"]]


def test_user_lifecycle(client: httpx.Client, base_url: str) -> None:
    payload = fixture_json("entra/create_user_tutorial.json")
    payload["userName"] = f"Test_User_{uuid.uuid4()}"
    created = client.post("/Users", json=payload)
    assert created.status_code == 201
    user = created.json()
    assert user["schemas"][0] == USER
    assert user["userName"] == payload["userName"] and user["active"] is True
    location = f"{base_url}/scim/v2/acme/Users/{user['id']}"
    assert user["meta"]["resourceType"] == "User"
    assert user["meta"]["location"] == location == created.headers["location"]
    assert user["meta"]["created"] and user["meta"]["lastModified"]
    assert created.headers["etag"] == user["meta"]["version"]

    fetched = client.get(f"/Users/{user['id']}")
    assert fetched.status_code == 200 and fetched.json() == user

    found = client.get("/Users", params={"filter": f'userName eq "{payload["userName"].upper()}"'}).json()
    assert found["totalResults"] == 1 and found["Resources"][0]["id"] == user["id"]
    by_external = client.get("/Users", params={"filter": f'externalId eq "{payload["externalId"]}"'}).json()
    assert user["id"] in [r["id"] for r in by_external["Resources"]]

    disabled = client.patch(f"/Users/{user['id']}", json=fixture_json("entra/patch_disable_default_dialect.json"))
    assert disabled.status_code == 200 and disabled.json()["active"] is False
    assert client.get(f"/Users/{user['id']}").json()["active"] is False

    deleted = client.delete(f"/Users/{user['id']}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert_scim_error(client.get(f"/Users/{user['id']}"), 404)
    gone = client.get("/Users", params={"filter": f'userName eq "{payload["userName"]}"'}).json()
    assert gone["totalResults"] == 0


def test_duplicate_user_name_in_another_case_is_409(client: httpx.Client) -> None:
    user = new_user()
    assert client.post("/Users", json=user).status_code == 201
    before = count_users(client)
    user["userName"] = user["userName"].upper()
    assert_scim_error(client.post("/Users", json=user), 409, "uniqueness")
    assert count_users(client) == before


def test_entra_create_body_with_nulls_and_string_boolean(client: httpx.Client) -> None:
    payload = fixture_json("entra/create_user_with_nulls.json")
    payload["userName"] = f"nulls-{uuid.uuid4().hex}@contoso.com"
    response = client.post("/Users", json=payload)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["active"] is True
    assert "title" not in body and "addresses" not in body


def test_manager_is_returned_as_complex_value(client: httpx.Client) -> None:
    user = client.post("/Users", json=new_user()).json()
    patched = client.patch(f"/Users/{user['id']}", json=fixture_json("entra/patch_manager_bare_string.json"))
    assert patched.status_code == 200
    extension = patched.json()["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]
    assert extension["manager"]["value"] == "5d48a0a8e9f04aa38008"


def test_user_without_email_is_told_to_map_mail(client: httpx.Client) -> None:
    user = new_user()
    del user["emails"]
    before = count_users(client)
    body = assert_scim_error(client.post("/Users", json=user), 400, "invalidValue")
    assert "mail" in body["detail"] and 'emails[type eq \\"work\\"].value' not in body["detail"]
    assert 'emails[type eq "work"].value' in body["detail"]
    assert count_users(client) == before


@pytest.mark.parametrize(
    ("content", "scim_type"),
    [
        (b"{not json", "invalidSyntax"),
        (b"", "invalidSyntax"),
        (b"\xff\xfe", "invalidSyntax"),
        (b"[1, 2]", "invalidSyntax"),
        (b'"a string"', "invalidSyntax"),
        (json.dumps({"schemas": [USER], "emails": [{"value": "a@b.c"}]}).encode(), "invalidValue"),
        (
            json.dumps({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "userName": "x"}).encode(),
            "invalidSyntax",
        ),
        (json.dumps({"userName": "no-schemas", "emails": [{"value": "a@b.c"}]}).encode(), "invalidSyntax"),
    ],
)
def test_bad_create_bodies(client: httpx.Client, content: bytes, scim_type: str) -> None:
    before = count_users(client)
    assert_scim_error(client.post("/Users", content=content), 400, scim_type)
    assert count_users(client) == before


def test_oversized_body_is_413(client: httpx.Client) -> None:
    before = count_users(client)
    user = new_user(displayName="x" * 70_000)
    assert_scim_error(client.post("/Users", json=user), 413)
    assert count_users(client) == before


@pytest.mark.parametrize(
    "expression",
    ["userName eq", 'userName eq "unterminated', "externalId eq jyoung", 'userName xx "a"', "(", 'userName eq "a" and'],
)
def test_invalid_filters_are_400_invalid_filter(client: httpx.Client, expression: str) -> None:
    assert_scim_error(client.get("/Users", params={"filter": expression}), 400, "invalidFilter")


def test_a_value_its_attribute_cannot_hold_is_an_invalid_filter(client: httpx.Client) -> None:
    # Refused up front, whether or not the tenant holds any user to compare with.
    assert_scim_error(client.get("/Users", params={"filter": 'active eq "maybe"'}), 400, "invalidFilter")


@pytest.mark.parametrize(("name", "value"), [("startIndex", "first"), ("count", "ten")])
def test_non_integer_paging_is_400(client: httpx.Client, name: str, value: str) -> None:
    assert_scim_error(client.get("/Users", params={name: value}), 400, "invalidValue")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic Zm9vOmJhcg=="},
        {"Authorization": f"Bearer {OTHER_TOKEN}"},
    ],
)
def test_missing_or_wrong_token_is_401(base_url: str, headers: dict[str, str]) -> None:
    response = httpx.get(f"{base_url}/scim/v2/acme/Users", headers=headers)
    assert_scim_error(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_bad_token_cannot_write(base_url: str, client: httpx.Client) -> None:
    before = count_users(client)
    response = httpx.post(f"{base_url}/scim/v2/acme/Users", json=new_user(), headers={"Authorization": "Bearer wrong"})
    assert_scim_error(response, 401)
    assert count_users(client) == before


def test_tenants_are_isolated(base_url: str, client: httpx.Client) -> None:
    user = client.post("/Users", json=new_user()).json()
    other = httpx.Client(base_url=f"{base_url}/scim/v2/other", headers={"Authorization": f"Bearer {OTHER_TOKEN}"})
    with other:
        assert_scim_error(other.get(f"/Users/{user['id']}"), 404)
        assert other.get("/Users", params={"filter": f'userName eq "{user["userName"]}"'}).json()["totalResults"] == 0
        assert other.post("/Users", json={**new_user(), "userName": user["userName"]}).status_code == 201


def test_wrong_method_on_known_route_is_405(client: httpx.Client) -> None:
    body = assert_scim_error(client.delete("/Users"), 405)
    assert "GET" in client.delete("/Users").headers["allow"] and body["status"] == "405"
    assert_scim_error(client.post(f"/Users/{uuid.uuid4().hex}", json=new_user()), 405)
    assert_scim_error(client.post("/ServiceProviderConfig", json={}), 405)


def test_unknown_routes_are_scim_404(client: httpx.Client, base_url: str) -> None:
    assert_scim_error(client.get("/Widgets"), 404)
    assert_scim_error(httpx.get(f"{base_url}/scim/v1/whatever"), 404)
    assert_scim_error(client.get(f"/Users/{uuid.uuid4().hex}"), 404)
    assert_scim_error(client.patch("/Users/nope", json=fixture_json("entra/patch_disable_flag_dialect.json")), 404)
    assert_scim_error(client.delete("/Users/nope"), 404)


def test_bad_patch_bodies(client: httpx.Client) -> None:
    user = client.post("/Users", json=new_user()).json()
    cases = [
        ({"Operations": []}, "invalidValue"),
        (
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "explode", "path": "x"}],
            },
            "invalidValue",
        ),
        (
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "emails[", "value": 1}],
            },
            "invalidPath",
        ),
    ]
    for payload, scim_type in cases:
        response = client.patch(f"/Users/{user['id']}", json=payload)
        assert response.status_code == 400, (payload, response.text)
        assert response.json()["schemas"] == [ERROR]
        assert response.json().get("scimType") in {scim_type, "invalidSyntax", "invalidValue", "invalidPath"}
    assert client.get(f"/Users/{user['id']}").json() == user


def test_put_replaces_the_user(client: httpx.Client) -> None:
    user = client.post("/Users", json=new_user(displayName="Before")).json()
    replacement = {**new_user(displayName="After"), "userName": user["userName"]}
    response = client.put(f"/Users/{user['id']}", json=replacement)
    assert response.status_code == 200
    assert response.json()["displayName"] == "After" and response.json()["id"] == user["id"]
    stale = client.put(f"/Users/{user['id']}", json=replacement, headers={"If-Match": user["meta"]["version"]})
    assert_scim_error(stale, 412)


def test_attributes_and_excluded_attributes(client: httpx.Client) -> None:
    user = client.post("/Users", json=new_user(displayName="Shown")).json()
    only = client.get(f"/Users/{user['id']}", params={"attributes": "userName"}).json()
    assert only["userName"] == user["userName"] and only["id"] == user["id"] and "displayName" not in only
    without = client.get(f"/Users/{user['id']}", params={"excludedAttributes": "displayName"}).json()
    assert "displayName" not in without and without["userName"] == user["userName"]


def test_service_provider_config(client: httpx.Client) -> None:
    response = client.get("/ServiceProviderConfig")
    assert response.status_code == 200
    config = response.json()
    assert config["patch"]["supported"] is True and config["filter"]["supported"] is True
    assert config["authenticationSchemes"][0]["type"] == "oauthbearertoken"


def test_service_provider_config_needs_a_token(base_url: str) -> None:
    assert_scim_error(httpx.get(f"{base_url}/scim/v2/acme/ServiceProviderConfig"), 401)
