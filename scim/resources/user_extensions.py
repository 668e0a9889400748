"""A tenant's custom attributes on its users: refusing an undeclared one, and the unique ones' index rows.

An extension attribute the tenant has not declared is never dropped in silence (Entra would believe it
stored): a create or replace body carrying a value for one answers 400 invalidValue, a PATCH naming one 400
invalidPath, both naming the attribute and the operator's command that declares it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from scim2_models import InvalidValueException, Path, Resource, default_comparison_key
from scim2_models.path import CompareOperator, Comparison, FilterNode

from scim.models import USER_SCHEMA, declarations_of
from scim.protocol.custom_values import changed_values
from scim.protocol.expressions import MAX_FILTER_CHARS
from scim.protocol.extensions import INT64, CustomAttribute, CustomAttributes, undeclared_detail
from scim.store import IndexEntry

_FILTER_URN = re.compile(r"urn:[A-Za-z0-9._:-]+", re.IGNORECASE)

INDEX_PREFIX = "x:"
"""Index rows of custom attributes are named x:<urn>:<name> (lower case): never a core attribute's name."""


def _attributes(extension: type[Resource[Any]] | type[Any]) -> set[str]:
    """The attribute names an extension model holds, lower-cased (SCIM names ignore case, RFC 7643 §2.1)."""
    names = set()
    for field_name, info in extension.model_fields.items():
        names.add((info.serialization_alias or info.alias or field_name).lower())
        names.add(field_name.replace("_", "").lower())
    return names


def refuse_undeclared(tenant: str, body: Mapping[str, Any], model: type[Resource[Any]]) -> None:
    """400 invalidValue for a create/replace body's value of an extension attribute the model does not hold."""
    extensions = {urn.lower(): _attributes(ext) for urn, ext in model.get_extension_models().items()}
    for key, value in body.items():
        if not isinstance(key, str) or not key.lower().startswith("urn:") or value is None:
            continue
        if key.lower() == USER_SCHEMA.lower():
            continue
        known = extensions.get(key.lower())
        if not isinstance(value, Mapping):
            if known is None:
                raise InvalidValueException(detail=undeclared_detail(tenant, key))
            continue
        for name, sub_value in value.items():
            if sub_value is not None and (known is None or str(name).lower() not in known):
                raise InvalidValueException(detail=undeclared_detail(tenant, f"{key}:{name}"))


