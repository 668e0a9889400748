"""User use cases: create, read, search, replace, patch, delete — validation, uniqueness, concurrency."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from scim2_models import (
    Context,
    InvalidValueException,
    Meta,
    NotFoundException,
    PatchOp,
    Path,
    PayloadTooLargeException,
    PreconditionFailedException,
    ScimFilter,
    UniquenessException,
    default_comparison_key,
)
from scim2_models.path import FilterNode, ValuePath

from scim.errors import ServiceUnavailableException
from scim.models import ENTRA_POLICY, USER_SCHEMA, UserResource
from scim.protocol import entra
from scim.protocol.search import Plan, SearchPage, comparison_terms, eq_string, is_core_attr
from scim.resources.base import plausible_id, require_object, require_schema, scim_error_from_validation, version_of
from scim.store import (
    DocumentTooLargeError,
    IndexEntry,
    ResourceTable,
    StorageUnavailableError,
    StoredResource,
    UniqueValueTakenError,
    VersionMismatchError,
)

EMAIL_REQUIRED_DETAIL = (
    "The platform requires an e-mail address for every user. In the Entra enterprise application, "
    "open Provisioning > Mappings > Provision Microsoft Entra ID Users and map the source attribute "
    "'mail' to 'emails[type eq \"work\"].value'; then make sure the user has a mail value."
)
_CONFLICT_RETRIES = 3

_USER_NAME = Path[UserResource]("userName").resolve()
_EXTERNAL_ID = Path[UserResource]("externalId").resolve()
_EMAIL_VALUE = Path[UserResource]("emails.value").resolve()


class UserService:
    """The User resource type of one storage account, for every tenant in it."""

    def __init__(
        self,
        table: ResourceTable,
        *,
        require_email: bool = True,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._table = table
        self._require_email = require_email
        self._clock = clock

    # -- model <-> storage --------------------------------------------------------------------

    @staticmethod
    def indexes(user: UserResource) -> list[IndexEntry]:
        """The values a user is looked up by: userName (unique), externalId and work e-mail (not unique)."""
        entries: list[IndexEntry] = []
        if user.user_name:
            entries.append(IndexEntry("userName", default_comparison_key(_USER_NAME, user.user_name), True))
        if user.external_id:
            entries.append(IndexEntry("externalId", default_comparison_key(_EXTERNAL_ID, user.external_id), False))
        work_keys = {
            default_comparison_key(_EMAIL_VALUE, str(email.value))
            for email in user.emails or []
            if email.value and str(email.type or "").lower() == "work"
        }
        entries += [IndexEntry("workEmail", key, False) for key in sorted(work_keys)]
        return entries

    @staticmethod
    def document(user: UserResource) -> dict[str, Any]:
        """What is stored: the user as a query would return it (never a password), without id and meta."""
        doc = user.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
        doc.pop("id", None)
        doc.pop("meta", None)
        return doc

    @staticmethod
    def model(stored: StoredResource, location: str | None = None) -> UserResource:
        """The stored user as a model, with server-side meta."""
        user = UserResource.model_validate({**stored.document, "id": stored.id}, scim_policy=ENTRA_POLICY)
        user.meta = Meta(
            resource_type="User",
            created=stored.created,
            last_modified=stored.last_modified,
            location=location,
            version=version_of(stored.etag),
        )
        return user

    def _check_rules(self, user: UserResource) -> None:
        if not user.user_name or not user.user_name.strip():
            raise InvalidValueException(detail="userName is required and must not be blank")
        if self._require_email and not any(email.value for email in user.emails or []):
            raise InvalidValueException(detail=EMAIL_REQUIRED_DETAIL)

    def _parse_user(self, payload: Any, ctx: Context) -> UserResource:
        body = entra.normalise_user(require_object(payload))
        require_schema(body, USER_SCHEMA)
        try:
            user = UserResource.model_validate(body, scim_ctx=ctx, scim_policy=ENTRA_POLICY)
        except ValidationError as exc:
            raise scim_error_from_validation(exc) from exc
        self._check_rules(user)
        return user

    # -- storage errors -> SCIM errors ----------------------------------------------------------

    @staticmethod
    def _uniqueness(exc: UniqueValueTakenError) -> UniquenessException:
        return UniquenessException(
            detail=f"Another user in this tenant already has this {exc.attribute} (compared case-insensitively)"
        )

    def _write(self, action: Callable[..., StoredResource], *args: Any) -> StoredResource:
        """Run a storage write, turning storage outcomes into SCIM errors."""
        try:
            return action(*args)
        except UniqueValueTakenError as exc:
            raise self._uniqueness(exc) from exc
        except DocumentTooLargeError as exc:
            raise PayloadTooLargeException(detail=f"The user is too large to store: {exc}") from exc
        except StorageUnavailableError as exc:
            raise ServiceUnavailableException() from exc

    def _read(self, tenant: str, user_id: str) -> StoredResource:
        try:
            stored = self._table.get(tenant, user_id) if plausible_id(user_id) else None
        except StorageUnavailableError as exc:
            raise ServiceUnavailableException() from exc
        if stored is None:
            raise NotFoundException(detail=f"User {user_id} not found")
        return stored

    @staticmethod
    def _check_version(stored: StoredResource, if_match: str | None) -> None:
        if if_match is None:
            return
        tags = {tag.strip() for tag in if_match.split(",")}
        if "*" not in tags and version_of(stored.etag) not in tags:
            raise PreconditionFailedException(detail="The user changed since that version was read (If-Match)")

    # -- use cases ----------------------------------------------------------------------------

    def create(self, tenant: str, payload: Any) -> StoredResource:
        """POST /Users: one storage round trip; 409 uniqueness if the userName is taken in any case."""
        user = self._parse_user(payload, Context.RESOURCE_CREATION_REQUEST)
        user.id = None
        user_id = uuid.uuid4().hex
        return self._write(self._table.create, tenant, user_id, self.document(user), self.indexes(user), self._clock())

    def get(self, tenant: str, user_id: str) -> StoredResource:
        """GET /Users/{id}: one point read; disabled users are returned like any other."""
        return self._read(tenant, user_id)

    def replace(self, tenant: str, user_id: str, payload: Any, if_match: str | None = None) -> StoredResource:
        """PUT /Users/{id}: the body replaces every attribute; id, created and meta stay ours."""
        user = self._parse_user(payload, Context.RESOURCE_REPLACEMENT_REQUEST)
        return self._modify(tenant, user_id, if_match, lambda _current: user)

    def patch(self, tenant: str, user_id: str, payload: Any, if_match: str | None = None) -> StoredResource:
        """PATCH /Users/{id}: all operations apply or none do; read + one conditional write."""
        body = entra.normalise_patch(require_object(payload))
        try:
            patch = PatchOp[UserResource].model_validate(
                body, scim_ctx=Context.RESOURCE_PATCH_REQUEST, scim_policy=ENTRA_POLICY
            )
        except ValidationError as exc:
            raise scim_error_from_validation(exc) from exc

        def apply(current: UserResource) -> UserResource | None:
            with ENTRA_POLICY:
                changed = patch.patch(current)
            if not changed:
                return None
            try:
                # Revalidate the whole result as a replacement would be: types, required attributes.
                patched = UserResource.model_validate(
                    current.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE),
                    scim_policy=ENTRA_POLICY,
                )
            except ValidationError as exc:
                raise scim_error_from_validation(exc) from exc
            self._check_rules(patched)
            return patched

        return self._modify(tenant, user_id, if_match, apply)

    def _modify(
        self,
        tenant: str,
        user_id: str,
        if_match: str | None,
        change: Callable[[UserResource], UserResource | None],
    ) -> StoredResource:
        """Apply a change to the stored user; no write at all when the change changes nothing."""

        def write(stored: StoredResource) -> StoredResource:
            updated = change(self.model(stored))
            if updated is None:
                return stored
            return self._table.replace(tenant, stored, self.document(updated), self.indexes(updated), self._clock())

        return self._conditional(tenant, user_id, if_match, write)

    def delete(self, tenant: str, user_id: str, if_match: str | None = None) -> None:
        """DELETE /Users/{id}: the user and its index rows go in one transaction."""

        def write(stored: StoredResource) -> StoredResource:
            self._table.delete(tenant, stored)
            return stored

        self._conditional(tenant, user_id, if_match, write)

    def _conditional(
        self,
        tenant: str,
        user_id: str,
        if_match: str | None,
        write: Callable[[StoredResource], StoredResource],
    ) -> StoredResource:
        """Read, then write conditionally on the ETag; re-run on a concurrent change unless If-Match pinned it."""
        for _attempt in range(_CONFLICT_RETRIES):
            stored = self._read(tenant, user_id)
            self._check_version(stored, if_match)
            try:
                return self._write(write, stored)
            except VersionMismatchError as exc:
                if if_match is not None:
                    raise PreconditionFailedException(detail="The user changed while this request ran") from exc
        raise ServiceUnavailableException(detail="The user is being changed concurrently; retry later")

    def search(
        self, tenant: str, scim_filter: ScimFilter[UserResource] | None, start_index: int, count: int
    ) -> SearchPage:
        """GET /Users?filter=: index lookups for the filters Entra sends, a partition scan otherwise."""
        try:
            candidates = self._candidates(tenant, scim_filter)
            if scim_filter is not None:
                candidates = [c for c in candidates if scim_filter.match(self.model(c))]
        except StorageUnavailableError as exc:
            raise ServiceUnavailableException() from exc
        first = max(start_index, 1) - 1
        return SearchPage(total=len(candidates), resources=candidates[first : first + max(count, 0)])

    def _candidates(self, tenant: str, scim_filter: ScimFilter[UserResource] | None) -> list[StoredResource]:
        plan = plan_search(scim_filter.ast) if scim_filter is not None else None
        if plan is None:
            return list(self._table.scan(tenant))
        if plan.resource_id is not None:
            ids: Sequence[str] = [plan.resource_id] if plausible_id(plan.resource_id) else []
        else:
            assert plan.index is not None
            ids = self._table.find_ids(tenant, plan.index)
        found = [self._table.get(tenant, each) for each in sorted(set(ids))]
        # An index row whose resource is gone is ignored (never expected: writes are transactional).
        return [stored for stored in found if stored is not None]


def plan_search(node: FilterNode) -> Plan | None:
    """Pick one indexed equality among the and-ed terms of a filter; the full filter is still checked."""
    for term in comparison_terms(node):
        if (value := eq_string(term, "id")) is not None:
            return Plan(resource_id=value)
        if (value := eq_string(term, "userName")) is not None:
            return Plan(index=IndexEntry("userName", default_comparison_key(_USER_NAME, value), True))
        if (value := eq_string(term, "externalId")) is not None:
            return Plan(index=IndexEntry("externalId", default_comparison_key(_EXTERNAL_ID, value), False))
        if isinstance(term, ValuePath) and is_core_attr(term.attr_path, "emails") and term.sub_attr is None:
            inner = comparison_terms(term.val_filter)
            is_work = any((eq_string(t, "type") or "").lower() == "work" for t in inner)
            email = next((v for t in inner if (v := eq_string(t, "value")) is not None), None)
            if is_work and email is not None:
                return Plan(index=IndexEntry("workEmail", default_comparison_key(_EMAIL_VALUE, email), False))
    return None
