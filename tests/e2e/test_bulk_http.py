"""POST /Bulk over HTTP on Azurite (RFC 7644 §3.7): the route, its limits, its answer and what it stores."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.e2e.conftest import TOKEN
from tests.e2e.test_users_http import assert_scim_error, new_user

BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


def test_a_group_and_its_new_members_in_one_request(client: httpx.Client, base_url: str) -> None:
    alice, bob = new_user(), new_user()
    name = f"Tour Guides {uuid.uuid4().hex[:8]}"
    response = client.post(
        "/Bulk",
        json={
            "schemas": [BULK],
            "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "qwerty", "data": alice},
                {"method": "POST", "path": "/Users", "bulkId": "asdf", "data": bob},
                {
                    "method": "POST",
                    "path": "/Groups",
                    "bulkId": "ytrewq",
                    "data": {
                        "schemas": [GROUP],
                        "displayName": name,
                        "members": [{"type": "User", "value": "bulkId:qwerty"}, {"value": "bulkId:asdf"}],
                    },
                },
            ],
        },
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/scim+json")
    results = response.json()["Operations"]
    assert [(r["bulkId"], r["status"]) for r in results] == [("qwerty", "201"), ("asdf", "201"), ("ytrewq", "201")]
    assert all(r["location"].startswith(f"{base_url}/scim/v2/acme/") for r in results)
    user_ids = sorted(r["location"].rsplit("/", 1)[-1] for r in results[:2])
    group = client.get(results[2]["location"])
    assert group.status_code == 200 and group.headers["ETag"] == results[2]["version"]
    assert sorted(m["value"] for m in group.json()["members"]) == user_ids
    found = client.get("/Users", params={"filter": f'userName eq "{alice["userName"]}"'}).json()
    assert found["totalResults"] == 1 and found["Resources"][0]["id"] in user_ids


def test_a_wrong_token_is_401_and_stores_nothing(base_url: str, client: httpx.Client) -> None:
    body = new_user()
    operations = [{"method": "POST", "path": "/Users", "bulkId": "a", "data": body}]
    response = httpx.post(
        f"{base_url}/scim/v2/acme/Bulk",
        json={"schemas": [BULK], "Operations": operations},
        headers={"Authorization": f"Bearer {TOKEN}x"},
    )
    assert_scim_error(response, 401)
    found = client.get("/Users", params={"filter": f'userName eq "{body["userName"]}"'}).json()
    assert found["totalResults"] == 0


def test_the_limits_are_413_naming_them(client: httpx.Client) -> None:
    operations: list[dict[str, Any]] = [
        {"method": "POST", "path": "/Users", "bulkId": f"u{n}", "data": new_user()} for n in range(101)
    ]
    too_many = client.post("/Bulk", json={"schemas": [BULK], "Operations": operations})
    assert "maxOperations is 100" in assert_scim_error(too_many, 413)["detail"]
    padded = [{**op, "data": {**op["data"], "displayName": "x" * 700}} for op in operations[:100]]
    too_large = client.post("/Bulk", json={"schemas": [BULK], "Operations": padded})
    assert "maxPayloadSize (65536)" in assert_scim_error(too_large, 413)["detail"]
    names = [op["data"]["userName"] for op in operations[:3]]
    for name in names:
        assert client.get("/Users", params={"filter": f'userName eq "{name}"'}).json()["totalResults"] == 0


def test_other_methods_are_405(client: httpx.Client) -> None:
    response = client.get("/Bulk")
    assert_scim_error(response, 405)
    assert response.headers["Allow"] == "POST"