def _is_datetime(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return True


_FITS = {
    "string": lambda value: isinstance(value, str),
    # Entra sends "True"/"False" strings for booleans (shared/entra-behaviour.md §3).
    "boolean": lambda value: isinstance(value, bool) or (isinstance(value, str) and value.lower() in ("true", "false")),
    "integer": lambda value: (
        (isinstance(value, int) and not isinstance(value, bool))
        or (isinstance(value, str) and value.strip().lstrip("+-").isdigit())
    ),
    "dateTime": _is_datetime,
}


def _fits(declared: CustomAttribute, value: Any) -> bool:
    """Whether a value can be read as the declared type (None: no value, always fits)."""
    return value is None or bool(_FITS[declared.type](value))


def _type_error(declared: CustomAttribute, value: Any) -> InvalidValueException:
    shown = value if not isinstance(value, str) or len(value) <= 100 else value[:100] + "…"
    return InvalidValueException(detail=f"{declared.path} holds a {declared.type}; {shown!r} is not one")


def check_types(body: Mapping[str, Any], declarations: CustomAttributes) -> None:
    """400 invalidValue naming the attribute and the value, for a create/replace body's value of a declared
    attribute that is not of its type (scim2-models would name the attribute only)."""
    for key, value in body.items():
        if not isinstance(key, str) or not isinstance(value, Mapping):
            continue
        for declared in declarations:
            if declared.schema.lower() != key.lower():
                continue
            for name, item in value.items():
                if str(name).lower() == declared.name.lower() and not _fits(declared, item):
                    raise _type_error(declared, item)


def check_patch_types(payload: Any, declarations: CustomAttributes) -> None:
    """The same for a PATCH: an operation whose path, or a path-less value's key, is a declared attribute."""
    if not declarations or not isinstance(payload, Mapping) or not isinstance(payload.get("Operations"), list):
        return
    by_path = {declared.path.lower(): declared for declared in declarations}
    for operation in payload["Operations"]:
        if not isinstance(operation, Mapping):
            continue
        path, value = operation.get("path"), operation.get("value")
        if isinstance(path, str) and (declared := by_path.get(path.lower())) is not None:
            if not _fits(declared, value):
                raise _type_error(declared, value)
        elif isinstance(path, str) and isinstance(value, Mapping):
            check_types({path: value}, declarations)
        elif path is None and isinstance(value, Mapping):
            check_types(value, declarations)
            for key, item in value.items():
                declared = by_path.get(str(key).lower())
                if declared is not None and not _fits(declared, item):
                    raise _type_error(declared, item)


def undeclared_path(tenant: str) -> Any:
    """PatchPlan's wording of a path that names nothing: for an extension URN path, the declare hint."""

    def describe(path: str) -> str | None:
        lowered = path.lower()
        if lowered.startswith("urn:") and not lowered.startswith(USER_SCHEMA.lower()):
            return undeclared_detail(tenant, path.split("[", 1)[0])
        return None

    return describe


def undeclared_in_filter(tenant: str, expression: str, model: type[Resource[Any]]) -> str | None:
    """The refusal's words for a filter (already refused as invalidFilter) that names an extension attribute
    the tenant has not declared; None if it names none."""
    for found in _FILTER_URN.findall(expression[:MAX_FILTER_CHARS]):
        path = found.rstrip(":")
        if path.lower().startswith(USER_SCHEMA.lower()) or ":" not in path[4:]:
            continue
        try:
            resolved = Path[model](path).resolve()  # type: ignore[valid-type]
        except Exception:  # anything that does not resolve is what is looked for
            resolved = None
        if resolved is None:
            return undeclared_detail(tenant, path)
    return None


def record_summary(user: Resource[Any], before: Mapping[str, Any], after: Mapping[str, Any]) -> str | None:
    """The change record's summary (scim.protocol.custom_values) of the tenant's declared attributes a write of
    ``user`` sets, from the stored document ``before`` (``{}`` for a create) to ``after``; None for none."""
    declarations = declarations_of(type(user))
    values = changed_values(declarations, before, after) if declarations else None
    return values.encode() if values is not None else None


def check_values(user: Resource[Any]) -> None:
    """400 invalidValue for an integer outside 64 bits (what the index and every consumer can hold)."""
    for declared in declarations_of(type(user)):
        value = user[declared.path] if declared.type == "integer" else None
        if isinstance(value, int) and not INT64[0] <= value <= INT64[1]:
            raise InvalidValueException(detail=f"{declared.path} is an integer of 64 bits; {value} is out of range")


def _binding(model: type[Resource[Any]], declared: CustomAttribute) -> Any:
    return Path[model](declared.path).resolve()  # type: ignore[valid-type]


def value_key(model: type[Resource[Any]], declared: CustomAttribute, value: Any) -> str | None:
    """The normalised text a unique attribute's value is indexed by; None for a value it cannot hold."""
    if declared.type == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return None
        return str(value)
    if isinstance(value, datetime) or not isinstance(value, str):
        return None
    return default_comparison_key(_binding(model, declared), value)


def index_name(declared: CustomAttribute) -> str:
    return f"{INDEX_PREFIX}{declared.path.lower()}"


def custom_indexes(user: Resource[Any]) -> list[IndexEntry]:
    """The unique index rows of a user's declared --unique attributes that hold a value."""
    entries = []
    for declared in declarations_of(type(user)):
        if not declared.unique:
            continue
        key = value_key(type(user), declared, user[declared.path])
        if key is not None:
            entries.append(IndexEntry(index_name(declared), key, True))
    return entries


def custom_lookup(term: FilterNode, model: type[Resource[Any]], declarations: CustomAttributes) -> IndexEntry | None:
    """The index entry of an ``<urn>:<name> eq value`` term on a unique declared attribute, else None."""
    if not isinstance(term, Comparison) or term.op != CompareOperator.eq:
        return None
    path = term.attr_path
    if path.uri is None or path.sub_attr is not None:
        return None
    for declared in declarations:
        if (
            declared.unique
            and declared.schema.lower() == path.uri.lower()
            and declared.name.lower() == path.attr.lower()
        ):
            key = value_key(model, declared, term.value)
            return IndexEntry(index_name(declared), key, True) if key is not None else None
    return None
