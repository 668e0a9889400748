"""Which filters are answered by an index lookup instead of a partition scan."""

import pytest
from scim2_models import ScimFilter

from scim.models import UserResource
from scim.resources.users import plan_search as _plan
from scim.store import IndexEntry


def plan_for(expression: str):  # type: ignore[no-untyped-def]
    return _plan(ScimFilter[UserResource](expression).ast)


def test_username_uses_the_unique_index_case_insensitively() -> None:
    plan = plan_for('userName eq "Alice@Contoso.com"')
    assert isinstance(plan, tuple) and len(plan) == 1  # its legacy key is the same row
    assert (plan[0].attribute, plan[0].value_key, plan[0].unique) == ("userName", "alice@contoso.com", True)


def test_username_whose_legacy_key_differs_reads_both_rows() -> None:
    plan = plan_for('userName eq "Stra\u00dfe"')
    assert isinstance(plan, tuple)
    assert [(entry.attribute, entry.value_key, entry.unique) for entry in plan] == [
        ("userName", "strasse", True),
        ("userName", "stra\u00dfe", True),
    ]


def test_external_id_is_case_exact_and_not_unique() -> None:
    plan = plan_for('externalId eq "AbC"')
    assert isinstance(plan, IndexEntry)
    assert (plan.attribute, plan.value_key, plan.unique) == ("externalId", "AbC", False)


def test_entra_work_email_filter_uses_the_email_index() -> None:
    plan = plan_for('emails[type eq "work"].value eq "A@b.c"')
    assert isinstance(plan, IndexEntry)
    assert (plan.attribute, plan.value_key) == ("workEmail", "a@b.c")


def test_id_is_a_point_read() -> None:
    plan = plan_for('id eq "0123"')
    assert plan == "0123"


def test_and_picks_an_indexed_term() -> None:
    plan = plan_for('active eq true and userName eq "bob"')
    assert isinstance(plan, tuple) and plan[0].attribute == "userName"


@pytest.mark.parametrize(
    "expression",
    [
        'displayName eq "x"',
        'userName sw "a"',
        'userName eq "a" or userName eq "b"',
        'emails[type eq "home"].value eq "x@y.z"',
    ],
)
def test_other_filters_fall_back_to_a_scan(expression: str) -> None:
    assert plan_for(expression) is None
