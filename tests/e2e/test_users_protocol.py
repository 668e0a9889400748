"""RFC 7644 for Users over HTTP, in both of Entra's dialects: PATCH shapes, the query grammar, ETags, limits.

Every refused request is checked to leave the tenant's partition exactly as it was.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from devhost.azurite import Azurite
from scim.store import TableStorage
from tests.conftest import fixture_json, partition_rows
from tests.e2e.test_users_http import assert_scim_error, new_user

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


@pytest.fixture(scope="module")
def e2e_storage(azurite: Azurite) -> Iterator[TableStorage]:
    store = TableStorage(connection_string=azurite.connection_string, table_prefix="e2e")
    yield store
    store.close()


@pytest.fixture
def unchanged(e2e_storage: TableStorage, user_id: str) -> Iterator[None]:
    """Asserts that the test's requests left tenant acme's stored rows byte-for-byte as they were."""
    before = partition_rows(e2e_storage, "Users", "acme")
    yield
    assert partition_rows(e2e_storage, "Users", "acme") == before


def create(client: httpx.Client, **extra: Any) -> dict[str, Any]:
    response = client.post("/Users", json=new_user(**extra))
    assert response.status_code == 201, response.text
    return dict(response.json())


def patch(client: httpx.Client, user_id: str, *operations: dict[str, Any]) -> httpx.Response:
    return client.patch(f"/Users/{user_id}", json={"schemas": [PATCH], "Operations": list(operations)})


def fixture_with_manager(name: str, manager_id: str) -> Any:
    return json.loads(json.dumps(fixture_json(name)).replace("MANAGER_ID", manager_id))


# -- manager, in every shape ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "shape", ["bare", "object", "list", "test-collection"], ids=["id", "value", "value-list", "Manager-Value"]
)
def test_create_and_replace_take_the_manager_in_every_shape(client: httpx.Client, shape: str) -> None:
    manager = create(client)["id"]
    value: Any = {
        "bare": manager,
        "object": {"value": manager},
        "list": [{"value": manager}],
        "test-collection": {"Value": manager},
    }[shape]
    key = "Manager" if shape == "test-collection" else "manager"
    created = create(client, **{ENTERPRISE: {key: value, "department": "Sales"}})
    assert created[ENTERPRISE]["manager"] == {"value": manager}
    assert client.get(f"/Users/{created['id']}").json()[ENTERPRISE]["manager"] == {"value": manager}

    body = new_user(**{ENTERPRISE: {key: value}})
    body["userName"] = created["userName"]
    replaced = client.put(f"/Users/{created['id']}", json=body)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()[ENTERPRISE]["manager"] == {"value": manager}


def test_microsoft_test_collection_first_user(client: httpx.Client) -> None:
    manager = create(client)["id"]
    payload = fixture_with_manager("microsoft/create_user_manager_value_casing.json", manager)
    payload["userName"] = f"UserName-{uuid.uuid4().hex[:8]}"
    response = client.post("/Users", json=payload)
    assert response.status_code == 201, response.text
    user = response.json()
    assert user["emails"][0]["value"] == "emailName357"  # RFC 7643: SHOULD be an address, not MUST
    assert user[ENTERPRISE] == {"department": "Engineering", "manager": {"value": manager}}


@pytest.mark.parametrize("dialect", ["default", "flag"])
def test_manager_is_removable_with_and_without_a_value(client: httpx.Client, dialect: str) -> None:
    manager = create(client)["id"]
    user = create(client, **{ENTERPRISE: {"manager": manager}})
    if dialect == "default":
        body = fixture_with_manager("entra/patch_remove_manager_with_value.json", manager)
        response = client.patch(f"/Users/{user['id']}", json=body)
    else:
        response = patch(client, user["id"], {"op": "remove", "path": f"{ENTERPRISE}:manager"})
    assert response.status_code == 200, response.text
    assert "manager" not in client.get(f"/Users/{user['id']}").json().get(ENTERPRISE, {})


# -- PATCH in both dialects -----------------------------------------------------------------------


def test_pathless_replace_with_value_path_keys_changes_what_it_names(client: httpx.Client) -> None:
    user = create(client)
    response = client.patch(
        f"/Users/{user['id']}", json=fixture_json("entra/patch_flag_dialect_pathless_value_path.json")
    )
    assert response.status_code == 200, response.text
    stored = client.get(f"/Users/{user['id']}").json()
    assert [e["value"] for e in stored["emails"] if e["type"] == "work"] == ["moved@contoso.com"]
    assert stored["displayName"] == "Moved"
    assert stored["addresses"] == [{"type": "work", "locality": "Redmond"}]
    # The work-email index follows the change.
    found = client.get("/Users", params={"filter": 'emails[type eq "work"].value eq "moved@contoso.com"'}).json()
    assert user["id"] in [r["id"] for r in found["Resources"]]


def test_several_filtered_adds_build_one_entry_and_replace_creates_a_missing_one(client: httpx.Client) -> None:
    user = create(client)
    response = client.patch(
        f"/Users/{user['id']}", json=fixture_json("entra/patch_address_entries_default_dialect.json")
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["addresses"] == [
        {
            "type": "work",
            "streetAddress": "1 Microsoft Way",
            "locality": "Redmond",
            "postalCode": "98052",
            "country": "US",
        }
    ]
    assert body["phoneNumbers"] == [{"type": "work", "value": "+1 425 555 0100"}]
    assert body[ENTERPRISE]["department"] == "Sales"


@pytest.mark.parametrize("op", ["Replace", "replace", "REPLACE"])
def test_op_names_and_attribute_names_ignore_case(client: httpx.Client, op: str) -> None:
    user = create(client)
    response = patch(client, user["id"], {"op": op, "path": "DisplayName", "value": "Cased"})
    assert response.status_code == 200 and response.json()["displayName"] == "Cased"


def test_patch_response_honours_attributes(client: httpx.Client) -> None:
    user = create(client)
    response = client.patch(
        f"/Users/{user['id']}",
        params={"attributes": "userName"},
        json={"schemas": [PATCH], "Operations": [{"op": "add", "path": "title", "value": "Boss"}]},
    )
    assert response.status_code == 200
    assert set(response.json()) == {"schemas", "id", "userName"}


def test_put_replaces_the_resource_and_keeps_ours(client: httpx.Client) -> None:
    user = create(client, title="Old", displayName="Old")
    body = new_user(displayName="New", id="client-id", meta={"created": "2001-01-01T00:00:00Z"})
    body["userName"] = user["userName"]
    replaced = client.put(f"/Users/{user['id']}", json=body).json()
    assert replaced["id"] == user["id"] and replaced["meta"]["created"] == user["meta"]["created"]
    assert replaced["displayName"] == "New" and "title" not in replaced


# -- refused PATCHes change nothing ------------------------------------------------------------------


@pytest.mark.usefixtures("unchanged")
@pytest.mark.parametrize(
    ("operation", "status", "scim_type", "in_detail"),
    [
        ({"op": "replace", "path": "favouriteColour", "value": "red"}, 400, "invalidPath", "favouriteColour"),
        ({"op": "add", "path": "name.middle", "value": "x"}, 400, "invalidPath", "name.middle"),
        ({"op": "replace", "value": {"nickname2": "x"}}, 400, "invalidPath", "nickname2"),
        ({"op": "replace", "value": {'bogus[type eq "x"].value': "x"}}, 400, "invalidPath", "bogus"),
        ({"op": "replace", "path": "id", "value": "x"}, 400, "mutability", None),
        ({"op": "replace", "path": "meta.created", "value": "2001-01-01T00:00:00Z"}, 400, "mutability", None),
        ({"op": "replace", "path": "groups", "value": [{"value": "x"}]}, 400, "mutability", None),
        ({"op": "replace", "path": "active", "value": "perhaps"}, 400, "invalidValue", None),
        ({"op": "replace", "path": "emails[type eq ]", "value": "x"}, 400, "invalidPath", None),
        ({"op": "jump", "path": "title", "value": "x"}, 400, "invalidValue", None),
    ],
)
def test_refused_patch_stores_nothing(
    client: httpx.Client, user_id: str, operation: dict[str, Any], status: int, scim_type: str, in_detail: str | None
) -> None:
    body = assert_scim_error(patch(client, user_id, operation), status, scim_type)
    if in_detail:
        assert in_detail in body["detail"]


@pytest.fixture
def user_id(client: httpx.Client) -> str:
    return str(create(client)["id"])


@pytest.mark.usefixtures("unchanged")
def test_too_many_operations_is_413(client: httpx.Client, user_id: str) -> None:
    operations = [{"op": "add", "path": f'emails[type eq "t{n}"].value', "value": f"{n}@x"} for n in range(101)]
    assert_scim_error(patch(client, user_id, *operations), 413)


@pytest.mark.usefixtures("unchanged")
def test_too_many_values_in_one_attribute_is_400(client: httpx.Client, user_id: str) -> None:
    operations = [{"op": "add", "path": "emails", "value": [{"value": f"{n}@x"} for n in range(101)]}]
    assert_scim_error(patch(client, user_id, *operations), 400, "invalidValue")
    assert_scim_error(client.post("/Users", json=new_user(phoneNumbers=[{"value": "1"}] * 101)), 400, "invalidValue")


def test_a_patch_applies_whole_or_not_at_all(client: httpx.Client, e2e_storage: TableStorage, user_id: str) -> None:
    before = partition_rows(e2e_storage, "Users", "acme")
    response = patch(
        client, user_id, {"op": "replace", "path": "displayName", "value": "Half"}, {"op": "remove", "path": "userName"}
    )
    assert response.status_code == 400
    assert partition_rows(e2e_storage, "Users", "acme") == before


# -- the query grammar ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def people(base_url: str) -> dict[str, str]:
    """Three users in a tenant of their own, so that totals are exact."""
    from tests.e2e.conftest import OTHER_TOKEN

    headers = {"Authorization": f"Bearer {OTHER_TOKEN}"}
    ids: dict[str, str] = {}
    with httpx.Client(base_url=f"{base_url}/scim/v2/other", headers=headers, timeout=10) as http:
        for name, title, active, dept in [
            ("ann", "Engineer", True, "R&D"),
            ("bob", "Manager", False, "Sales"),
            ("cyd", None, True, "R&D"),
        ]:
            body = new_user(title=title, active=active, displayName=name.upper(), **{ENTERPRISE: {"department": dept}})
            body["userName"] = f"{name}@grammar.test"
            body["emails"] = [{"type": "work", "value": f"{name}@grammar.test"}]
            response = http.post("/Users", json=body)
            assert response.status_code == 201, response.text
            ids[name] = response.json()["id"]
    return ids


@pytest.fixture
def other(base_url: str) -> Iterator[httpx.Client]:
    from tests.e2e.conftest import OTHER_TOKEN

    headers = {"Authorization": f"Bearer {OTHER_TOKEN}"}
    with httpx.Client(base_url=f"{base_url}/scim/v2/other", headers=headers, timeout=10) as http:
        yield http


def names(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [r["userName"].split("@")[0] for r in response.json()["Resources"]]


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ('userName sw "a" or userName sw "b"', {"ann", "bob"}),
        ("title pr and not (active eq false)", {"ann"}),
        ('(title eq "Engineer" or title eq "Manager") and active eq true', {"ann"}),
        ('displayName co "Y"', {"cyd"}),
        ('userName ew "grammar.test" and not (userName eq "ANN@grammar.test")', {"bob", "cyd"}),
        ('userName gt "b" and userName lt "c"', {"bob"}),
        ('userName ge "bob@grammar.test"', {"bob", "cyd"}),
        ('userName le "bob@grammar.test"', {"ann", "bob"}),
        (f'{ENTERPRISE}:department eq "R&D"', {"ann", "cyd"}),
        ('emails[type eq "work" and value sw "bob"]', {"bob"}),
        ("name pr", set()),
        ('meta.created gt "2000-01-01T00:00:00Z"', {"ann", "bob", "cyd"}),
        ('meta.lastModified lt "2000-01-01T00:00:00Z"', set()),
        ('title ne "Engineer"', {"bob", "cyd"}),
    ],
)
def test_filter_grammar(other: httpx.Client, people: dict[str, str], expression: str, expected: set[str]) -> None:
    scoped = f'({expression}) and userName ew "@grammar.test"'  # tenant "other" is shared with other tests
    assert set(names(other.get("/Users", params={"filter": scoped}))) == expected


def test_case_exactness_is_per_attribute(other: httpx.Client, people: dict[str, str]) -> None:
    assert names(other.get("/Users", params={"filter": 'userName eq "ANN@GRAMMAR.TEST"'})) == ["ann"]
    assert names(other.get("/Users", params={"filter": f'id eq "{people["ann"].upper()}"'})) == []


@pytest.mark.parametrize(
    "expression",
    [
        "externalId eq jyoung",
        'favouriteColour eq "red"',
        "userName eq",
        '(userName eq "a"',
        'active eq "maybe"',
        " or ".join(f'userName eq "u{n}"' for n in range(51)),  # more comparisons than MAX_FILTER_TERMS
    ],
)
def test_bad_filters_are_invalid_filter(other: httpx.Client, expression: str) -> None:
    assert_scim_error(other.get("/Users", params={"filter": expression}), 400, "invalidFilter")


def test_sort_and_pages_with_exact_totals(other: httpx.Client, people: dict[str, str]) -> None:
    ours = 'userName ew "@grammar.test"'  # tenant "other" is shared with other tests
    ascending = other.get("/Users", params={"filter": ours, "sortBy": "userName", "startIndex": "2", "count": "1"})
    assert names(ascending) == ["bob"] and ascending.json()["totalResults"] == 3
    descending = other.get("/Users", params={"filter": ours, "sortBy": "title", "sortOrder": "descending"})
    assert names(descending) == ["cyd", "bob", "ann"]  # no title sorts first when descending
    active = f"active eq true and {ours}"
    filtered = other.get("/Users", params={"filter": active, "sortBy": "displayName", "count": "1"})
    assert names(filtered) == ["ann"] and filtered.json()["totalResults"] == 2
    assert_scim_error(other.get("/Users", params={"sortBy": "favouriteColour"}), 400, "invalidPath")


def test_post_search_answers_like_get(other: httpx.Client, people: dict[str, str]) -> None:
    body = {"schemas": [SEARCH], "filter": 'userName eq "bob@grammar.test"', "attributes": ["userName"], "count": 10}
    response = other.post("/Users/.search", json=body)
    assert names(response) == ["bob"]
    assert set(response.json()["Resources"][0]) == {"schemas", "id", "userName"}
    assert_scim_error(other.post("/Users/.search", json={"filter": "x"}), 400, "invalidSyntax")
    assert_scim_error(other.get("/Users/.search"), 405)


def test_attributes_and_excluded_attributes_on_get_by_id(other: httpx.Client, people: dict[str, str]) -> None:
    user_url = f"/Users/{people['ann']}"
    assert set(other.get(user_url, params={"attributes": "title"}).json()) == {"schemas", "id", "title"}
    excluded = other.get(user_url, params={"excludedAttributes": "emails,title"}).json()
    assert "emails" not in excluded and "title" not in excluded and excluded["userName"] == "ann@grammar.test"


def test_if_none_match_answers_304(other: httpx.Client, people: dict[str, str]) -> None:
    first = other.get(f"/Users/{people['cyd']}")
    etag = first.headers["ETag"]
    assert first.json()["meta"]["version"] == etag
    again = other.get(f"/Users/{people['cyd']}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["ETag"] == etag
    assert other.get(f"/Users/{people['cyd']}", headers={"If-None-Match": 'W/"other"'}).status_code == 200
