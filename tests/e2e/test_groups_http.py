"""Groups over HTTP as Entra drives them: Test Connection, create, membership PATCH in both dialects, bad input."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from devhost.azurite import Azurite
from scim.store import TableStorage
from tests.conftest import fixture_json, partition_rows
from tests.e2e.test_users_http import assert_scim_error, new_user

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ADSCIM = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@pytest.fixture(scope="module")
def e2e_storage(azurite: Azurite) -> Iterator[TableStorage]:
    store = TableStorage(connection_string=azurite.connection_string, table_prefix="e2e")
    yield store
    store.close()


def user(client: httpx.Client, **extra: Any) -> str:
    response = client.post("/Users", json=new_user(**extra))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def new_group(**extra: Any) -> dict[str, Any]:
    return {
        "schemas": [GROUP, ADSCIM],
        "externalId": str(uuid.uuid4()),
        "displayName": f"Group {uuid.uuid4().hex[:10]}",
        "meta": {"resourceType": "Group"},
        **extra,
    }


def group(client: httpx.Client, **extra: Any) -> dict[str, Any]:
    response = client.post("/Groups", json=new_group(**extra))
    assert response.status_code == 201, response.text
    return dict(response.json())


def patch(client: httpx.Client, group_id: str, *operations: dict[str, Any], **params: str) -> httpx.Response:
    return client.patch(f"/Groups/{group_id}", params=params, json={"schemas": [PATCH], "Operations": list(operations)})


def member_ids(client: httpx.Client, group_id: str) -> set[str]:
    response = client.get(f"/Groups/{group_id}")
    assert response.status_code == 200, response.text
    return {m["value"] for m in response.json().get("members", [])}


def test_test_connection_with_group_sync_on(client: httpx.Client) -> None:
    response = client.get(
        "/Groups", params={"filter": f'displayName eq "{uuid.uuid4()}"', "excludedAttributes": "members"}
    )
    assert response.status_code == 200
    assert response.json()["totalResults"] == 0 and response.json()["Resources"] == []


def test_entra_create_body_with_its_private_schema_urn(client: httpx.Client) -> None:
    body = fixture_json("entra/create_group.json")
    body["displayName"] = f"Sales {uuid.uuid4().hex[:6]}"
    response = client.post("/Groups", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["schemas"] == [GROUP]
    assert created["externalId"] == body["externalId"] and created["displayName"] == body["displayName"]
    assert created["meta"]["resourceType"] == "Group" and len(created["id"]) == 32
    assert response.headers["Location"].endswith(f"/Groups/{created['id']}")


def test_members_at_creation_and_the_users_groups(client: httpx.Client) -> None:
    alice, bob = user(client), user(client)
    created = group(client, members=[{"value": alice}, {"value": bob, "$ref": None}])
    assert {m["value"] for m in created["members"]} == {alice, bob}
    assert all(m["$ref"].endswith(f"/Users/{m['value']}") for m in created["members"])
    groups = client.get(f"/Users/{alice}").json()["groups"]
    assert [(g["value"], g["type"]) for g in groups] == [(created["id"], "direct")]


def test_display_name_is_unique_without_regard_to_case(client: httpx.Client) -> None:
    name = f"Finance {uuid.uuid4().hex[:6]}"
    group(client, displayName=name)
    assert_scim_error(client.post("/Groups", json=new_group(displayName=name.upper())), 409, "uniqueness")


def test_filters_entra_sends(client: httpx.Client) -> None:
    alice = user(client)
    created = group(client, members=[{"value": alice}])
    gid = created["id"]

    def found(expression: str, **params: str) -> list[dict[str, Any]]:
        response = client.get("/Groups", params={"filter": expression, **params})
        assert response.status_code == 200, response.text
        return list(response.json()["Resources"])

    assert [g["id"] for g in found(f'displayName eq "{created["displayName"].lower()}"')] == [gid]
    assert [g["id"] for g in found(f'externalId eq "{created["externalId"]}"')] == [gid]
    assert [g["id"] for g in found(f'id eq "{gid}"')] == [gid]
    assert [g["id"] for g in found(f'members[value eq "{alice}"]')] == [gid]
    assert [g["id"] for g in found(f'members.value eq "{alice}"')] == [gid]
    assert [g["id"] for g in found(f'members[value eq "{alice}"] and displayName sw "Group"')] == [gid]
    assert found(f'members[value eq "{alice}"] and displayName eq "nope"') == []
    excluded = found(f'id eq "{gid}"', excludedAttributes="members")[0]
    assert "members" not in excluded
    assert [m["value"] for m in found(f'id eq "{gid}"')[0]["members"]] == [alice]
    assert_scim_error(client.get("/Groups", params={"filter": f'members co "{alice}"'}), 400, "invalidFilter")


def test_get_with_excluded_members_has_no_members_key(client: httpx.Client) -> None:
    created = group(client, members=[{"value": user(client)}])
    body = client.get(f"/Groups/{created['id']}", params={"excludedAttributes": "members"}).json()
    assert "members" not in body and body["displayName"] == created["displayName"]


@pytest.mark.parametrize("dialect", ["default", "flag"])
def test_membership_lifecycle_in_both_dialects(client: httpx.Client, dialect: str) -> None:
    created = group(client)
    gid = created["id"]
    users = [user(client) for _ in range(4)]
    op = "Add" if dialect == "default" else "add"
    response = patch(client, gid, {"op": op, "path": "members", "value": [{"value": u} for u in users[:3]]})
    assert response.status_code == 204 and response.content == b""
    assert member_ids(client, gid) == set(users[:3])
    # Re-adding a member is a no-op.
    assert patch(client, gid, {"op": op, "path": "members", "value": [{"value": users[0]}]}).status_code == 204
    assert member_ids(client, gid) == set(users[:3])
    if dialect == "default":
        remove = {"op": "Remove", "path": "members", "value": [{"value": users[0]}]}
    else:
        remove = {"op": "remove", "path": f'members[value eq "{users[0]}"]'}
    assert patch(client, gid, remove).status_code == 204
    assert member_ids(client, gid) == set(users[1:3])  # only that one member went
    assert patch(client, gid, {"op": "remove", "path": "members"}).status_code == 204
    assert member_ids(client, gid) == set()
    assert patch(client, gid, {"op": "replace", "path": "members", "value": [{"value": users[3]}]}).status_code == 204
    assert member_ids(client, gid) == {users[3]}


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "Replace", "path": "displayName", "value": "Renamed {n}"},
        {"op": "replace", "value": {"displayName": "Renamed {n}"}},
    ],
)
def test_display_name_replace_with_and_without_path(client: httpx.Client, operation: dict[str, Any]) -> None:
    gid = group(client)["id"]
    name = operation.get("value")
    new_name = f"Renamed {uuid.uuid4().hex[:8]}"
    if isinstance(name, dict):
        operation = {**operation, "value": {"displayName": new_name}}
    else:
        operation = {**operation, "value": new_name}
    assert patch(client, gid, operation).status_code == 204
    found = client.get("/Groups", params={"filter": f'displayName eq "{new_name}"'}).json()
    assert [g["id"] for g in found["Resources"]] == [gid]


def test_patch_with_attributes_answers_200_and_the_group(client: httpx.Client) -> None:
    gid = group(client)["id"]
    u = user(client)
    response = patch(client, gid, {"op": "add", "path": "members", "value": [{"value": u}]}, attributes="members")
    assert response.status_code == 200
    assert [m["value"] for m in response.json()["members"]] == [u]


def test_many_changes_in_one_patch_are_split_into_transactions(client: httpx.Client) -> None:
    gid = group(client)["id"]
    users = [user(client) for _ in range(120)]
    response = patch(client, gid, {"op": "add", "path": "members", "value": [{"value": u} for u in users]})
    assert response.status_code == 204
    assert member_ids(client, gid) == set(users)


def test_deleting_a_user_removes_its_memberships_and_disabling_keeps_them(client: httpx.Client) -> None:
    stays, leaves = user(client), user(client)
    gid = group(client, members=[{"value": stays}, {"value": leaves}])["id"]
    disable = {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}
    assert client.patch(f"/Users/{stays}", json=disable).status_code == 200
    assert client.delete(f"/Users/{leaves}").status_code == 204
    assert member_ids(client, gid) == {stays}


def test_deleting_a_group_removes_all_its_rows(client: httpx.Client, e2e_storage: TableStorage) -> None:
    users = [user(client) for _ in range(60)]
    gid = group(client, members=[{"value": u} for u in users])["id"]
    assert client.delete(f"/Groups/{gid}").status_code == 204
    assert_scim_error(client.get(f"/Groups/{gid}"), 404)
    rows = partition_rows(e2e_storage, "Groups", "acme")
    assert not [row for row in rows if gid in row["RowKey"]]
    assert "groups" not in client.get(f"/Users/{users[0]}").json()


# -- bad input: a SCIM error each, nothing half-applied ----------------------------------------------


@pytest.fixture
def target(client: httpx.Client, e2e_storage: TableStorage) -> Iterator[tuple[str, str]]:
    member = user(client)
    gid = group(client, members=[{"value": member}])["id"]
    before = partition_rows(e2e_storage, "Groups", "acme")
    yield gid, member
    assert partition_rows(e2e_storage, "Groups", "acme") == before


@pytest.mark.parametrize(
    ("operation", "status", "scim_type"),
    [
        ({"op": "add", "path": "members", "value": [{"value": "0" * 32}]}, 400, "invalidValue"),
        ({"op": "add", "path": "members", "value": [{"value": "not-an-id"}]}, 400, "invalidValue"),
        ({"op": "add", "path": "members", "value": [{"value": 42}]}, 400, "invalidValue"),
        ({"op": "add", "path": "members", "value": ["bare"]}, 400, "invalidValue"),
        ({"op": "add", "path": "members", "value": []}, 400, "invalidValue"),
        ({"op": "remove", "path": "members", "value": []}, 400, "invalidValue"),
        ({"op": "add", "path": 'members[value eq "x"].display', "value": "x"}, 400, "invalidPath"),
        ({"op": "replace", "path": "displayName", "value": "x" * 300_000}, 413, None),
        ({"op": "replace", "path": "displayName", "value": "x" * 300}, 400, "invalidValue"),
        ({"op": "replace", "path": "colour", "value": "red"}, 400, "invalidPath"),
    ],
)
def test_bad_group_patches_change_nothing(
    client: httpx.Client, target: tuple[str, str], operation: dict[str, Any], status: int, scim_type: str | None
) -> None:
    gid, member = target
    # A valid removal comes first: the bad operation after it must stop the whole PATCH.
    response = patch(client, gid, {"op": "remove", "path": "members", "value": [{"value": member}]}, operation)
    body = assert_scim_error(response, status, scim_type)
    if "0" * 32 in str(operation):
        assert "0" * 32 in body["detail"]


def test_member_ref_to_another_tenant_is_refused(client: httpx.Client, target: tuple[str, str]) -> None:
    gid, other = target  # a user of this tenant, named under another tenant's URL
    ref = f"https://example.test/scim/v2/other/Users/{other}"
    response = patch(client, gid, {"op": "add", "path": "members", "value": [{"value": other, "$ref": ref}]})
    assert_scim_error(response, 400, "invalidValue")


def test_ten_thousand_operations_is_413(client: httpx.Client, target: tuple[str, str]) -> None:
    gid, _member = target
    operations = [{"op": "replace", "path": "displayName", "value": f"n{n}"} for n in range(10_000)]
    assert_scim_error(patch(client, gid, *operations), 413)


def test_a_member_added_twice_in_one_patch_is_added_once(client: httpx.Client) -> None:
    gid = group(client)["id"]
    u = user(client)
    response = patch(client, gid, {"op": "add", "path": "members", "value": [{"value": u}, {"value": u}]})
    assert response.status_code == 204
    assert member_ids(client, gid) == {u}


def test_unknown_group_is_404(client: httpx.Client) -> None:
    assert_scim_error(client.get(f"/Groups/{'0' * 32}"), 404)
    assert_scim_error(
        patch(client, "0" * 32, {"op": "add", "path": "members", "value": [{"value": user(client)}]}), 404
    )
    assert_scim_error(client.delete(f"/Groups/{'0' * 32}"), 404)
