"""Group use cases: Entra's group shapes, unique displayName, and membership in O(changes) at any group size."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from scim2_models import (
    Context,
    GroupMember,
    InvalidFilterException,
    InvalidValueException,
    NotFoundException,
    Path,
    PayloadTooLargeException,
    SearchRequest,
    default_comparison_key,
)
from scim2_models.path import Comparison, FilterNode, LogicalExpr, Not, Present, ValuePath

from scim.models import ENTRA_POLICY, GROUP_SCHEMA, SEARCH_POLICY, GroupResource
from scim.protocol.documents import require_object, require_schema, scim_error_from_validation
from scim.protocol.names import GROUP_NAME_ATTRIBUTES, identity_key, refuse_control_characters
from scim.protocol.patch import PatchPlan
from scim.protocol.search import SearchPage, comparison_terms, eq_string, filter_error
from scim.resources.base import ResourceService, identity_entry, identity_lookup
from scim.resources.group_members import (
    MemberChange,
    check_member_count,
    members_of,
    missing_member,
    split_group_patch,
)
from scim.resources.search import search
from scim.store import (
    CountChange,
    GroupGoneError,
    IndexEntry,
    MemberNotUserError,
    Memberships,
    ResourceTable,
    StoredResource,
)

MAX_DISPLAY_NAME = 256
"""Entra's own limit for a group's displayName."""
MAX_PATCH_OPERATIONS = 1000
PATCH_OP_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

_EXTERNAL_ID = Path[GroupResource]("externalId").resolve()


def _members_filter(node: FilterNode) -> str | None:
    """The user id of ``members[value eq "id"]`` or ``members.value eq "id"``, else None."""
    if isinstance(node, ValuePath) and node.attr_path.attr.lower() == "members" and node.sub_attr is None:
        terms = comparison_terms(node.val_filter)
        if len(terms) == 1 and isinstance(terms[0], Comparison) and terms[0].attr_path.attr.lower() == "value":
            return eq_string(terms[0], GROUP_SCHEMA, "value")
    is_members = isinstance(node, Comparison) and node.attr_path.attr.lower() == "members"
    if is_members and isinstance(node, Comparison) and (node.attr_path.sub_attr or "value").lower() == "value":
        return eq_string(node, GROUP_SCHEMA, "members", node.attr_path.sub_attr)
    return None


def _mentions_members(node: FilterNode) -> bool:
    if isinstance(node, (Comparison, Present, ValuePath)):
        return node.attr_path.attr.lower() == "members"
    if isinstance(node, LogicalExpr):
        return any(_mentions_members(term) for term in node.terms)
    if isinstance(node, Not):
        return _mentions_members(node.expr)
    return False


class GroupService(ResourceService[GroupResource]):
    """The Group resource type of one storage account; members live in rows of their own."""

    model_class = GroupResource
    resource_type = "Group"
    identity_attribute = "displayName"

    def __init__(self, table: ResourceTable, users: ResourceTable, **kwargs: Any) -> None:
        super().__init__(table, **kwargs)
        self._users = users
        self.memberships = Memberships(table)

    # -- rules and indexes ----------------------------------------------------------------------

    @staticmethod
    def indexes(group: GroupResource) -> list[IndexEntry]:
        """displayName is unique per tenant by identity_key (case too: Entra's rule); externalId is not unique."""
        entries = [identity_entry("displayName", str(group.display_name))]
        if group.external_id:
            entries.append(IndexEntry("externalId", default_comparison_key(_EXTERNAL_ID, group.external_id), False))
        return entries

    def identity_of(self, resource: GroupResource) -> str | None:
        return resource.display_name

    @staticmethod
    def _check_rules(group: GroupResource) -> None:
        name = group.display_name
        if not name or not identity_key(name):  # spaces and invisible characters alone are blank
            raise InvalidValueException(detail="displayName is required and must not be blank")
        if len(name) > MAX_DISPLAY_NAME:
            raise InvalidValueException(detail=f"displayName may have at most {MAX_DISPLAY_NAME} characters")

    def _parse(self, payload: Any, tenant: str, ctx: Context) -> tuple[GroupResource, MemberChange]:
        body = require_object(payload)
        members = members_of(body.get("members") or [], tenant, allow_empty=True)
        check_member_count(members)
        group = self.parse({k: v for k, v in body.items() if k.lower() != "members"}, ctx, GROUP_SCHEMA)
        self._check_rules(group)
        self._check_users(tenant, {uid for uid, _ in members})
        return group, MemberChange("add", [uid for uid, _ in members], {u: d for u, d in members if d})

    def _check_users(self, tenant: str, user_ids: set[str]) -> None:
        """400 unless every id is a user of the tenant: the member index, a call per 100 ids and no read."""
        if user_ids:
            missing_member(user_ids, lambda ids: self._first_missing_user(tenant, ids))

    def _first_missing_user(self, tenant: str, user_ids: set[str]) -> str | None:
        if self.memberships.first_unregistered(tenant, sorted(user_ids)) is None:
            return None
        return self._index_users(tenant, user_ids)

    def _index_users(self, tenant: str, user_ids: set[str]) -> str | None:
        """The first id that is not a user (the Users table's point reads), or None once all are in the member
        index: users stored before the index existed join it on their first membership."""
        missing = self._users.first_missing_id(tenant, user_ids)
        if missing is None:
            self.memberships.users.register(tenant, sorted(user_ids))
        return missing

    def with_members(self, tenant: str, group: GroupResource) -> GroupResource:
        """The group with its member list, paged from the membership rows."""
        shown = self.memberships.members_shown(tenant, str(group.id))
        group.members = [GroupMember(value=uid, type="User", ref=None, display=name) for uid, name in shown]
        return group

    def _apply_member_changes(
        self,
        tenant: str,
        group_id: str,
        changes: Sequence[MemberChange],
        name: str | None,
        *,
        unchecked: bool = False,
    ) -> None:
        """Membership changes in request order; each transaction is whole, a later one may fail (reported).

        ``name`` (the group's displayName) goes into the change records, for the operator's view. ``unchecked``:
        the members were not checked first, because they fit one transaction that checks them itself (and
        nothing was written before it); one missing from the member index is then looked up and indexed, or 400.
        """
        rows = self.memberships
        try:
            for change in changes:
                now = self._clock()
                if change.action in ("remove_all", "replace"):
                    rows.remove_all(tenant, group_id, now, name)
                if change.action in ("add", "replace") and change.user_ids:
                    rows.add(tenant, group_id, change.user_ids, now, change.displays, name=name)
                if change.action == "remove":
                    rows.remove(tenant, group_id, change.user_ids, now, name)
        except GroupGoneError as exc:
            raise NotFoundException(detail=f"Group {group_id} not found") from exc
        except MemberNotUserError as exc:
            if not unchecked:  # checked first, and the user deleted since
                raise InvalidValueException(detail=f"Member {exc.user_id!r} is not a user of this tenant") from exc
            missing_member({u for c in changes for u in c.user_ids}, lambda ids: self._index_users(tenant, ids))
            self._apply_member_changes(tenant, group_id, changes, name)

    # -- use cases ----------------------------------------------------------------------------

    def create(self, tenant: str, payload: Any) -> GroupResource:
        """POST /Groups: the group row first, then its members (any number) in transactions of 49."""
        group, members = self._parse(payload, tenant, Context.RESOURCE_CREATION_REQUEST)
        refuse_control_characters(group, GROUP_NAME_ATTRIBUTES)
        group_id = uuid.uuid4().hex
        doc, indexes, now = self.document(group), self.indexes(group), self._clock()
        guards = self.legacy_guards(group)
        name = self.record_name(doc)
        self.write(
            self._table.create,
            tenant,
            group_id,
            doc,
            indexes,
            now,
            change=CountChange(total=1),
            absent=guards,
            name=name,
        )
        if members.user_ids:
            self._apply_member_changes(tenant, group_id, [members], group.display_name)
        return self.with_members(tenant, self.model(self.read(tenant, group_id)))

    def get(self, tenant: str, group_id: str, *, members: bool) -> GroupResource:
        """GET /Groups/{id}: one point read, plus the member rows only when members are asked for."""
        group = self.model(self.read(tenant, group_id))
        return self.with_members(tenant, group) if members else group

    def replace(self, tenant: str, group_id: str, payload: Any, if_match: str | None = None) -> GroupResource:
        """PUT /Groups/{id}: attributes replaced, and the member list made equal to the one sent."""
        group, members = self._parse(payload, tenant, Context.RESOURCE_REPLACEMENT_REQUEST)

        def replace(current: GroupResource) -> GroupResource:
            refuse_control_characters(group, GROUP_NAME_ATTRIBUTES, previous=current)
            return group

        self._modify(tenant, group_id, if_match, replace)
        current = dict(self.memberships.members_shown(tenant, group_id))
        gone = MemberChange("remove", sorted(current.keys() - set(members.user_ids)))
        # Only members that are new or shown differently are written (and recorded as member-added).
        changed = {uid for uid in members.user_ids if uid not in current or members.displays.get(uid) != current[uid]}
        added = MemberChange("add", sorted(changed), members.displays)
        self._apply_member_changes(tenant, group_id, [gone, added], group.display_name)
        return self.with_members(tenant, self.model(self.read(tenant, group_id)))

    def patch(
        self, tenant: str, group_id: str, payload: Any, if_match: str | None = None, *, answer: bool = True
    ) -> GroupResource | None:
        """PATCH /Groups/{id}: attribute operations in one conditional write, then membership changes.

        Everything is checked before anything is written. A membership-only PATCH (Entra's usual one) reads
        no group row: its transactions fail if the group is gone (404). With ``answer`` false nothing is read
        back, so adding one member costs two round trips: the member check and the transaction.
        """
        body = require_object(payload)
        require_schema(body, PATCH_OP_SCHEMA)
        operations = body.get("Operations")
        if not isinstance(operations, list) or not operations:
            raise InvalidValueException(detail="'Operations' must be a non-empty list of PATCH operations")
        if len(operations) > MAX_PATCH_OPERATIONS:
            raise PayloadTooLargeException(
                detail=f"A PATCH may carry at most {MAX_PATCH_OPERATIONS} operations; this one has {len(operations)}"
            )
        split = split_group_patch(body, tenant)
        plan = (
            PatchPlan(
                GroupResource,
                {**body, "Operations": split.attribute_operations},
                policy=ENTRA_POLICY,
                max_operations=MAX_PATCH_OPERATIONS,
                rewrite=lambda b: b,
            )
            if split.attribute_operations
            else None
        )
        changes = split.member_changes
        single_add = (
            plan is None
            and len(changes) == 1
            and changes[0].action == "add"
            and self.memberships.fits_one_transaction(changes[0].user_ids)
        )
        if single_add:  # the one transaction checks them: only ids of another shape are refused before it
            missing_member(split.member_ids, lambda _ids: None)
        else:
            self._check_users(tenant, split.member_ids)
        # An add's transaction proves the group exists (its merge of the group row fails otherwise); a
        # removal of members the group does not hold writes nothing, so it reads the group to answer 404.
        adds = any(change.action in ("add", "replace") for change in split.member_changes)
        if plan is not None or if_match is not None or not adds:
            self.check_version(self.read(tenant, group_id), if_match)
        if plan is not None:

            def apply(current: GroupResource) -> GroupResource | None:
                before = current.model_copy(deep=True)
                if not plan.apply(current):
                    return None
                try:
                    patched = GroupResource.model_validate(
                        current.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE), scim_policy=ENTRA_POLICY
                    )
                except ValidationError as exc:
                    raise scim_error_from_validation(exc) from exc
                self._check_rules(patched)
                refuse_control_characters(patched, GROUP_NAME_ATTRIBUTES, previous=before)
                return patched

            self._modify(tenant, group_id, if_match, apply)
        # The group row is not read here (a round trip saved), so membership records carry no displayName.
        self._apply_member_changes(tenant, group_id, changes, None, unchecked=single_add)
        return self.model(self.read(tenant, group_id)) if answer else None

    def _modify(
        self,
        tenant: str,
        group_id: str,
        if_match: str | None,
        change: Callable[[GroupResource], GroupResource | None],
    ) -> None:
        def write(stored: StoredResource) -> StoredResource:
            updated = change(self.model(stored))
            if updated is None:
                return stored
            updated.members = None
            document = self.document(updated)
            return self._table.replace(
                tenant,
                stored,
                document,
                self.indexes(updated),
                self._clock(),
                absent=self.legacy_guards(updated),
                name=self.record_name(document),
            )

        self.conditional(tenant, group_id, if_match, write)

    def delete(self, tenant: str, group_id: str, if_match: str | None = None) -> None:
        """DELETE /Groups/{id}: members first (any number, in batches), then the group and its index rows."""
        stored = self.read(tenant, group_id)
        self.check_version(stored, if_match)
        name = stored.document.get("displayName")
        self._apply_member_changes(tenant, group_id, [MemberChange("remove_all")], str(name) if name else None)

        def write(stored: StoredResource) -> StoredResource:
            name = self.record_name(stored.document)
            self._table.delete(tenant, stored, change=CountChange(total=-1), now=self._clock(), name=name)
            return stored

        self.conditional(tenant, group_id, None, write)

    def search(
        self, tenant: str, query: SearchRequest[GroupResource], start_index: int, count: int, *, members: bool
    ) -> SearchPage[GroupResource]:
        """GET /Groups: displayName, externalId, id and membership filters from index rows; a scan otherwise."""
        member = None
        candidates: Sequence[str] | None = None
        if query.filter is not None:
            node = query.filter.ast
            planned = _plan(node)
            if isinstance(planned, MemberOf):
                member, candidates = planned.user_id, self.memberships.groups_of(tenant, planned.user_id)
            elif isinstance(planned, str):
                candidates = [planned]
            elif planned is not None:
                candidates = self.find_ids(tenant, planned)
            if member is None and _mentions_members(node):
                raise InvalidFilterException(
                    detail='Filters on members take the form members[value eq "<user id>"] or '
                    'members.value eq "<user id>", joined to others by "and"'
                )

        def to_model(stored: StoredResource) -> GroupResource:
            group = self.model(stored)
            if member is not None:  # the membership row proved it: enough for the filter to match
                group.members = [GroupMember(value=member, type="User", ref=None)]
            return group

        try:
            with SEARCH_POLICY:  # the filter matches and sorts under the key the index rows were written by
                page = search(
                    self._table,
                    tenant,
                    query,
                    start_index=start_index,
                    count=count,
                    to_model=to_model,
                    candidate_ids=candidates,
                )
        except InvalidFilterException as exc:
            raise filter_error(exc) from exc
        for group in page.resources:
            if members:
                self.with_members(tenant, group)
            else:
                group.members = None
        return page


@dataclass(frozen=True)
class MemberOf:
    """A filter's plan: the groups of this user (its reverse membership rows)."""

    user_id: str


def _plan(node: FilterNode) -> IndexEntry | tuple[IndexEntry, ...] | str | MemberOf | None:
    """One lookup among the and-ed terms: an id, index entries (a displayName's identity_lookup), or the groups
    of a member; None means scan."""
    for term in comparison_terms(node):
        if (value := eq_string(term, GROUP_SCHEMA, "id")) is not None:
            return value
        if (value := eq_string(term, GROUP_SCHEMA, "displayName")) is not None:
            return identity_lookup("displayName", value)
        if (value := eq_string(term, GROUP_SCHEMA, "externalId")) is not None:
            return IndexEntry("externalId", default_comparison_key(_EXTERNAL_ID, value), False)
        if (user_id := _members_filter(term)) is not None:
            return MemberOf(user_id)
    return None
