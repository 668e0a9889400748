"""User use cases: create, read, search, replace, patch, delete — Entra's rules, indexes and counts."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from pydantic import ValidationError
from scim2_models import (
    Context,
    ForbiddenException,
    GroupMembership,
    InvalidFilterException,
    InvalidValueException,
    NotFoundException,
    Path,
    SearchRequest,
    default_comparison_key,
)
from scim2_models.path import FilterNode, ValuePath

from scim.models import ENTRA_POLICY, SEARCH_POLICY, USER_SCHEMA, UserResource, declarations_of, user_model
from scim.protocol import entra
from scim.protocol.documents import plausible_id, require_object, scim_error_from_validation
from scim.protocol.extensions import CustomAttributes
from scim.protocol.names import USER_NAME_ATTRIBUTES, held_names, identity_key, refuse_control_characters
from scim.protocol.patch import PatchPlan
from scim.protocol.search import SearchPage, comparison_terms, eq_string, filter_error, is_core_attr
from scim.protocol.versions import with_groups
from scim.resources.base import ResourceService, check_multi_valued_limits, identity_entry, identity_lookup
from scim.resources.search import search
from scim.resources.user_extensions import (
    check_patch_types,
    check_types,
    check_values,
    custom_indexes,
    custom_lookup,
    record_summary,
    refuse_undeclared,
    undeclared_path,
)
from scim.store import (
    ActiveLimitReachedError,
    CountChange,
    IndexEntry,
    Memberships,
    StoredResource,
)

T = TypeVar("T")

EMAIL_REQUIRED_DETAIL = (
    "The platform requires an e-mail address for every user. In the Entra enterprise application, "
    "open Provisioning > Mappings > Provision Microsoft Entra ID Users and map the source attribute "
    "'mail' to 'emails[type eq \"work\"].value'; then make sure the user has a mail value."
)
MAX_PATCH_OPERATIONS = 100
"""Operations one user PATCH may carry: Entra sends one per changed attribute, a dozen at most."""

_EXTERNAL_ID = Path[UserResource]("externalId").resolve()
_EMAIL_VALUE = Path[UserResource]("emails.value").resolve()


def is_active(user: UserResource) -> bool:
    """A user counts as active unless it says otherwise (RFC 7643 gives ``active`` no default)."""
    return user.active is not False


def is_active_document(document: Mapping[str, Any]) -> bool:
    """is_active for a stored document: what the store counts as active should it rebuild a tenant's counts."""
    return document.get("active") is not False


