"""What a tenant may declare as a custom attribute (scim.protocol.extensions), and how it is stored."""

from __future__ import annotations

import pytest

from scim.protocol.extensions import (
    ENTERPRISE_USER_SCHEMA,
    MAX_ATTRIBUTES,
    CustomAttribute,
    DeclarationError,
    declare,
    decode,
    encode,
    find,
    undeclared_detail,
)

CUSTOM = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"


def test_entras_example_is_declared_and_round_trips_through_storage() -> None:
    declared = declare((), f"{CUSTOM}:employeeLevel", type_="string", unique=True)
    assert declared == (CustomAttribute(CUSTOM, "employeeLevel", "string", False, True),)
    assert decode(encode(declared)) == declared
    assert find(declared, f"{CUSTOM.lower()}:EMPLOYEELEVEL") == declared[0]


@pytest.mark.parametrize(
    ("spec", "type_", "unique", "words"),
    [
        ("employeeLevel", "string", False, "<extension URN>:<name>"),
        (f"{CUSTOM}:employee-level", "string", False, "letters and digits"),
        (f"{CUSTOM}:level", "decimal", False, "one of string, boolean, integer, dateTime"),
        ("urn:ietf:params:scim:schemas:core:2.0:User:level", "string", False, "core schema"),
        (f"{ENTERPRISE_USER_SCHEMA}:department", "string", False, "standard attribute of the enterprise"),
        (f"{ENTERPRISE_USER_SCHEMA.upper()}:Manager", "string", False, "standard attribute of the enterprise"),
        (f"{CUSTOM}:schemas", "string", False, "reserved"),
        (f"{CUSTOM}:flag", "boolean", True, "only a string or an integer"),
        ("urn:bad/urn:name", "string", False, "<extension URN>:<name>"),
    ],
)
def test_refused_declarations_say_why(spec: str, type_: str, unique: bool, words: str) -> None:
    with pytest.raises(DeclarationError, match=words):
        declare((), spec, type_=type_, unique=unique)


def test_enterprise_extension_takes_new_names_only() -> None:
    declared = declare((), f"{ENTERPRISE_USER_SCHEMA.lower()}:badge", type_="string")
    assert declared[0].schema == ENTERPRISE_USER_SCHEMA


def test_a_name_is_declared_once_in_any_case_and_the_urn_keeps_one_spelling() -> None:
    declared = declare((), f"{CUSTOM}:level", type_="string")
    with pytest.raises(DeclarationError, match="already declared"):
        declare(declared, f"{CUSTOM}:LEVEL", type_="integer")
    with pytest.raises(DeclarationError, match="spells the extension"):
        declare(declared, f"{CUSTOM.lower()}:other", type_="string")


def test_at_most_max_attributes() -> None:
    declared: tuple[CustomAttribute, ...] = ()
    for number in range(MAX_ATTRIBUTES):
        declared = declare(declared, f"{CUSTOM}:a{number}", type_="string")
    with pytest.raises(DeclarationError, match=f"at most {MAX_ATTRIBUTES}"):
        declare(declared, f"{CUSTOM}:one", type_="string")


def test_the_refusal_names_the_attribute_and_the_command() -> None:
    detail = undeclared_detail("contoso", f"{CUSTOM}:employeeLevel")
    assert f"scim-admin tenant attributes contoso add {CUSTOM}:employeeLevel --type" in detail
    assert "nothing was stored" in detail
