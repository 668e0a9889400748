"""User use cases on the in-memory store: what Entra sends, what is stored, and what each operation costs."""

from typing import Any

import pytest
from scim2_models import (
    InvalidSyntaxException,
    InvalidValueException,
    NotFoundException,
    PreconditionFailedException,
    SearchRequest,
    UniquenessException,
)

from scim.models import UserResource
from scim.resources.users import EMAIL_REQUIRED_DETAIL, UserService
from scim.store import TableStorage, is_counter_key, is_record_key
from tests.conftest import fixture_json, partition_rows

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@pytest.fixture
def users(storage: TableStorage) -> UserService:
    return UserService(storage.resources("Users"))


def body(user_name: str = "alice@contoso.com", **extra: Any) -> dict[str, Any]:
    return {
        "schemas": [USER],
        "userName": user_name,
        "emails": [{"type": "work", "value": "alice@contoso.com", "primary": True}],
        **extra,
    }


def search(users: UserService, tenant: str, expression: str) -> list[str]:
    page = users.search(tenant, SearchRequest[UserResource](filter=expression), 1, 100)
    return [str(user.id) for user in page.resources]


def doc(user: UserResource) -> dict[str, Any]:
    """What is stored for a user (the document without id and meta)."""
    return UserService.document(user)


ALL = SearchRequest[UserResource]()


def cost(storage: TableStorage, action: Any) -> int:
    before = storage.round_trips.count
    action()
    return storage.round_trips.count - before


def test_entra_tutorial_create_body_is_stored_as_sent(users: UserService, tenant: str) -> None:
    payload = fixture_json("entra/create_user_tutorial.json")
    user = users.create(tenant, payload)
    assert user.user_name == payload["userName"]
    assert user.external_id == payload["externalId"]
    assert user.active is True
    assert user.emails is not None and str(user.emails[0].value) == payload["emails"][0]["value"]
    assert user.meta is not None and user.meta.resource_type == "User"


def test_entra_nulls_string_boolean_and_unknown_attributes_are_tolerated(users: UserService, tenant: str) -> None:
    stored = doc(users.create(tenant, fixture_json("entra/create_user_with_nulls.json")))
    assert stored["active"] is True
    assert "title" not in stored and "manager" not in stored
    assert stored[ENTERPRISE] == {"employeeNumber": "1001", "department": "Finance"}


def test_client_supplied_id_and_meta_are_ignored(users: UserService, tenant: str) -> None:
    user = users.create(tenant, body(id="client-chosen", meta={"resourceType": "Group", "version": 'W/"x"'}))
    assert user.id != "client-chosen" and len(str(user.id)) == 32
    assert user.meta is not None and user.meta.resource_type == "User" and user.meta.version != 'W/"x"'
    assert "meta" not in doc(user) and "id" not in doc(user)


def test_passwords_are_never_stored(users: UserService, storage: TableStorage, tenant: str) -> None:
    user = users.create(tenant, body(password="hunter2"))
    assert "password" not in doc(user)
    assert "hunter2" not in str(partition_rows(storage, "Users", tenant))


@pytest.mark.parametrize(
    "emails",
    [None, [], [{"type": "work", "value": None}]],
)
def test_user_without_email_gets_actionable_invalid_value(
    users: UserService, storage: TableStorage, tenant: str, emails: Any
) -> None:
    payload = body()
    payload["emails"] = emails
    with pytest.raises(InvalidValueException) as caught:
        users.create(tenant, payload)
    assert caught.value.detail == EMAIL_REQUIRED_DETAIL
    assert "mail" in caught.value.detail and 'emails[type eq "work"].value' in caught.value.detail
    assert partition_rows(storage, "Users", tenant) == []


def test_any_email_type_satisfies_the_requirement(users: UserService, tenant: str) -> None:
    users.create(tenant, body(emails=[{"type": "other", "value": "a@b.c"}]))


def test_email_requirement_can_be_relaxed(storage: TableStorage, tenant: str) -> None:
    relaxed = UserService(storage.resources("Users"), require_email=False)
    payload = body()
    del payload["emails"]
    relaxed.create(tenant, payload)


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        ([body()], InvalidSyntaxException),
        ({"userName": "x", "emails": [{"value": "a@b.c"}]}, InvalidSyntaxException),
        ({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "userName": "x"}, InvalidSyntaxException),
        ({"schemas": [USER], "emails": [{"value": "a@b.c"}]}, InvalidValueException),
        ({"schemas": [USER], "userName": "   ", "emails": [{"value": "a@b.c"}]}, InvalidValueException),
        (body(emails=[{"value": "a@b.c"}] * 101), InvalidValueException),
        (body(active="perhaps"), InvalidValueException),
    ],
)
def test_bad_create_bodies_store_nothing(
    users: UserService, storage: TableStorage, tenant: str, payload: Any, error: type[Exception]
) -> None:
    with pytest.raises(error):
        users.create(tenant, payload)
    assert partition_rows(storage, "Users", tenant) == []


