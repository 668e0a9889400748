"""Is a tenant's stored data consistent? The checks an operator runs (`scim-admin tenant check <id>`) and the
fault-injection tests run after every injected failure.

What must hold at every moment, whatever failed and whenever (scim.store writes each of these facts in one
entity-group transaction):
- every resource row's index rows exist and point back to it; every index row belongs to a resource that
  lists it (no orphan index row blocks a userName, no user is unfindable);
- a user's unique userName row, and a group's displayName row, is the one its stored name has under
  identity_key (scim.protocol.names), or under the legacy key of rows written before it (counted apart:
  `scim-admin tenant reindex` moves them);
- the counter row equals the counted resources: Total, and Active for users (a missing row is allowed: the
  store counts by a scan until the first write creates it);
- every membership is whole (its member row has its reverse row and the reverse) and both its ends exist;
- the member index (scim.store.user_entries) may differ from the users in two ways only, both counted apart
  and put right by `scim-admin tenant reindex`: a user without an entry (stored before the index, or whose
  delete stopped after its first step; it joins the index on its first membership), and an entry without its
  user (a create that failed after its first step, for an id no client was given). A membership of such an
  id is a violation like any membership of a non-user.

Multi-step operations (a user's delete leaves its groups first; a group's delete, create or large member
change runs in batches of 49) stop between steps in states that satisfy all of the above: a group with
part of its members, a user not yet deleted. Those are incomplete, not inconsistent, and Entra's retry
completes them; they are not reported.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from scim.resources.base import identity_entry, legacy_identity_entry
from scim.store import (
    COUNTER_ROW_KEY,
    TableStorage,
    attribute_index_prefix,
    is_counter_key,
    is_index_key,
    member_key,
    member_of_key,
    membership_of,
    resource_id_of,
    resource_key,
    user_entry_of,
)


@dataclass(frozen=True)
class Violation:
    """One inconsistency: which table, which row, and what is wrong (ids and row keys only, no values)."""

    table: str
    row_key: str
    problem: str


@dataclass
class CheckReport:
    tenant: str
    rows: dict[str, int] = field(default_factory=dict)
    resources: dict[str, int] = field(default_factory=dict)
    memberships: int = 0
    legacy_index_rows: dict[str, int] = field(default_factory=dict)
    """Unique name rows still under the legacy key: consistent, found by look-ups, moved by a reindex."""
    unindexed_users: int = 0
    """Users without a member-index entry: consistent, entered on their first membership or by a reindex."""
    orphan_entries: int = 0
    """Member-index entries without their user (a failed create's): harmless, removed by a reindex."""
    violations: list[Violation] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violations

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "ok": self.ok,
            "rows": self.rows,
            "resources": self.resources,
            "memberships": self.memberships,
            "legacyIndexRows": self.legacy_index_rows,
            "unindexedUsers": self.unindexed_users,
            "orphanEntries": self.orphan_entries,
            "violations": [{"table": v.table, "rowKey": v.row_key, "problem": v.problem} for v in self.violations],
        }


def _document(row: Mapping[str, Any]) -> dict[str, Any] | None:
    parts: list[str] = []
    n = 0
    while (chunk := row.get(f"Document{n}")) is not None:
        parts.append(str(chunk))
        n += 1
    try:
        document = json.loads("".join(parts))
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def _name_row(
    table: str, rid: str, document: Mapping[str, Any] | None, listed: set[str], identity: str
) -> tuple[list[Violation], bool]:
    """Is the resource's unique name row the one its name has (identity_key, or legacy: the bool)?"""
    held = {key for key in listed if key.startswith(attribute_index_prefix(identity))}
    value = document.get(identity) if document is not None else None
    if not isinstance(value, str) or not value:
        problem = f"lists {len(held)} {identity} index row(s) but has no {identity}"
        return ([Violation(table, resource_key(rid), problem)] if held else []), False
    current = identity_entry(identity, value).row_key(rid)
    legacy = legacy_identity_entry(identity, value)
    if held == {current}:
        return [], False
    if legacy is not None and held == {legacy.row_key(rid)}:
        return [], True
    expected = current if legacy is None else f"{current} (or the legacy {legacy.row_key(rid)})"
    problem = f"its {identity} index rows are {sorted(held)}, expected {expected}"
    return [Violation(table, resource_key(rid), problem)], False


def _listed_index_rows(row: Mapping[str, Any]) -> set[str] | None:
    try:
        listed = json.loads(row.get("IndexRows") or "[]")
    except ValueError:
        return None
    return {str(item) for item in listed} if isinstance(listed, list) else None


