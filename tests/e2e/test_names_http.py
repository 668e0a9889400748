"""Issue 19 over HTTP: names that look the same are the same name (409), and names hold no control characters."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.test_users_http import assert_scim_error

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ESCAPE = "\u001b]0;pwned\u0007\u001b[2J"

PAIRS = [
    ("admin", "\uff41\uff44\uff4d\uff49\uff4e"),
    ("strasse", "stra\u00dfe"),
    ("info", "\u0130nfo"),
    ("root", "ro\u200bot"),
    ("sys", "sys "),
]
"""Issue 19's reproduction pairs; each test puts a prefix of its own in front (the tenant is shared)."""


def prefix() -> str:
    return f"n{uuid.uuid4().hex[:10]}."


def user_body(user_name: str, **extra: Any) -> dict[str, Any]:
    return {"schemas": [USER], "userName": user_name, "emails": [{"type": "work", "value": "a@contoso.com"}], **extra}


def patch_body(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH], "Operations": list(operations)}


def found(client: httpx.Client, route: str, expression: str) -> list[str]:
    response = client.get(route, params={"filter": expression})
    assert response.status_code == 200, response.text
    return [resource["id"] for resource in response.json()["Resources"]]


@pytest.mark.parametrize(("first", "second"), PAIRS)
def test_a_user_name_that_looks_the_same_is_409(client: httpx.Client, first: str, second: str) -> None:
    start = prefix()
    created = client.post("/Users", json=user_body(start + first))
    assert created.status_code == 201, created.text
    assert created.json()["userName"] == start + first
    body = assert_scim_error(client.post("/Users", json=user_body(start + second)), 409, "uniqueness")
    assert "userName" in body["detail"]
    assert found(client, "/Users", f'userName eq "{start.upper()}{first.upper()}"') == [created.json()["id"]]


@pytest.mark.parametrize(("first", "second"), PAIRS)
def test_a_group_display_name_that_looks_the_same_is_409(client: httpx.Client, first: str, second: str) -> None:
    start = prefix()
    created = client.post("/Groups", json={"schemas": [GROUP], "displayName": start + second})
    assert created.status_code == 201, created.text
    assert created.json()["displayName"] == start + second  # stored as sent
    duplicate = client.post("/Groups", json={"schemas": [GROUP], "displayName": start + first})
    assert_scim_error(duplicate, 409, "uniqueness")
    assert found(client, "/Groups", f'displayName eq "{start}{first.upper()}"') == [created.json()["id"]]


def test_a_control_character_in_a_name_is_400_on_post(client: httpx.Client) -> None:
    external_id = uuid.uuid4().hex
    for extra in (
        {"userName": prefix() + ESCAPE},
        {"displayName": ESCAPE},
        {"name": {"givenName": ESCAPE}},
        {"emails": [{"type": "work", "value": ESCAPE + "@contoso.com"}]},
    ):
        response = client.post("/Users", json={**user_body(prefix() + "ada"), "externalId": external_id, **extra})
        body = assert_scim_error(response, 400, "invalidValue")
        assert f"'{next(iter(extra))}" in body["detail"]
    assert found(client, "/Users", f'externalId eq "{external_id}"') == []
    response = client.post("/Groups", json={"schemas": [GROUP], "displayName": "Ops" + ESCAPE})
    assert "'displayName'" in assert_scim_error(response, 400, "invalidValue")["detail"]


def test_a_control_character_is_400_on_put_and_patch_in_both_dialects(client: httpx.Client) -> None:
    """Entra's default dialect names the attribute in ``path`` ("Replace"); with ?aadOptscim062020 it sends a
    path-less "replace" whose value holds the attributes."""
    name = prefix() + "ada"
    user = client.post("/Users", json=user_body(name)).json()
    group = client.post("/Groups", json={"schemas": [GROUP], "displayName": prefix() + "Sales"}).json()
    users, groups = f"/Users/{user['id']}", f"/Groups/{group['id']}"
    flag = {"aadOptscim062020": ""}
    default_dialect = patch_body({"op": "Replace", "path": "displayName", "value": ESCAPE})
    refused = [
        client.put(users, json=user_body(name, displayName=ESCAPE)),
        client.patch(users, json=patch_body({"op": "Replace", "path": "name.familyName", "value": ESCAPE})),
        client.patch(users, params=flag, json=patch_body({"op": "replace", "value": {"nickName": ESCAPE}})),
        client.put(groups, json={"schemas": [GROUP], "displayName": ESCAPE}),
        client.patch(groups, json=default_dialect),
        client.patch(groups, params=flag, json=patch_body({"op": "replace", "value": {"displayName": ESCAPE}})),
    ]
    for response in refused:
        assert_scim_error(response, 400, "invalidValue")
    assert client.get(users).json()["meta"]["version"] == user["meta"]["version"]
    assert client.get(groups).json()["meta"]["version"] == group["meta"]["version"]
