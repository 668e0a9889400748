"""Filters and PATCH paths: capped in length, and a lone surrogate in a quoted value refused once decoded."""

from __future__ import annotations

import pytest
from scim2_models import InvalidFilterException, InvalidPathException, InvalidValueException

from scim.api.query import list_query, search_request
from scim.models import ENTRA_POLICY, GroupResource, UserResource
from scim.protocol.expressions import MAX_FILTER_CHARS, MAX_PATH_CHARS, check_path
from scim.protocol.patch import PatchPlan
from scim.resources.group_members import split_group_patch
from tests.unit.linear import assert_linear

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def filter_error(expression: str) -> str:
    with pytest.raises(InvalidFilterException) as caught:
        list_query(UserResource, {"filter": expression})
    assert caught.value.status == 400 and caught.value.scim_type == "invalidFilter"
    return str(caught.value.detail)


@pytest.mark.parametrize(
    "expression",
    [
        'userName eq "\\ud800"',
        'externalId eq "\\udc00x"',
        'emails[value eq "\\udfff"]',
        'not (userName eq "a" or displayName co "\\ud800")',
        'name.givenName eq "\\ude00\\ud83d"',  # a pair in the wrong order is two lone surrogates
    ],
)
def test_a_filter_quoting_a_lone_surrogate_is_400(expression: str) -> None:
    assert "surrogate" in filter_error(expression)


def test_a_filter_quoting_a_surrogate_pair_is_text() -> None:
    query = list_query(UserResource, {"filter": 'userName eq "Zo\\u00eb \\ud83d\\ude00 \\"q\\""'})
    assert query.filter is not None


def test_a_search_body_filter_quoting_a_lone_surrogate_is_400() -> None:
    with pytest.raises(InvalidFilterException):
        search_request(GroupResource, {"filter": 'displayName eq "\\ud800"'})


def test_filters_longer_than_the_cap_are_400_before_parsing() -> None:
    at_cap = 'userName eq "' + "a" * (MAX_FILTER_CHARS - len('userName eq ""')) + '"'
    assert list_query(UserResource, {"filter": at_cap}).filter is not None
    assert f"at most {MAX_FILTER_CHARS}" in filter_error(at_cap[:-1] + 'a"')
    with pytest.raises(InvalidFilterException):
        search_request(UserResource, {"filter": "x" * (MAX_FILTER_CHARS + 1)})


def test_filter_checks_grow_linearly_up_to_the_cap() -> None:
    def run(n: int) -> None:
        assert list_query(UserResource, {"filter": 'userName eq "' + 'a\\"' * n + '"'}).filter is not None

    assert_linear(run, 300)  # 8 x 300 escapes: 7,214 characters, under the cap


def path_error(path: str) -> str:
    with pytest.raises(InvalidPathException) as caught:
        check_path(path)
    assert caught.value.status == 400 and caught.value.scim_type == "invalidPath"
    return str(caught.value.detail)


def test_a_path_quoting_a_lone_surrogate_is_400() -> None:
    assert "surrogate" in path_error('emails[type eq "\\ud800"].value')
    check_path('emails[type eq "\\ud83d\\ude00"].value')
    check_path("emails[type eq")  # a syntax error is the PATCH validation's to name


def test_paths_longer_than_the_cap_are_400() -> None:
    check_path("x" * MAX_PATH_CHARS)
    assert f"at most {MAX_PATH_CHARS}" in path_error("x" * (MAX_PATH_CHARS + 1))


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "add", "path": 'emails[type eq "\\ud800"].value', "value": "a@b.c"},
        {"op": "add", "value": {'emails[type eq "\\udbff"].value': "a@b.c"}},  # Entra's path-less form
        {"op": "replace", "path": "displayName" + " " * MAX_PATH_CHARS, "value": "x"},
    ],
)
def test_user_patch_paths_are_checked(operation: dict[str, object]) -> None:
    with pytest.raises(InvalidPathException):
        PatchPlan(
            UserResource, {"schemas": [PATCH_OP], "Operations": [operation]}, policy=ENTRA_POLICY, max_operations=100
        )


def test_group_member_paths_are_capped() -> None:
    path = 'members[value eq "' + "a" * MAX_PATH_CHARS + '"]'
    with pytest.raises(InvalidPathException):
        split_group_patch({"schemas": [PATCH_OP], "Operations": [{"op": "remove", "path": path}]}, "acme")


@pytest.mark.parametrize("raw", [",".join(["userName"] * 201), ["userName"] * 201])
def test_attribute_lists_are_capped(raw: object) -> None:
    assert search_request(UserResource, {"attributes": ",".join(["userName"] * 200)}) is not None
    with pytest.raises(InvalidValueException) as caught:
        search_request(UserResource, {"excludedAttributes": raw})
    assert caught.value.status == 400 and "at most 200" in str(caught.value.detail)