def check_table(
    table: str, rows: Iterable[Mapping[str, Any]], *, count_active: bool, identity: str | None = None
) -> tuple[list[Violation], int, int]:
    """Index rows and counter of one table's partition (and, given ``identity``, each resource's unique name row);
    returns the violations, the resources counted and the name rows still under the legacy key."""
    problems: list[Violation] = []
    resources: dict[str, set[str]] = {}
    index_rows: dict[str, str] = {}
    counter: Mapping[str, Any] | None = None
    active = legacy = 0
    for row in rows:
        key = str(row["RowKey"])
        rid = resource_id_of(key)
        if rid is not None:
            listed = _listed_index_rows(row)
            if listed is None:
                problems.append(Violation(table, key, "IndexRows is not a JSON list"))
            resources[rid] = listed or set()
            document = _document(row)
            active += not (document is not None and document.get("active") is False)
            if identity is not None:
                found, is_legacy = _name_row(table, rid, document, listed or set(), identity)
                problems += found
                legacy += is_legacy
        elif is_index_key(key):
            index_rows[key] = str(row.get("ResourceId", ""))
        elif is_counter_key(key):  # the counter shards (and an older counter row): their sums are the counts
            summed = dict(counter or {"Total": 0, "Active": 0})
            for column in ("Total", "Active"):
                summed[column] = int(summed[column]) + int(row.get(column) or 0)
            counter = summed
    problems += _check_listed(table, resources, index_rows)
    for index_key, owner in sorted(index_rows.items()):
        if owner not in resources:
            problems.append(Violation(table, index_key, f"orphan index row: resource {owner} does not exist"))
        elif index_key not in resources[owner]:
            problems.append(Violation(table, index_key, f"resource {owner} does not list this index row"))
    if counter is not None:
        problems += _check_counter(table, counter, len(resources), active if count_active else None)
    return problems, len(resources), legacy


def _check_listed(table: str, resources: Mapping[str, set[str]], index_rows: Mapping[str, str]) -> list[Violation]:
    problems = []
    for rid, listed in resources.items():
        for index_key in sorted(listed):
            owner = index_rows.get(index_key)
            if owner is None:
                problems.append(Violation(table, resource_key(rid), f"index row {index_key} is missing"))
            elif owner != rid:
                problems.append(Violation(table, resource_key(rid), f"index row {index_key} points to {owner}"))
    return problems


def _check_counter(table: str, counter: Mapping[str, Any], total: int, active: int | None) -> list[Violation]:
    problems = []
    if int(counter.get("Total", -1)) != total:
        problems.append(
            Violation(table, COUNTER_ROW_KEY, f"Total is {counter.get('Total')}, {total} resources are stored")
        )
    if active is not None and int(counter.get("Active", -1)) != active:
        problems.append(Violation(table, COUNTER_ROW_KEY, f"Active is {counter.get('Active')}, {active} are active"))
    return problems


def check_memberships(
    group_rows: Iterable[Mapping[str, Any]], group_ids: set[str], user_ids: set[str]
) -> tuple[list[Violation], int]:
    """Both rows of every membership pair, and both of its ends."""
    problems: list[Violation] = []
    forward: set[tuple[str, str]] = set()
    reverse: set[tuple[str, str]] = set()
    for row in group_rows:
        pair = membership_of(str(row["RowKey"]))
        if pair is None:
            continue
        is_forward, group_id, user_id = pair
        (forward if is_forward else reverse).add((group_id, user_id))
    for group_id, user_id in sorted(forward - reverse):
        problems.append(Violation("Groups", member_key(group_id, user_id), "half membership: reverse row missing"))
    for group_id, user_id in sorted(reverse - forward):
        problems.append(Violation("Groups", member_of_key(user_id, group_id), "half membership: member row missing"))
    for group_id, user_id in sorted(forward | reverse):
        if group_id not in group_ids:
            problems.append(Violation("Groups", member_key(group_id, user_id), f"group {group_id} does not exist"))
        if user_id not in user_ids:
            problems.append(Violation("Groups", member_key(group_id, user_id), f"member {user_id} does not exist"))
    return problems, len(forward & reverse)


def check_tenant(storage: TableStorage, tenant: str) -> CheckReport:
    """Read the tenant's Users and Groups partitions once and check every invariant above."""
    report = CheckReport(tenant)
    users = list(storage.resources("Users").rows(tenant))
    groups = list(storage.resources("Groups").rows(tenant))
    report.rows = {"Users": len(users), "Groups": len(groups)}
    user_problems, report.resources["Users"], legacy_users = check_table(
        "Users", users, count_active=True, identity="userName"
    )
    group_problems, report.resources["Groups"], legacy_groups = check_table(
        "Groups", groups, count_active=False, identity="displayName"
    )
    report.legacy_index_rows = {"Users": legacy_users, "Groups": legacy_groups}
    user_ids = _resource_ids(users)
    group_ids = _resource_ids(groups)
    member_problems, report.memberships = check_memberships(groups, group_ids, user_ids)
    report.unindexed_users, report.orphan_entries = count_user_entries(groups, user_ids)
    report.violations = user_problems + group_problems + member_problems
    return report


def count_user_entries(group_rows: Iterable[Mapping[str, Any]], user_ids: set[str]) -> tuple[int, int]:
    """Users without a member-index entry, and entries without their user."""
    entered = {uid for row in group_rows if (uid := user_entry_of(str(row["RowKey"]))) is not None}
    return len(user_ids - entered), len(entered - user_ids)


def _resource_ids(rows: Iterable[Mapping[str, Any]]) -> set[str]:
    return {rid for row in rows if (rid := resource_id_of(str(row["RowKey"]))) is not None}
