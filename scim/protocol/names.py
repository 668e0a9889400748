"""Names people read: the key two names are "the same" under, and the characters a name may not hold.

``identity_key`` is the one definition of when two userNames, or two group displayNames, are the same name:
uniqueness (the index rows a create or rename writes) and ``eq`` filters on those two attributes both use it,
and so do scim2-models' filter matching and sorting on them (``comparison_key``, SEARCH_POLICY's). The stored value
is never changed: the key is only ever compared or hashed.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import Any

from scim2_models import InvalidValueException, default_comparison_key

_IDENTITY_ATTRIBUTES = frozenset(
    {
        "urn:ietf:params:scim:schemas:core:2.0:user:username",
        "urn:ietf:params:scim:schemas:core:2.0:group:displayname",
    }
)
"""The attributes compared by identity_key: the two a tenant's resources are unique by (lower-cased URNs)."""

_IGNORABLE_OUTSIDE_CF = (
    (0x034F, 0x034F),  # COMBINING GRAPHEME JOINER
    (0x115F, 0x1160),  # HANGUL CHOSEONG / JUNGSEONG FILLER
    (0x17B4, 0x17B5),  # KHMER VOWEL INHERENT AQ, AA
    (0x180B, 0x180D),  # MONGOLIAN FREE VARIATION SELECTORS ONE..THREE
    (0x180F, 0x180F),  # MONGOLIAN FREE VARIATION SELECTOR FOUR
    (0x2065, 0x2065),  # reserved
    (0x3164, 0x3164),  # HANGUL FILLER
    (0xFE00, 0xFE0F),  # VARIATION SELECTORS 1..16
    (0xFFA0, 0xFFA0),  # HALFWIDTH HANGUL FILLER
    (0xFFF0, 0xFFF8),  # reserved
    (0xE0000, 0xE0FFF),  # tags' plane block: reserved, and VARIATION SELECTORS 17..256
)
"""Default_Ignorable_Code_Point characters (Unicode DerivedCoreProperties.txt) whose category is not Cf."""
_IGNORABLE = frozenset(chr(code) for low, high in _IGNORABLE_OUTSIDE_CF for code in range(low, high + 1))

_FOLD_ROUNDS = 4
"""Each round can only expose what the previous one composed; two rounds settle every string tried in tests."""


def _invisible(char: str) -> bool:
    """A character that shows nothing: category Cf (ZWSP, ZWJ, BOM, soft hyphen, bidi controls) or another
    Default_Ignorable_Code_Point (variation selectors, Hangul fillers, the combining grapheme joiner)."""
    return char in _IGNORABLE or unicodedata.category(char) == "Cf"


def _fold(text: str) -> str:
    visible = "".join(char for char in text if not _invisible(char))
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", visible).casefold())
    # "İ" (U+0130) case-folds to "i" + COMBINING DOT ABOVE; the dot adds nothing visible to an "i" (it is
    # soft-dotted), so the key takes Turkic folding's plain "i" (CaseFolding.txt, status T).
    folded = unicodedata.normalize("NFKC", folded.replace("i\u0307", "i"))
    return " ".join(folded.split())


def identity_key(value: str) -> str:
    """The key a userName or a group displayName is unique by and found by (``eq``): equal keys, same name.

    In order: invisible characters are removed (category Cf such as ZERO WIDTH SPACE U+200B, ZERO WIDTH
    JOINER, BOM and SOFT HYPHEN, and the other Default_Ignorable_Code_Points: variation selectors, Hangul
    fillers); NFKC (full-width ``admin`` (U+FF41...) is ``admin``, ``ﬁ`` is ``fi``, a no-break or ideographic space
    is a space); full Unicode case folding (``str.casefold``: ``ß`` is ``ss``, final and other sigma are one) and NFKC
    again; ``İ`` is ``i``; then whitespace is trimmed and every inner run of whitespace is collapsed to one
    space, because no one can tell ``Sales  Team`` from ``Sales Team`` on a page (HTML collapses them too).

    Letters of different scripts that look alike (Latin ``a`` and Cyrillic U+0430) stay different: folding them
    (UTS #39 skeletons) would merge names that are really different. Applying the key to its own result
    changes nothing, as scim2-models' comparison_key must.
    """
    if value.isascii():  # no invisible or compatibility character, and casefold is lower: the same key, faster
        return " ".join(value.lower().split())
    key = value
    for _ in range(_FOLD_ROUNDS):
        folded = _fold(key)
        if folded == key:
            break
        key = folded
    return key