class UserService(ResourceService[UserResource]):
    """The User resource type of one storage account, for every tenant in it."""

    model_class = UserResource
    resource_type = "User"
    name_attribute = "userName"
    identity_attribute = "userName"

    def __init__(
        self,
        *args: Any,
        memberships: Memberships | None = None,
        require_email: bool = True,
        declarations: Callable[[str], CustomAttributes] = lambda tenant: (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._memberships = memberships
        self._require_email = require_email
        self._declarations = declarations
        """tenant -> its declared custom attributes (scim.platform.tenant_attributes, cached per worker)."""

    def declarations(self, tenant: str) -> CustomAttributes:
        """The custom attributes the tenant declared (scim-admin tenant attributes)."""
        return self._declarations(tenant)

    def model_for(self, tenant: str | None) -> type[UserResource]:
        """The tenant's User model: ours plus the custom attributes it declared (scim.models.user_model)."""
        return user_model(self._declarations(tenant)) if tenant is not None else UserResource

    # -- rules and indexes ----------------------------------------------------------------------

    @staticmethod
    def indexes(user: UserResource) -> list[IndexEntry]:
        """The values a user is looked up by: userName (unique, by identity_key), externalId and work e-mail (not
        unique)."""
        entries: list[IndexEntry] = []
        if user.user_name:
            entries.append(identity_entry("userName", user.user_name))
        if user.external_id:
            entries.append(IndexEntry("externalId", default_comparison_key(_EXTERNAL_ID, user.external_id), False))
        work_keys = {
            default_comparison_key(_EMAIL_VALUE, str(email.value))
            for email in user.emails or []
            if email.value and str(email.type or "").lower() == "work"
        }
        entries += [IndexEntry("workEmail", key, False) for key in sorted(work_keys)]
        return entries + custom_indexes(user)

    def identity_of(self, resource: UserResource) -> str | None:
        return resource.user_name

    def _check_rules(self, user: UserResource) -> None:
        check_values(user)
        if not user.user_name or not identity_key(user.user_name):  # spaces and invisible characters are blank
            raise InvalidValueException(detail="userName is required and must not be blank")
        if self._require_email and not any(email.value for email in user.emails or []):
            raise InvalidValueException(detail=EMAIL_REQUIRED_DETAIL)

    def _parse_user(self, tenant: str, payload: Any, ctx: Context) -> UserResource:
        body = entra.normalise_user(require_object(payload))
        refuse_undeclared(tenant, body, self.model_for(tenant))
        check_types(body, self._declarations(tenant))
        user = self.parse(body, ctx, USER_SCHEMA, tenant)
        self._check_rules(user)
        return user

    def write(self, action: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A storage write; the license cap becomes a 403 the Entra admin can act on."""
        try:
            return super().write(action, *args, **kwargs)
        except ActiveLimitReachedError as exc:
            raise license_limit_error(exc) from exc

    # -- use cases ----------------------------------------------------------------------------

    def create(self, tenant: str, payload: Any, *, active_limit: int | None = None) -> UserResource:
        """POST /Users: two storage round trips (the member-index entry, the user's transaction); 409 uniqueness if
        the userName is taken in any case; 403 if an active user would take the tenant past its active_limit (the
        license cap)."""
        user = self._parse_user(tenant, payload, Context.RESOURCE_CREATION_REQUEST)
        refuse_control_characters(user, USER_NAME_ATTRIBUTES)
        change = CountChange(
            total=1, active=int(is_active(user)), active_limit=active_limit, active_of=is_active_document
        )
        document = self.document(user)
        user_id = uuid.uuid4().hex
        # The member-index entry first (scim.store.user_entries): should the user's write fail, the entry names
        # an id nobody was given, and is taken back (a repair removes one a crash leaves).
        if self._memberships is not None:
            self._memberships.users.register(tenant, [user_id])
        try:
            stored = self.write(
                self._table.create,
                tenant,
                user_id,
                document,
                self.indexes(user),
                self._clock(),
                change=change,
                absent=self.legacy_guards(user),
                name=self.record_name(document),
                summary=record_summary(user, {}, document),
            )
        except Exception:
            if self._memberships is not None:
                self._memberships.users.unregister(tenant, user_id)
            raise
        return self.written(user, stored)

    def get(self, tenant: str, user_id: str, *, groups: bool = False) -> UserResource:
        """GET /Users/{id}: one point read (and one range read for ``groups``); disabled users as any other."""
        user = self.model(self.read(tenant, user_id), tenant)
        if groups and self._memberships is not None:
            group_ids = self._memberships.groups_of(tenant, user_id)
            user.groups = [GroupMembership(value=gid, type="direct", ref=None) for gid in group_ids] or None
            if user.meta is not None and user.meta.version:
                user.meta.version = with_groups(user.meta.version, list(group_ids))
        return user

    def replace(
        self, tenant: str, user_id: str, payload: Any, if_match: str | None = None, *, active_limit: int | None = None
    ) -> UserResource:
        """PUT /Users/{id}: the body replaces every attribute; id, created and meta stay ours."""
        user = self._parse_user(tenant, payload, Context.RESOURCE_REPLACEMENT_REQUEST)

        def replace(current: UserResource) -> UserResource:
            refuse_control_characters(user, USER_NAME_ATTRIBUTES, previous=current)
            return user

        return self._modify(tenant, user_id, if_match, replace, active_limit)

    def patch(
        self, tenant: str, user_id: str, payload: Any, if_match: str | None = None, *, active_limit: int | None = None
    ) -> UserResource:
        """PATCH /Users/{id}: all operations apply or none do; read + one conditional write."""
        model = self.model_for(tenant)
        check_patch_types(payload, declarations_of(model))
        plan = PatchPlan(
            model,
            payload,
            policy=ENTRA_POLICY,
            max_operations=MAX_PATCH_OPERATIONS,
            describe_unknown=undeclared_path(tenant),
        )

        def apply(current: UserResource) -> UserResource | None:
            if type(current) is not model:  # the tenant's declarations changed while this request ran
                dumped = current.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
                current = model.model_validate(dumped, scim_policy=ENTRA_POLICY)
            before = held_names(current, USER_NAME_ATTRIBUTES)  # plan.apply changes current in place
            if not plan.apply(current):
                return None
            try:
                # Revalidate the whole result as a replacement would be: types, required attributes.
                patched = model.model_validate(
                    current.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE), scim_policy=ENTRA_POLICY
                )
            except ValidationError as exc:
                raise scim_error_from_validation(exc) from exc
            check_multi_valued_limits(patched)
            self._check_rules(patched)
            refuse_control_characters(patched, USER_NAME_ATTRIBUTES, held=before)
            return patched

        return self._modify(tenant, user_id, if_match, apply, active_limit)

    def _modify(
        self,
        tenant: str,
        user_id: str,
        if_match: str | None,
        change: Callable[[UserResource], UserResource | None],
        active_limit: int | None = None,
    ) -> UserResource:
        """Apply a change to the stored user; no write at all when the change changes nothing."""
        result: list[UserResource] = []

        def write(stored: StoredResource) -> StoredResource:
            current = self.model(stored, tenant)
            was_active = is_active(current)
            updated = change(current)
            if updated is None:  # nothing changed: no write, and the model read is the answer
                result[:] = [current]
                return stored
            counted = CountChange(
                active=int(is_active(updated)) - int(was_active),
                active_limit=active_limit,
                active_of=is_active_document,
            )
            document = self.document(updated)
            operation = {1: "enabled", -1: "disabled"}.get(counted.active, "updated")
            written = self._table.replace(
                tenant,
                stored,
                document,
                self.indexes(updated),
                self._clock(),
                change=counted,
                operation=operation,
                absent=self.legacy_guards(updated),
                name=self.record_name(document),
                summary=record_summary(updated, stored.document, document),
            )
            result[:] = [self.written(updated, written)]
            return written

        self.conditional(tenant, user_id, if_match, write)
        return result[0]

    def drop_undeclared(self, tenant: str, user_id: str) -> bool:
        """Rewrite a user without its values of attributes the tenant no longer declares (`tenant attributes
        remove --force`): one conditional write and a change record; False if the user is gone."""

        def drop(current: UserResource) -> UserResource:
            known = {USER_SCHEMA.lower()} | {urn.lower() for urn in type(current).get_extension_models()}
            current.schemas = [urn for urn in current.schemas if str(urn).lower() in known]
            return current

        try:
            self._modify(tenant, user_id, None, drop)
        except NotFoundException:
            return False
        return True

    def delete(self, tenant: str, user_id: str, if_match: str | None = None) -> None:
        """DELETE /Users/{id}: its member-index entry, its memberships, then the user, its index rows and its count
        in one transaction. In that order no membership can be written once its removal has begun, and none is
        ever held by an id that is not a user (scim.store.user_entries)."""
        if not plausible_id(user_id):
            raise NotFoundException(detail=f"User {user_id} not found")
        if if_match is not None:  # refuse before any membership is touched
            self.check_version(self.read(tenant, user_id), if_match)
        if self._memberships is not None:
            self._memberships.users.unregister(tenant, user_id)
            self._memberships.forget_user(tenant, user_id, self._clock())

        def write(stored: StoredResource) -> StoredResource:
            active = is_active_document(stored.document)
            counted = CountChange(total=-1, active=-int(active), active_of=is_active_document)
            name = self.record_name(stored.document)
            self._table.delete(tenant, stored, change=counted, now=self._clock(), name=name)
            return stored

        try:
            self.conditional(tenant, user_id, if_match, write)
        except NotFoundException:
            raise
        except Exception:
            # The user stays (changed since If-Match, or storage failed): it goes back into the member index.
            if self._memberships is not None:
                self._memberships.users.register(tenant, [user_id])
            raise

    def search(
        self, tenant: str, query: SearchRequest[UserResource], start_index: int, count: int
    ) -> SearchPage[UserResource]:
        """GET /Users: index lookups for the filters Entra sends, a streamed partition scan otherwise."""
        try:
            with SEARCH_POLICY:  # the filter matches and sorts under the key the index rows were written by
                return search(
                    self._table,
                    tenant,
                    query,
                    start_index=start_index,
                    count=count,
                    to_model=lambda stored: self.model(stored, tenant),
                    candidate_ids=self._candidate_ids(tenant, query),
                )
        except InvalidFilterException as exc:
            # A value its attribute cannot hold (e.g. a boolean compared with "yes"), found while matching.
            raise filter_error(exc) from exc

    def _candidate_ids(self, tenant: str, query: SearchRequest[UserResource]) -> Sequence[str] | None:
        model = self.model_for(tenant)
        plan = plan_search(query.filter.ast, model) if query.filter is not None else None
        if plan is None:
            return None
        if isinstance(plan, str):
            return [plan]
        return self.find_ids(tenant, plan)


def plan_search(
    node: FilterNode, model: type[UserResource] = UserResource
) -> IndexEntry | tuple[IndexEntry, ...] | str | None:
    """One indexed equality among the and-ed terms of a filter (an id, or index entries: a userName's are
    identity_lookup's, its row and its legacy one); None means scan.

    The whole filter is still matched against each candidate.
    """
    for term in comparison_terms(node):
        if (value := eq_string(term, USER_SCHEMA, "id")) is not None:
            return value
        if (value := eq_string(term, USER_SCHEMA, "userName")) is not None:
            return identity_lookup("userName", value)
        if (value := eq_string(term, USER_SCHEMA, "externalId")) is not None:
            return IndexEntry("externalId", default_comparison_key(_EXTERNAL_ID, value), False)
        if (
            isinstance(term, ValuePath)
            and is_core_attr(term.attr_path, USER_SCHEMA, "emails")
            and term.sub_attr is None
        ):
            inner = comparison_terms(term.val_filter)
            is_work = any((eq_string(t, USER_SCHEMA, "type") or "").lower() == "work" for t in inner)
            email = next((v for t in inner if (v := eq_string(t, USER_SCHEMA, "value")) is not None), None)
            if is_work and email is not None:
                return IndexEntry("workEmail", default_comparison_key(_EMAIL_VALUE, email), False)
        if (entry := custom_lookup(term, model, declarations_of(model))) is not None:
            return entry
    return None


def license_limit_error(exc: ActiveLimitReachedError) -> ForbiddenException:
    """The license cap, in words the Entra admin can act on from the provisioning log.

    403, not 409, 429 or 401: the request is valid and the credentials are right, but the platform does not
    permit it (RFC 7644 §3.12: "operation is not permitted"). 409 would read as a duplicate user, 429 would
    make Entra retry at once to the same effect, and 401 would make Entra quarantine the whole job as if the
    Secret Token were wrong. A 403 fails this one user and Entra retries it in later cycles, so it arrives by
    itself once the limit is raised or another user is disabled.
    """
    return ForbiddenException(
        detail=(
            f"License limit reached: this tenant may have at most {exc.limit} active users on the platform and "
            f"{exc.active} are active, so this user was not activated (nothing was stored). Ask the platform "
            "operator to raise the limit, or in Entra scope provisioning to assigned users only (Provisioning > "
            "Settings > Scope: 'Sync only assigned users and groups') and assign only the users who need access."
        )
    )
