"""Group PATCH operations on ``members``, read in both of Entra's dialects into membership changes.

scim2-models would apply them to a member list held in the group; we never hold that list (a group may have
100,000 members), so the operations become changes to membership rows instead (scim.store.membership):

- ``add`` (any case) with ``path: "members"`` or a path-less ``{"members": [...]}``: add those users;
- ``remove`` with ``path: "members"`` and a ``value`` list (Entra's default dialect): remove only those;
- ``remove`` with ``path: 'members[value eq "id"]'`` (the flag dialect): remove that one;
- ``remove`` with ``path: "members"`` and no value: remove every member (RFC 7644 §3.5.2.2);
- ``replace`` with ``path: "members"`` or path-less: the value becomes the whole member list.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sized
from dataclasses import dataclass, field
from typing import Any, Literal

from scim2_models import InvalidPathException, InvalidValueException, PayloadTooLargeException

from scim.protocol.documents import plausible_id
from scim.protocol.expressions import check_path

MAX_MEMBER_VALUES = 1000
"""Member values one PATCH may carry in all, and members a POST or PUT may carry; Entra sends far fewer.
Each is checked with a point read. Documented in the README."""

_VALUE_FILTER = re.compile(r'^\s*members\s*\[\s*value\s+eq\s+"([^"]*)"\s*\]\s*$', re.IGNORECASE)

Action = Literal["add", "remove", "remove_all", "replace"]


@dataclass
class MemberChange:
    """One membership change, in request order."""

    action: Action
    user_ids: list[str] = field(default_factory=list)
    displays: dict[str, str] = field(default_factory=dict)


@dataclass
class GroupPatch:
    """A group PATCH split in two: operations on the group's own attributes, and membership changes."""

    attribute_operations: list[dict[str, Any]]
    member_changes: list[MemberChange]

    @property
    def member_ids(self) -> set[str]:
        return {uid for change in self.member_changes if change.action != "remove" for uid in change.user_ids}


def _is_members(path: object) -> bool:
    return isinstance(path, str) and path.strip().lower() == "members"


def member_ids(value: Any, tenant: str, *, allow_empty: bool = False) -> list[str]:
    """The user ids of a members value (a list of ``{"value": id, "$ref": …}``), checked for shape and tenant."""
    return [uid for uid, _display in members_of(value, tenant, allow_empty=allow_empty)]


def members_of(value: Any, tenant: str, *, allow_empty: bool = False) -> list[tuple[str, str | None]]:
    """(id, display) of each entry of a members value, checked for shape and tenant."""
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or (not value and not allow_empty):
        raise InvalidValueException(detail='\'members\' takes a non-empty list of {"value": "<user id>"} objects')
    ids: list[tuple[str, str | None]] = []
    for entry in value:
        lowered = {str(k).lower(): v for k, v in entry.items()} if isinstance(entry, dict) else {}
        member = lowered.get("value")
        if not isinstance(member, str):
            raise InvalidValueException(detail=f"A member's 'value' must be a user id string, not {member!r}")
        ref = lowered.get("$ref")
        if isinstance(ref, str) and ref and f"/{tenant}/Users/{member}" not in ref:
            raise InvalidValueException(detail=f"Member {member!r} has a $ref outside this tenant's /Users: {ref!r}")
        display = lowered.get("display")
        ids.append((member, display if isinstance(display, str) else None))
    return ids


def split_group_patch(payload: dict[str, Any], tenant: str) -> GroupPatch:
    """Separate membership operations from attribute operations; bad member values fail the whole PATCH."""
    operations = payload.get("Operations")
    attribute_operations: list[dict[str, Any]] = []
    changes: list[MemberChange] = []
    values = 0
    for operation in operations if isinstance(operations, list) else []:
        if not isinstance(operation, dict):
            attribute_operations.append(operation)
            continue
        kind = str(operation.get("op", "")).strip().lower()
        path = operation.get("path")
        value = operation.get("value")
        if isinstance(path, str):
            check_path(path)
        if path is None and isinstance(value, dict) and any(_is_members(key) for key in value):
            rest = {key: val for key, val in value.items() if not _is_members(key)}
            members = next(val for key, val in value.items() if _is_members(key))
            if rest:
                attribute_operations.append({**operation, "value": rest})
            change = _change(kind, "members", members, tenant)
        elif _is_members(path):
            change = _change(kind, "members", value, tenant, has_value="value" in operation)
        elif isinstance(path, str) and path.strip().lower().startswith("members"):
            match = _VALUE_FILTER.match(path)
            if kind != "remove" or match is None:
                raise InvalidPathException(
                    detail=f"The path {path!r} is not supported: members change as whole entries "
                    '("members", or members[value eq "<id>"] to remove one)'
                )
            change = MemberChange("remove", [match.group(1)])
        else:
            attribute_operations.append(operation)
            continue
        values += len(change.user_ids)
        if values > MAX_MEMBER_VALUES:
            raise PayloadTooLargeException(
                detail=f"A PATCH may change at most {MAX_MEMBER_VALUES} members; send the rest in further requests"
            )
        changes.append(change)
    return GroupPatch(attribute_operations, changes)


def _change(kind: str, path: str, value: Any, tenant: str, *, has_value: bool = True) -> MemberChange:
    if kind in ("add", "replace"):
        members = members_of(value, tenant, allow_empty=kind == "replace")
        shown = {uid: display for uid, display in members if display}
        return MemberChange("add" if kind == "add" else "replace", [uid for uid, _ in members], shown)
    if kind == "remove":
        if not has_value or value is None:
            return MemberChange("remove_all")
        return MemberChange("remove", member_ids(value, tenant))
    raise InvalidValueException(detail=f"Unknown PATCH op {kind!r} on {path}: use add, replace or remove")


def missing_member(user_ids: set[str], first_missing_user: Callable[[set[str]], str | None]) -> None:
    """400 naming a member id that is not a user of this tenant: one of another shape without a read, else
    the first (in id order) that first_missing_user finds absent."""
    malformed = sorted(uid for uid in user_ids if not plausible_id(uid))
    missing = malformed[0] if malformed else first_missing_user(user_ids)
    if missing is not None:
        raise InvalidValueException(detail=f"Member {missing!r} is not a user of this tenant")


def check_member_count(members: Sized) -> None:
    """413 for a POST or PUT of a group with more members than a PATCH may carry (each costs a point read)."""
    if len(members) > MAX_MEMBER_VALUES:
        raise PayloadTooLargeException(
            detail=f"A group may be created or replaced with at most {MAX_MEMBER_VALUES} members; it has "
            f"{len(members)}: add the others with PATCH requests of up to {MAX_MEMBER_VALUES} members each"
        )
