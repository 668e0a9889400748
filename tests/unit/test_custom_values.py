"""The change record's summary of the declared custom attributes a write set (scim.protocol.custom_values):
only declared attributes, only those changed, bounded, and escaped in its text."""

from __future__ import annotations

import json

from scim.protocol.custom_values import MAX_SUMMARY_CHARS, MAX_VALUE_CHARS, CustomValues, changed_values, decode
from scim.protocol.extensions import ENTERPRISE_USER_SCHEMA, declare

CUSTOM = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"
OTHER = "urn:ietf:params:scim:schemas:extension:Other:2.0:User"

DECLARED = declare(declare((), f"{CUSTOM}:employeeLevel", type_="string"), f"{CUSTOM}:grade", type_="integer")


def test_a_create_shows_the_declared_values_it_holds_and_nothing_else() -> None:
    document = {
        "userName": "ada@contoso.com",
        "displayName": "Ada",
        CUSTOM.lower(): {"EmployeeLevel": "L3", "grade": 42},
        ENTERPRISE_USER_SCHEMA: {"department": "Research", "manager": {"value": "x"}},
    }
    values = changed_values(DECLARED, {}, document)
    assert values is not None
    assert values.as_json() == {"employeeLevel": "L3", "grade": 42}
    assert values.as_text() == 'employeeLevel="L3", grade=42'
    assert decode(values.encode()) == values


def test_an_update_shows_what_changed_and_a_removal_as_null() -> None:
    before = {CUSTOM: {"employeeLevel": "L3", "grade": 42}}
    assert changed_values(DECLARED, before, {CUSTOM: {"employeeLevel": "L3", "grade": 42}, "title": "x"}) is None
    values = changed_values(DECLARED, before, {CUSTOM: {"grade": 43}})
    assert values is not None and values.as_json() == {"employeeLevel": None, "grade": 43}
    assert values.as_text() == "employeeLevel=null, grade=43"
    assert changed_values((), {}, {CUSTOM: {"grade": 1}}) is None  # undeclared: never summarised


def test_a_name_declared_in_two_extensions_is_shown_by_its_urn() -> None:
    both = declare(DECLARED, f"{OTHER}:grade", type_="string")
    values = changed_values(both, {}, {CUSTOM: {"grade": 1}, OTHER: {"grade": "A"}})
    assert values is not None
    assert values.as_json() == {f"{CUSTOM}:grade": 1, f"{OTHER}:grade": "A"}


def test_values_and_the_whole_are_bounded_and_the_rest_counted() -> None:
    many = ()
    for n in range(100):
        many = declare(many, f"{CUSTOM}:attribute{n:03d}", type_="string")
    document = {CUSTOM: {f"attribute{n:03d}": "v" * 500 for n in range(100)}}
    values = changed_values(many, {}, document)
    assert values is not None and values.omitted > 0
    assert len(values.values) + values.omitted == 100
    assert all(isinstance(v, str) and len(v) == MAX_VALUE_CHARS and v.endswith("…") for _, v in values.values)
    assert len(values.encode()) <= MAX_SUMMARY_CHARS
    assert values.as_text().endswith(f", and {values.omitted} more")
    assert decode(values.encode()) == values


def test_the_text_escapes_control_bidirectional_and_invisible_characters() -> None:
    values = CustomValues((("employeeLevel", 'L3"\n\x1b[2J\x9b\u202e\u200b<b>'),))
    text = values.as_text()
    assert text == 'employeeLevel="L3\\"\\n\\u001b[2J\\x9b\\u202e\\u200b<b>"'
    assert all(ord(c) >= 0x20 and c not in "\x7f\u202e\u200b" for c in text)


def test_a_summary_this_module_did_not_write_reads_as_none() -> None:
    for text in (None, "", "not json", "[]", json.dumps({"v": "x"}), json.dumps({"v": [[1]]}), '{"v":[]}'):
        assert decode(text) is None
