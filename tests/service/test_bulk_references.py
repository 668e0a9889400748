"""POST /Bulk: `bulkId:` references (RFC 7644 §3.7.1, §3.7.2) resolved in paths and data, or failing alone."""

from __future__ import annotations

from typing import Any

import pytest
from scim2_models import BulkResponse, Context, Group, User

from scim.api.scim import ScimApi
from scim.store import TableStorage
from tests.entra_cycle import in_process_api
from tests.service.bulk_requests import (
    ENTERPRISE,
    GROUP,
    PATCH,
    USER,
    call,
    ids_of,
    job,
    post_user,
    resources,
    send,
    user,
)


@pytest.fixture
def api(storage: TableStorage) -> ScimApi:
    return in_process_api(storage)


def test_a_group_created_with_members_the_same_request_creates(api: ScimApi, tenant: str) -> None:
    """RFC 7644 §3.7.2's example: the group's members refer to the users by bulkId."""
    status, body = send(
        api,
        tenant,
        job(
            post_user("alice", "alice@contoso.test"),
            post_user("bob", "bob@contoso.test"),
            {
                "method": "POST",
                "path": "/Groups",
                "bulkId": "guides",
                "data": {
                    "schemas": [GROUP],
                    "displayName": "Tour Guides",
                    "members": [{"type": "User", "value": "bulkId:alice"}, {"value": "bulkId:bob"}],
                },
            },
        ),
    )
    assert status == 200
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:BulkResponse"]
    BulkResponse[User | Group].model_validate(body, scim_ctx=Context.BULK_RESPONSE)  # the RFC's shape
    results = body["Operations"]
    assert [(r["method"], r["bulkId"], r["status"]) for r in results] == [
        ("POST", "alice", "201"),
        ("POST", "bob", "201"),
        ("POST", "guides", "201"),
    ]
    assert all(r["location"].startswith(f"http://localhost/scim/v2/{tenant}/") and r["version"] for r in results)
    alice, bob, group = (ids_of(r) for r in results)
    got, stored, headers = call(api, tenant, "GET", f"/Groups/{group}")
    assert got == 200 and stored["displayName"] == "Tour Guides"
    assert sorted(m["value"] for m in stored["members"]) == sorted([alice, bob])
    assert headers["ETag"] == results[2]["version"]  # version is what GET answers
    _, alice_stored, _ = call(api, tenant, "GET", f"/Users/{alice}")
    assert [g["value"] for g in alice_stored["groups"]] == [group]


def test_references_in_paths_patch_values_and_the_enterprise_manager_are_resolved(api: ScimApi, tenant: str) -> None:
    status, body = send(
        api,
        tenant,
        job(
            post_user("boss", "boss@contoso.test"),
            {
                "method": "POST",
                "path": "/Users",
                "bulkId": "clerk",
                "data": {
                    **user("clerk@contoso.test", schemas=[USER, ENTERPRISE]),
                    ENTERPRISE: {"manager": {"value": "bulkId:boss"}},
                },
            },
            {
                "method": "POST",
                "path": "/Groups",
                "bulkId": "team",
                "data": {"schemas": [GROUP], "displayName": "Team"},
            },
            {
                "method": "PATCH",
                "path": "/Groups/bulkId:team",
                "data": {
                    "schemas": [PATCH],
                    "Operations": [{"op": "add", "path": "members", "value": [{"value": "bulkId:clerk"}]}],
                },
            },
            {
                "method": "PATCH",
                "path": "/Users/bulkId:boss",
                "data": {
                    "schemas": [PATCH],
                    "Operations": [{"op": "replace", "path": "displayName", "value": "The Boss"}],
                },
            },
        ),
    )
    assert status == 200
    results = body["Operations"]
    assert [r["status"] for r in results] == ["201", "201", "201", "204", "200"]
    boss, clerk, team = (ids_of(r) for r in results[:3])
    assert results[3]["location"].endswith(f"/Groups/{team}") and results[4]["location"].endswith(f"/Users/{boss}")
    _, clerk_stored, _ = call(api, tenant, "GET", f"/Users/{clerk}")
    assert clerk_stored[ENTERPRISE]["manager"]["value"] == boss
    _, team_stored, _ = call(api, tenant, "GET", f"/Groups/{team}")
    assert [m["value"] for m in team_stored["members"]] == [clerk]
    _, boss_stored, _ = call(api, tenant, "GET", f"/Users/{boss}")
    assert boss_stored["displayName"] == "The Boss"


def test_unresolvable_references_fail_their_own_operation(api: ScimApi, storage: TableStorage, tenant: str) -> None:
    def member_of(group: str, reference: str) -> dict[str, Any]:
        data = {"schemas": [GROUP], "displayName": group, "members": [{"value": f"bulkId:{reference}"}]}
        return {"method": "POST", "path": "/Groups", "bulkId": group, "data": data}

    def managed_by(bulk_id: str, reference: str) -> dict[str, Any]:
        data = {
            **user(f"{bulk_id}@contoso.test", schemas=[USER, ENTERPRISE]),
            ENTERPRISE: {"manager": {"value": f"bulkId:{reference}"}},
        }
        return {"method": "POST", "path": "/Users", "bulkId": bulk_id, "data": data}

    status, body = send(
        api,
        tenant,
        job(
            member_of("g-unknown", "nobody"),  # no POST declares it: 400 invalidValue
            member_of("g-forward", "late"),  # declared by a later POST: 409
            post_user("dup", "same@contoso.test"),
            post_user("late", "same@contoso.test"),  # fails (409 uniqueness) ...
            member_of("g-failed", "late"),  # ... so a reference to it is 409
            managed_by("a", "b"),  # a and b refer to each other: RFC 7644 §3.7.1, 409
            managed_by("b", "a"),  # a failed, so b cannot refer to it: 409
            {"method": "DELETE", "path": "/Users/bulkId:nobody"},
        ),
    )
    assert status == 200
    results = body["Operations"]
    assert [r["status"] for r in results] == ["400", "409", "201", "409", "409", "409", "409", "400"]
    assert results[0]["response"]["scimType"] == "invalidValue"
    assert "names no POST" in results[0]["response"]["detail"]
    assert "later operation (4)" in results[1]["response"]["detail"]
    assert "failed with status 409" in results[4]["response"]["detail"]
    assert "circular" in results[5]["response"]["detail"] and "3.7.1" in results[5]["response"]["detail"]
    assert "failed with status 409" in results[6]["response"]["detail"]
    assert results[7]["location"] == f"http://localhost/scim/v2/{tenant}/Users/bulkId:nobody"  # as it was named
    BulkResponse[User | Group].model_validate(body, scim_ctx=Context.BULK_RESPONSE)
    assert resources(storage, "Groups", tenant) == []
    assert len(resources(storage, "Users", tenant)) == 1