def test_duplicate_user_name_in_another_case_is_409(users: UserService, storage: TableStorage, tenant: str) -> None:
    users.create(tenant, body("Alice@Contoso.com"))
    before = partition_rows(storage, "Users", tenant)
    with pytest.raises(UniquenessException):
        users.create(tenant, body("ALICE@contoso.COM"))
    assert partition_rows(storage, "Users", tenant) == before


def test_filters_entra_sends(users: UserService, tenant: str) -> None:
    alice = str(users.create(tenant, body("Alice@Contoso.com", externalId="alice-ext")).id)
    bob = users.create(
        tenant, body("bob@contoso.com", externalId="bob-ext", emails=[{"type": "work", "value": "Bob@Contoso.com"}])
    ).id
    assert search(users, tenant, 'userName eq "alice@contoso.com"') == [alice]
    assert search(users, tenant, 'externalId eq "bob-ext"') == [bob]
    assert search(users, tenant, 'externalId eq "BOB-EXT"') == []  # externalId is caseExact
    assert search(users, tenant, 'emails[type eq "work"].value eq "bob@contoso.com"') == [bob]
    assert search(users, tenant, 'userName eq "00000000-0000-0000-0000-000000000000"') == []
    assert search(users, tenant, f'id eq "{bob}"') == [bob]
    assert search(users, tenant, 'userName eq "alice@contoso.com" and externalId eq "bob-ext"') == []
    assert sorted(search(users, tenant, 'userName sw "a" or userName sw "b"')) == sorted([alice, bob])


def test_indexed_filter_costs_the_same_whatever_the_tenant_size(
    users: UserService, storage: TableStorage, tenant: str
) -> None:
    users.create(tenant, body("target@contoso.com", externalId="t"))
    small = cost(storage, lambda: search(users, tenant, 'userName eq "target@contoso.com"'))
    for n in range(30):
        users.create(tenant, body(f"user{n}@contoso.com"))
    large = cost(storage, lambda: search(users, tenant, 'userName eq "target@contoso.com"'))
    assert small == large == 2  # index row, then the resource


def test_round_trips_per_operation(users: UserService, storage: TableStorage, tenant: str) -> None:
    storage.resources("Users").client()  # the table exists before counting
    created: list[str] = []
    users.create(tenant, body("first@contoso.com"))  # the tenant's counter row is read once per process
    assert cost(storage, lambda: created.append(str(users.create(tenant, body()).id))) == 1
    user_id = created[0]
    assert cost(storage, lambda: users.get(tenant, user_id)) == 1
    patch = fixture_json("entra/patch_disable_default_dialect.json")
    assert cost(storage, lambda: users.patch(tenant, user_id, patch)) == 2
    assert cost(storage, lambda: users.patch(tenant, user_id, patch)) == 1  # nothing changed: no write
    assert cost(storage, lambda: users.delete(tenant, user_id)) == 2


def test_disable_in_both_dialects_keeps_user_readable_and_filterable(users: UserService, tenant: str) -> None:
    for name in ("patch_disable_default_dialect.json", "patch_disable_flag_dialect.json"):
        user_id = str(users.create(tenant, body(f"{name}@contoso.com")).id)
        assert users.patch(tenant, user_id, fixture_json(f"entra/{name}")).active is False
        assert users.get(tenant, user_id).active is False
        assert search(users, tenant, f'userName eq "{name}@contoso.com"') == [user_id]


def test_flag_dialect_multi_attribute_replace(users: UserService, tenant: str) -> None:
    user_id = str(users.create(tenant, body()).id)
    stored = doc(users.patch(tenant, user_id, fixture_json("entra/patch_multi_attribute_flag_dialect.json")))
    assert stored["displayName"] == "Updated Name"
    assert stored["name"] == {"givenName": "Updated", "familyName": "Name"}
    assert stored[ENTERPRISE]["employeeNumber"] == "2002"
    assert [e["value"] for e in stored["emails"] if e.get("type") == "work"] == ["updated@contoso.com"]
    # The work-email index follows the change.
    assert search(users, tenant, 'emails[type eq "work"].value eq "updated@contoso.com"') == [user_id]
    assert search(users, tenant, 'emails[type eq "work"].value eq "alice@contoso.com"') == []


def test_manager_bare_string_is_stored_and_returned_as_complex(users: UserService, tenant: str) -> None:
    user_id = str(users.create(tenant, body()).id)
    stored = doc(users.patch(tenant, user_id, fixture_json("entra/patch_manager_bare_string.json")))
    assert stored[ENTERPRISE]["manager"] == {"value": "5d48a0a8e9f04aa38008"}


def test_filtered_add_creates_the_missing_typed_entry(users: UserService, tenant: str) -> None:
    user_id = str(users.create(tenant, body()).id)
    stored = doc(users.patch(tenant, user_id, fixture_json("entra/patch_add_mobile_phone.json")))
    assert stored["phoneNumbers"] == [{"value": "+1 555 0100", "type": "mobile"}]