def legacy_identity_key(value: str) -> str:
    """The key index rows were written under before identity_key: NFC, lower case, NFC (scim2-models'
    default_comparison_key for a caseExact=false attribute, frozen here so a library update cannot move it).

    Rows under it are still read (a look-up falls back to it) until `scim-admin tenant reindex` moves them.
    """
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", value).lower())


def comparison_key(binding: Any, value: str) -> str:
    """SEARCH_POLICY's comparison_key: identity_key for userName and group displayName, the default otherwise."""
    if str(getattr(binding, "urn", "")).lower() in _IDENTITY_ATTRIBUTES:
        return identity_key(value)
    return default_comparison_key(binding, value)


# -- control characters ---------------------------------------------------------------------------------------

USER_NAME_ATTRIBUTES = (
    ("userName", ("user_name",)),
    ("displayName", ("display_name",)),
    ("nickName", ("nick_name",)),
    ("name.formatted", ("name", "formatted")),
    ("name.familyName", ("name", "family_name")),
    ("name.givenName", ("name", "given_name")),
    ("name.middleName", ("name", "middle_name")),
    ("name.honorificPrefix", ("name", "honorific_prefix")),
    ("name.honorificSuffix", ("name", "honorific_suffix")),
    ("emails.value", ("emails", "value")),
)
"""A user's attributes that name it to people (and e-mail addresses): no control character may enter them.

They are what operators read: the change feed and activity records carry the userName, the operator pages
and CLI show names and addresses, and a control character in any of them is either a mistake or an attempt
at the reader's terminal (ESC sequences). RFC 5322 allows no control character in an address either. Other
strings (title, addresses, externalId, ...) are the tenant's data, stored as sent; what prints them escapes.
"""

GROUP_NAME_ATTRIBUTES = (("displayName", ("display_name",)),)
"""A group's attribute that names it to people."""


def _values(node: Any, fields: tuple[str, ...]) -> Iterator[str]:
    if node is None:
        return
    if isinstance(node, list):
        for item in node:
            yield from _values(item, fields)
        return
    if not fields:
        if isinstance(node, str):
            yield node
        return
    yield from _values(getattr(node, fields[0], None), fields[1:])


def _control_character(text: str) -> str | None:
    return next((char for char in text if unicodedata.category(char) == "Cc"), None)


def held_names(resource: Any, attributes: tuple[tuple[str, tuple[str, ...]], ...]) -> dict[str, frozenset[str]]:
    """The values of each name attribute a resource holds now: taken before a PATCH changes it in place, they
    are what refuse_control_characters' ``held`` leaves alone, without a deep copy of the whole resource."""
    return {attribute: frozenset(_values(resource, fields)) for attribute, fields in attributes}


def refuse_control_characters(
    resource: Any,
    attributes: tuple[tuple[str, tuple[str, ...]], ...],
    previous: Any = None,
    *,
    held: dict[str, frozenset[str]] | None = None,
) -> None:
    """400 invalidValue naming the attribute if a name holds a C0 or C1 control character (category Cc: U+0000
    to U+001F, U+007F to U+009F; tab and line breaks too, which no name needs).

    Only values the request writes are refused: a value ``previous`` (the stored resource) already holds, or
    ``held`` lists (held_names of it), is left alone, so a name stored before this rule never blocks an
    unrelated change such as disabling the user.
    """
    for attribute, fields in attributes:
        kept = held[attribute] if held is not None else set(_values(previous, fields))
        for value in _values(resource, fields):
            char = _control_character(value)
            if char is not None and value not in kept:
                raise InvalidValueException(
                    detail=f"'{attribute}' must not contain control characters (it holds U+{ord(char):04X})"
                )
