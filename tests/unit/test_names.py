"""identity_key: when two userNames or group displayNames are the same name (scim.protocol.names)."""

from __future__ import annotations

import sys
import unicodedata

import pytest
from scim2_models import InvalidValueException, Path, ScimFilter, default_comparison_key

from scim.models import SEARCH_POLICY, GroupResource, UserResource
from scim.protocol.names import (
    USER_NAME_ATTRIBUTES,
    comparison_key,
    held_names,
    identity_key,
    legacy_identity_key,
    refuse_control_characters,
)

PAIRS = [
    ("admin", "\uff41\uff44\uff4d\uff49\uff4e"),
    ("strasse", "stra\u00dfe"),
    ("info", "\u0130nfo"),
    ("root", "ro\u200bot"),
    ("sys", "sys "),
]


@pytest.mark.parametrize(("first", "second"), PAIRS)
def test_the_reproduction_pairs_of_issue_19_are_one_name(first: str, second: str) -> None:
    assert identity_key(first) == identity_key(second) == first


@pytest.mark.parametrize(
    ("value", "key"),
    [
        ("ADMIN", "admin"),
        ("\u00a0 Sales \u3000\t Team\u2003", "sales team"),  # no-break, ideographic, em spaces; trimmed, collapsed
        ("so\u00adft", "soft"),  # soft hyphen
        ("a\u200db\ufeffc\u2060d", "abcd"),  # zero width joiner, BOM, word joiner
        ("e\u200b\u0301", "\u00e9"),  # an invisible between a letter and its accent: one composed letter
        ("\ufb01le", "file"),  # ligature
        ("\u2460", "1"),  # circled digit
        ("\u03a3\u039f\u03a3", "\u03c3\u03bf\u03c3"),  # final sigma folds like any sigma
        ("a\ufe0f", "a"),  # variation selector
        ("\u3164x", "x"),  # Hangul filler
    ],
)
def test_what_the_key_folds(value: str, key: str) -> None:
    assert identity_key(value) == key


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("admin", "\u0430dmin"),  # Cyrillic a: another script, another name
        ("jose", "jos\u00e9"),  # accents are letters
        ("ab", "a b"),  # an inner space is kept (one)
        ("i", "\u0131"),  # dotless i is a letter of its own
    ],
)
def test_what_it_keeps_apart(first: str, second: str) -> None:
    assert identity_key(first) != identity_key(second)


def test_the_key_of_a_key_is_itself_for_every_code_point() -> None:
    """scim2-models' comparison_key contract: a storage may keep the key and apply it again."""
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if 0xD800 <= code <= 0xDFFF or unicodedata.category(char) == "Cn":
            continue
        key = identity_key(char)
        assert identity_key(key) == key, hex(code)
        if key != char or unicodedata.combining(char):  # next to letters and marks, where composition happens
            for text in ("I" + char + "\u0307", "a" + char + "\u0301 "):
                key = identity_key(text)
                assert identity_key(key) == key, hex(code)


def test_the_legacy_key_is_what_scim2_models_default_gave_user_name() -> None:
    binding = Path[UserResource]("userName").resolve()
    for value in ["Alice", "STRAẞE", "\uff21DMIN", "\u0130nfo", "ro\u200bot", "sys ", "e\u0301", "\u212b"]:
        assert legacy_identity_key(value) == default_comparison_key(binding, value)


def test_the_policy_compares_only_the_two_unique_attributes_by_the_key() -> None:
    user_name = Path[UserResource]("userName").resolve()
    group_name = Path[GroupResource]("displayName").resolve()
    title = Path[UserResource]("title").resolve()
    assert comparison_key(user_name, "Stra\u00dfe") == comparison_key(group_name, "STRASSE") == "strasse"
    assert comparison_key(title, "Stra\u00dfe") == "stra\u00dfe"
    user = UserResource(user_name="\uff21dmin", title="\uff21")
    with SEARCH_POLICY:
        assert ScimFilter[UserResource]('userName eq "admin"').match(user)
        assert not ScimFilter[UserResource]('title eq "a"').match(user)


def test_control_characters_are_refused_only_where_written() -> None:
    user = UserResource(user_name="ada", name={"given_name": "A\u001b[2J"})
    with pytest.raises(InvalidValueException) as refused:
        refuse_control_characters(user, USER_NAME_ATTRIBUTES)
    assert refused.value.detail == "'name.givenName' must not contain control characters (it holds U+001B)"
    refuse_control_characters(user, USER_NAME_ATTRIBUTES, previous=user.model_copy(deep=True))
    refuse_control_characters(user, USER_NAME_ATTRIBUTES, held=held_names(user, USER_NAME_ATTRIBUTES))
    held = held_names(UserResource(user_name="ada"), USER_NAME_ATTRIBUTES)
    with pytest.raises(InvalidValueException):  # held: only the values the resource held before
        refuse_control_characters(user, USER_NAME_ATTRIBUTES, held=held)
    refuse_control_characters(UserResource(user_name="Ada Lovelace\u00a0\u200b"), USER_NAME_ATTRIBUTES)
