"""What a user's write set of the tenant's declared custom attributes, as the operator's activity view shows it.

The change record of a user's write keeps a small summary of it (scim.store.ChangeDraft.summary, the record's
``Summary`` column), computed by the service that knows the tenant's declarations, so that the activity view,
which reads records without their documents, shows ``employeeLevel="L3", grade=42`` for no extra read. Only
declared attributes are summarised (never another attribute of the document), and only those the write
changed (a value it removed shows as null). The summary is bounded: a string value to `MAX_VALUE_CHARS`, the
whole to `MAX_SUMMARY_CHARS` (the attributes left out are counted).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scim.protocol.extensions import CustomAttribute

MAX_VALUE_CHARS = 64
"""A string value longer than this is cut (ending in an ellipsis) in the summary; the stored user keeps it whole."""
MAX_SUMMARY_CHARS = 1000
"""The summary's stored text at most; the attributes that do not fit are counted, not shown."""

Value = str | int | bool | None

_UNSAFE_RE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


@dataclass(frozen=True)
class CustomValues:
    """Declared attributes a write set, in declaration order: (name, value); ``omitted`` did not fit."""

    values: tuple[tuple[str, Value], ...]
    omitted: int = 0

    def as_json(self) -> dict[str, Value]:
        return dict(self.values)

    def as_text(self) -> str:
        """``employeeLevel="L3", grade=42, isContractor=true``: one line, every control, bidirectional or
        invisible character written as an escape (safe in a terminal and, HTML-escaped, in a page)."""
        shown = ", ".join(f"{name}={json.dumps(value, ensure_ascii=False)}" for name, value in self.values)
        if self.omitted:
            shown += f", and {self.omitted} more"
        return _UNSAFE_RE.sub(_escape, shown)

    def encode(self) -> str:
        """The record's Summary column."""
        body: dict[str, Any] = {"v": [list(pair) for pair in self.values]}
        if self.omitted:
            body["more"] = self.omitted
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def decode(text: str | None) -> CustomValues | None:
    """A record's Summary column back as values; None for none (or a text this module did not write)."""
    if not text:
        return None
    try:
        body = json.loads(text)
        values = tuple((str(name), _value(value)) for name, value in body["v"])
        omitted = int(body.get("more", 0))
    except (ValueError, TypeError, KeyError):
        return None
    return CustomValues(values, omitted) if values or omitted else None


def _value(value: Any) -> Value:
    if value is None or isinstance(value, bool | int):
        return value
    return str(value)


def _held(document: Mapping[str, Any], attribute: CustomAttribute) -> Value:
    """The document's value of a declared attribute (URN and name compared ignoring case), None for none."""
    for key, extension in document.items():
        if str(key).lower() == attribute.schema.lower() and isinstance(extension, Mapping):
            for name, value in extension.items():
                if str(name).lower() == attribute.name.lower():
                    return _value(value)
    return None


def _shown(value: Value) -> Value:
    if isinstance(value, str) and len(value) > MAX_VALUE_CHARS:
        return value[: MAX_VALUE_CHARS - 1] + "…"
    return value


def changed_values(
    declarations: Sequence[CustomAttribute], before: Mapping[str, Any], after: Mapping[str, Any]
) -> CustomValues | None:
    """The declared attributes whose value differs from ``before`` (``{}`` for a create) to ``after``, with their
    new value (None: removed), bounded; None when the write changed none of them."""
    names = [a.name.lower() for a in declarations]
    pairs: list[tuple[str, Value]] = []
    omitted = 0
    size = len('{"v":[],"more":100}')
    for attribute in declarations:
        old, new = _held(before, attribute), _held(after, attribute)
        if old == new and type(old) is type(new):
            continue
        # The short name, unless another declared attribute has it too (in another extension URN).
        name = attribute.name if names.count(attribute.name.lower()) == 1 else attribute.path
        pair = (name, _shown(new))
        cost = len(json.dumps(list(pair), ensure_ascii=False, separators=(",", ":"))) + 1
        if omitted or size + cost > MAX_SUMMARY_CHARS:
            omitted += 1
            continue
        size += cost
        pairs.append(pair)
    return CustomValues(tuple(pairs), omitted) if pairs or omitted else None
