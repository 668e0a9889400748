"""A tenant's custom extension attributes through the user service (issue 25): stored, typed, patched in
both of Entra's dialects, filtered, unique by index; undeclared ones refused with the declare hint."""

from __future__ import annotations

from typing import Any

import pytest
from scim2_models import Context, InvalidPathException, InvalidValueException, SearchRequest, UniquenessException

from scim.protocol.extensions import CustomAttributes, declare
from scim.resources.users import UserService
from scim.store import TableStorage

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CUSTOM = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def declarations() -> CustomAttributes:
    declared = declare((), f"{CUSTOM}:employeeLevel", type_="string", unique=True)
    declared = declare(declared, f"{CUSTOM}:isContractor", type_="boolean")
    declared = declare(declared, f"{CUSTOM}:grade", type_="integer")
    return declare(declared, f"{ENTERPRISE}:badge", type_="string")


@pytest.fixture
def users(storage: TableStorage) -> UserService:
    declared = declarations()
    return UserService(storage.resources("Users"), declarations=lambda tenant: declared if tenant != "plain" else ())


def body(name: str = "ada@contoso.com", **extension: Any) -> dict[str, Any]:
    return {
        "schemas": [USER, CUSTOM],
        "userName": name,
        "emails": [{"type": "work", "value": name}],
        CUSTOM: extension,
    }


def dumped(user: Any) -> dict[str, Any]:
    """The extension's object as a response carries it."""
    return dict(user.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE).get(CUSTOM) or {})


def test_create_stores_typed_values_and_true_strings(users: UserService, tenant: str) -> None:
    user = users.create(tenant, body(employeeLevel="L3", isContractor="True", grade=4))
    again = users.get(tenant, str(user.id))
    assert dumped(again) == {"employeeLevel": "L3", "isContractor": True, "grade": 4}


def test_a_value_of_the_wrong_type_names_value_and_attribute(users: UserService, tenant: str) -> None:
    with pytest.raises(InvalidValueException) as refused:
        users.create(tenant, body(grade="L3"))
    assert "grade" in str(refused.value.detail) and "L3" in str(refused.value.detail)


def test_patch_both_dialects(users: UserService, tenant: str) -> None:
    user = users.create(tenant, body(employeeLevel="L3"))
    default = {"op": "Replace", "path": f"{CUSTOM}:employeeLevel", "value": "L4"}
    users.patch(tenant, str(user.id), {"schemas": [PATCH], "Operations": [default]})
    flagged = {"op": "replace", "value": {f"{CUSTOM}:isContractor": "False", f"{CUSTOM}:grade": 7}}
    patched = users.patch(tenant, str(user.id), {"schemas": [PATCH], "Operations": [flagged]})
    assert dumped(patched) == {"employeeLevel": "L4", "isContractor": False, "grade": 7}


def test_undeclared_attribute_is_refused_with_the_command(users: UserService, tenant: str) -> None:
    with pytest.raises(InvalidValueException) as refused:
        users.create(tenant, body(costUnit="X"))
    assert f"scim-admin tenant attributes {tenant} add {CUSTOM}:costUnit" in str(refused.value.detail)
    user = users.create(tenant, body(employeeLevel="L1"))
    op = {"op": "Add", "path": f"{CUSTOM}:costUnit", "value": "X"}
    with pytest.raises(InvalidPathException) as refused_path:
        users.patch(tenant, str(user.id), {"schemas": [PATCH], "Operations": [op]})
    assert "scim-admin tenant attributes" in str(refused_path.value.detail)


def test_unique_attribute_is_indexed(users: UserService, tenant: str) -> None:
    users.create(tenant, body("a@contoso.com", employeeLevel="L3"))
    with pytest.raises(UniquenessException):
        users.create(tenant, body("b@contoso.com", employeeLevel="l3"))
    query = SearchRequest[users.model_for(tenant)](filter=f'{CUSTOM}:employeeLevel eq "L3"')  # type: ignore[misc]
    page = users.search(tenant, query, 1, 10)
    assert [u.user_name for u in page.resources] == ["a@contoso.com"]


def test_datetime_values_are_stored_and_typed(storage: TableStorage, tenant: str) -> None:
    declared = declare((), f"{CUSTOM}:hiredOn", type_="dateTime")
    users = UserService(storage.resources("Users"), declarations=lambda tenant: declared)
    user = users.create(tenant, body(hiredOn="2024-05-01T10:00:00Z"))
    assert dumped(users.get(tenant, str(user.id))) == {"hiredOn": "2024-05-01T10:00:00Z"}
    with pytest.raises(InvalidValueException) as refused:
        users.create(tenant, body("b@contoso.com", hiredOn="yesterday"))
    assert "hiredOn" in str(refused.value.detail) and "yesterday" in str(refused.value.detail)


def test_enterprise_custom_attribute_beside_the_standard_ones(users: UserService, tenant: str) -> None:
    created = users.create(
        tenant,
        {
            "schemas": [USER, ENTERPRISE],
            "userName": "ent@contoso.com",
            "emails": [{"type": "work", "value": "ent@contoso.com"}],
            ENTERPRISE: {"department": "R&D", "badge": "B-7"},
        },
    )
    answered = created.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)[ENTERPRISE]
    assert answered == {"department": "R&D", "badge": "B-7"}


def test_another_tenants_declaration_changes_nothing_here(users: UserService, tenant: str) -> None:
    # The fixture's service declares the attributes for every tenant but "plain".
    with pytest.raises(InvalidValueException) as refused:
        users.create("plain", body(employeeLevel="L3"))
    assert "scim-admin tenant attributes plain add" in str(refused.value.detail)
    assert users.model_for("plain").get_extension_models().keys() == {ENTERPRISE}


def test_a_failed_patch_stores_nothing(users: UserService, tenant: str) -> None:
    user = users.create(tenant, body(employeeLevel="L3", grade=1))
    before = users.table.get(tenant, str(user.id))
    ops = [
        {"op": "replace", "path": f"{CUSTOM}:employeeLevel", "value": "L9"},
        {"op": "replace", "path": f"{CUSTOM}:grade", "value": "L3"},
    ]
    with pytest.raises(InvalidValueException) as refused:
        users.patch(tenant, str(user.id), {"schemas": [PATCH], "Operations": ops})
    assert "grade" in str(refused.value.detail) and "L3" in str(refused.value.detail)
    after = users.table.get(tenant, str(user.id))
    assert before is not None and after is not None and after.etag == before.etag


def test_unique_eq_filter_is_planned_on_the_index(users: UserService, tenant: str) -> None:
    from scim.resources.users import plan_search

    model = users.model_for(tenant)
    query = SearchRequest[model](filter=f'{CUSTOM}:employeeLevel eq "L3"')  # type: ignore[valid-type]
    plan = plan_search(query.filter.ast, model)  # type: ignore[union-attr]
    assert plan is not None and not isinstance(plan, str)
    query = SearchRequest[model](filter=f"{CUSTOM}:grade eq 3")  # type: ignore[valid-type]
    assert plan_search(query.filter.ast, model) is None  # type: ignore[union-attr]  # not unique: scanned