def test_rename_moves_the_unique_index(users: UserService, tenant: str) -> None:
    user_id = str(users.create(tenant, body("old@contoso.com")).id)
    rename = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "userName", "value": "new@contoso.com"}],
    }
    users.patch(tenant, user_id, rename)
    assert search(users, tenant, 'userName eq "new@contoso.com"') == [user_id]
    assert search(users, tenant, 'userName eq "old@contoso.com"') == []
    users.create(tenant, body("old@contoso.com"))  # the old name is free again


def test_patch_failing_midway_changes_nothing(users: UserService, storage: TableStorage, tenant: str) -> None:
    user_id = str(users.create(tenant, body()).id)
    before = partition_rows(storage, "Users", tenant)
    bad = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "Replace", "path": "displayName", "value": "Changed"},
            {"op": "Remove", "path": "emails"},
        ],
    }
    with pytest.raises(InvalidValueException):
        users.patch(tenant, user_id, bad)
    assert partition_rows(storage, "Users", tenant) == before


def test_patch_to_a_taken_user_name_is_409(users: UserService, storage: TableStorage, tenant: str) -> None:
    users.create(tenant, body("taken@contoso.com"))
    user_id = str(users.create(tenant, body("mine@contoso.com")).id)
    before = partition_rows(storage, "Users", tenant)
    rename = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "userName", "value": "TAKEN@contoso.com"}],
    }
    with pytest.raises(UniquenessException):
        users.patch(tenant, user_id, rename)
    assert partition_rows(storage, "Users", tenant) == before


def test_replace_keeps_id_and_created(users: UserService, tenant: str) -> None:
    first = users.create(tenant, body(displayName="First"))
    replaced = users.replace(tenant, str(first.id), body(displayName="Second"))
    assert first.meta is not None and replaced.meta is not None
    assert (replaced.id, replaced.meta.created) == (first.id, first.meta.created)
    assert replaced.display_name == "Second"


def test_if_match_guards_writes(users: UserService, storage: TableStorage, tenant: str) -> None:
    created = users.create(tenant, body())
    assert created.meta is not None and created.id is not None
    stale = str(created.meta.version)
    users.replace(tenant, created.id, body(displayName="v2"), if_match=stale)
    before = partition_rows(storage, "Users", tenant)
    with pytest.raises(PreconditionFailedException):
        users.replace(tenant, created.id, body(displayName="v3"), if_match=stale)
    with pytest.raises(PreconditionFailedException):
        users.delete(tenant, created.id, if_match=stale)
    assert partition_rows(storage, "Users", tenant) == before
    users.delete(tenant, created.id, if_match="*")


@pytest.mark.parametrize("user_id", ["0" * 32, "not-an-id", "../../x", "a#b"])
def test_unknown_ids_are_404(users: UserService, tenant: str, user_id: str) -> None:
    with pytest.raises(NotFoundException):
        users.get(tenant, user_id)
    with pytest.raises(NotFoundException):
        users.delete(tenant, user_id)


def test_deleted_user_disappears_from_filters(users: UserService, storage: TableStorage, tenant: str) -> None:
    user_id = str(users.create(tenant, body(externalId="gone")).id)
    users.delete(tenant, user_id)
    assert search(users, tenant, 'userName eq "alice@contoso.com"') == []
    assert search(users, tenant, 'externalId eq "gone"') == []
    rows = [row for row in partition_rows(storage, "Users", tenant) if not is_record_key(row["RowKey"])]
    assert [(is_counter_key(row["RowKey"]), row["Total"], row["Active"]) for row in rows] == [(True, 0, 0)]


def test_pagination(users: UserService, tenant: str) -> None:
    for n in range(5):
        users.create(tenant, body(f"user{n}@contoso.com"))
    page = users.search(tenant, ALL, 2, 2)
    assert page.total == 5 and len(page.resources) == 2
    assert users.search(tenant, ALL, 5, 10).resources[0].id == users.search(tenant, ALL, 1, 10).resources[4].id
    assert users.search(tenant, ALL, 1, 0).resources == []
    assert users.search(tenant, ALL, 6, 10).resources == []


def test_concurrent_patches_lose_no_update(
    users: UserService, storage: TableStorage, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_id = str(users.create(tenant, body()).id)
    table = storage.resources("Users")
    real_replace = table.replace
    interfered: list[bool] = []

    def replace_after_a_competing_write(*args: Any, **kwargs: Any) -> Any:
        if not interfered:
            # Another request changes the user between this request's read and its write.
            interfered.append(True)
            competing = {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "title", "value": "Engineer"}],
            }
            users.patch(tenant, user_id, competing)
        return real_replace(*args, **kwargs)

    monkeypatch.setattr(table, "replace", replace_after_a_competing_write)
    users.patch(tenant, user_id, fixture_json("entra/patch_disable_default_dialect.json"))
    user = users.get(tenant, user_id)
    assert user.active is False and user.title == "Engineer"
