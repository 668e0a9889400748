"""What every resource type shares: versions from ETags, SCIM errors, conditional writes, limits."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from scim2_models import (
    Context,
    InvalidValueException,
    Meta,
    NotFoundException,
    PayloadTooLargeException,
    PreconditionFailedException,
    Resource,
    SCIMException,
    UniquenessException,
)

from scim.errors import ServiceUnavailableException
from scim.models import ENTRA_POLICY
from scim.protocol.documents import plausible_id, require_object, require_schema, scim_error_from_validation
from scim.protocol.names import identity_key, legacy_identity_key
from scim.protocol.versions import row_version, version_of
from scim.store import (
    DocumentTooLargeError,
    IndexEntry,
    ResourceTable,
    StoredResource,
    UniqueValueTakenError,
    VersionMismatchError,
)

R = TypeVar("R", bound=Resource[Any])
T = TypeVar("T")

CONFLICT_RETRIES = 25
"""Read-and-write attempts while other requests change the same resource: 20 overlapping PATCHes of one user
all apply (each attempt costs two round trips; a jittered pause spreads the retries)."""
MAX_VALUES_PER_ATTRIBUTE = 100
"""Values one multi-valued attribute may hold (emails, phoneNumbers, addresses, …): Entra sends a handful.

It bounds the work of a PATCH whose filters scan the list (issue 15), and is documented in the README."""


def identity_entry(attribute: str, value: str) -> IndexEntry:
    """The unique index row of a userName or group displayName: keyed by identity_key (scim.protocol.names)."""
    return IndexEntry(attribute, identity_key(value), True)


def legacy_identity_entry(attribute: str, value: str) -> IndexEntry | None:
    """The unique index row the code before identity_key wrote for this value, if it is another row.

    A partition written then holds such rows until `scim-admin tenant reindex` moves them (ResourceService.
    reindex): look-ups read them too, and a write refuses a value whose legacy row another resource holds.
    """
    legacy = IndexEntry(attribute, legacy_identity_key(value), True)
    return None if legacy.value_key == identity_key(value) else legacy


def identity_lookup(attribute: str, value: str) -> tuple[IndexEntry, ...]:
    """Every unique index row a resource with this value may be found under: identity_key's, and the legacy one."""
    legacy = legacy_identity_entry(attribute, value)
    return (identity_entry(attribute, value),) if legacy is None else (identity_entry(attribute, value), legacy)


@dataclass
class ReindexReport:
    """What ResourceService.reindex did to one tenant's partition (ids only, never names)."""

    resources: int = 0
    moved: int = 0
    conflicts: list[str] = field(default_factory=list)
    """Resources whose value another resource already holds under identity_key: they keep their legacy row."""
    unreadable: list[str] = field(default_factory=list)


class ResourceService(Generic[R]):
    """The use cases every resource type shares: stored rows as models, conditional writes, storage errors.

    A subclass names its model, its resource type and its indexes; users.py and groups.py add their rules.
    """

    model_class: type[R]
    resource_type: str
    identity_attribute: str
    """The attribute the type is unique by (userName, displayName), compared under identity_key."""

    name_attribute: str = "displayName"
    """The attribute a change record names the resource by (userName, displayName)."""

    def record_name(self, document: Mapping[str, Any]) -> str | None:
        """What the change record of a write of this document calls the resource."""
        name = document.get(self.name_attribute)
        return str(name) if name else None

    def __init__(self, table: ResourceTable, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._table = table
        self._clock = clock

    @property
    def table(self) -> ResourceTable:
        """The store's table of this resource type (what seeding and checks outside the service write through)."""
        return self._table

    # -- model <-> storage --------------------------------------------------------------------

    @staticmethod
    def document(resource: Resource[Any]) -> dict[str, Any]:
        """What is stored: the resource as a query would return it (never a password), without id and meta."""
        doc = resource.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
        doc.pop("id", None)
        doc.pop("meta", None)
        return doc

    def model_for(self, tenant: str | None) -> type[R]:
        """The model of this resource type for a tenant (users.py: with the tenant's custom attributes)."""
        return self.model_class

    def model(self, stored: StoredResource, tenant: str | None = None) -> R:
        """The stored resource as a model, with server-side meta: the one validation a stored row gets."""
        document = {**stored.document, "id": stored.id}
        resource = self.model_for(tenant).model_validate(document, scim_policy=ENTRA_POLICY)
        return self.written(resource, stored)

    def written(self, resource: R, stored: StoredResource) -> R:
        """The model with the id and meta of its stored row. A write answers with the model it validated this way,
        without validating its own dump again (the stored document is that model's query-response dump)."""
        resource.id = stored.id
        resource.meta = Meta(
            resource_type=self.resource_type,
            created=stored.created,
            last_modified=stored.last_modified,
            version=version_of(stored.version_key),
        )
        return resource

    def parse(self, payload: Any, ctx: Context, schema: str, tenant: str | None = None) -> R:
        """A create or replace body as a model: same rules for POST and PUT."""
        body = require_object(payload)
        require_schema(body, schema)
        model = self.model_for(tenant)
        try:
            resource = model.model_validate(body, scim_ctx=ctx, scim_policy=ENTRA_POLICY)
        except ValidationError as exc:
            raise scim_error_from_validation(exc) from exc
        check_multi_valued_limits(resource)
        resource.id = None
        # Keep only the schema URNs we serve: Entra adds its private ADSCIM URN, which we never answer back.
        known = {str(model.__schema__).lower()}
        known |= {str(ext.__schema__).lower() for ext in model.get_extension_models().values()}
        resource.schemas = [urn for urn in resource.schemas if str(urn).lower() in known]
        return resource

    def indexes(self, resource: R) -> list[IndexEntry]:
        """The index rows a resource is found by (its type's: users.py, groups.py)."""
        raise NotImplementedError

    def identity_of(self, resource: R) -> str | None:
        raise NotImplementedError

    def legacy_guards(self, resource: R) -> list[IndexEntry]:
        """The legacy unique row of the resource's value, which no other resource may hold (see create/replace)."""
        value = self.identity_of(resource)
        legacy = legacy_identity_entry(self.identity_attribute, value) if value else None
        return [legacy] if legacy is not None else []

    def find_ids(self, tenant: str, lookup: IndexEntry | Sequence[IndexEntry]) -> list[str]:
        """Ids under any of the index entries (identity_lookup: the current row and the legacy one)."""
        entries = [lookup] if isinstance(lookup, IndexEntry) else lookup
        found: list[str] = []
        for entry in entries:
            found += [rid for rid in self._table.find_ids(tenant, entry) if rid not in found]
        return found

    def reindex(self, tenant: str) -> ReindexReport:
        """Move every index row written under an older key (legacy_identity_key) to the one indexes() names now.

        Safe while the tenant is served: each move is one transaction conditional on the resource's ETag and on
        the counter row (a resource changed meanwhile is read again; a change of its own already moved it). A
        value another resource holds under identity_key (two users the old key told apart) is left on its
        legacy row, still found by look-ups, and reported, for the operator to rename one of them.
        """
        report = ReindexReport()
        for stored in self._table.scan(tenant):
            report.resources += 1
            self._reindex_one(tenant, stored, report)
        return report

    def _reindex_one(self, tenant: str, stored: StoredResource, report: ReindexReport) -> None:
        current: StoredResource | None = stored
        for _ in range(CONFLICT_RETRIES):
            if current is None:  # deleted meanwhile
                return
            try:
                wanted = self.indexes(self.model(current, tenant))
            except (ValidationError, SCIMException):
                report.unreadable.append(current.id)
                return
            if {entry.row_key(current.id) for entry in wanted} == set(current.index_row_keys):
                return
            try:
                self._table.move_index_rows(tenant, current, wanted)
            except UniqueValueTakenError:
                report.conflicts.append(current.id)
                return
            except VersionMismatchError:
                current = self._table.get(tenant, current.id)
                continue
            report.moved += 1
            return
        raise ServiceUnavailableException(detail=f"The {self.resource_type} {stored.id} kept changing; retry later")

    # -- storage outcomes -> SCIM errors -------------------------------------------------------

    def uniqueness_detail(self, attribute: str) -> str:
        return (
            f"Another {self.resource_type.lower()} in this tenant already has this {attribute}, compared ignoring "
            "letter case, full-width forms, invisible characters and surrounding spaces"
        )

    def write(self, action: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a storage write, turning storage outcomes into SCIM errors."""
        try:
            return action(*args, **kwargs)
        except UniqueValueTakenError as exc:
            raise UniquenessException(detail=self.uniqueness_detail(exc.attribute)) from exc
        except DocumentTooLargeError as exc:
            raise PayloadTooLargeException(detail=f"The {self.resource_type} is too large to store: {exc}") from exc

    def read(self, tenant: str, resource_id: str) -> StoredResource:
        stored = self._table.get(tenant, resource_id) if plausible_id(resource_id) else None
        if stored is None:
            raise NotFoundException(detail=f"{self.resource_type} {resource_id} not found")
        return stored

    def check_version(self, stored: StoredResource, if_match: str | None) -> None:
        if if_match is None:
            return
        tags = {row_version(tag.strip()) for tag in if_match.split(",")}
        if "*" not in tags and version_of(stored.version_key) not in tags:
            raise PreconditionFailedException(
                detail=f"The {self.resource_type} changed since that version was read (If-Match)"
            )

    def conditional(
        self,
        tenant: str,
        resource_id: str,
        if_match: str | None,
        write: Callable[[StoredResource], StoredResource],
    ) -> StoredResource:
        """Read, then write conditionally on the ETag; re-run on a concurrent change unless If-Match pinned it."""
        for attempt in range(CONFLICT_RETRIES):
            if attempt:
                time.sleep(random.uniform(0, 0.005 * attempt))  # noqa: S311 - jitter, not security
            stored = self.read(tenant, resource_id)
            self.check_version(stored, if_match)
            try:
                return self.write(write, stored)
            except VersionMismatchError as exc:
                if if_match is not None:
                    raise PreconditionFailedException(
                        detail=f"The {self.resource_type} changed while this request ran"
                    ) from exc
        raise ServiceUnavailableException(detail=f"The {self.resource_type} is being changed concurrently; retry later")


def check_multi_valued_limits(resource: BaseModel, limit: int = MAX_VALUES_PER_ATTRIBUTE) -> None:
    """400 for a multi-valued attribute with more values than we keep (members are stored apart, not here)."""
    for name in type(resource).model_fields:
        value = getattr(resource, name, None)
        if isinstance(value, list) and len(value) > limit and name != "members":
            raise InvalidValueException(detail=f"'{name}' may hold at most {limit} values; this one has {len(value)}")
        if isinstance(value, BaseModel) and not isinstance(value, list):
            check_multi_valued_limits(value, limit)


def resource_names(*services: ResourceService[Any]) -> Callable[[str, str, str], str]:
    """(tenant, resource type, id) -> the resource's userName or displayName now (one point read); '' if it
    does not exist. Names a refusal whose request carried only the id, and a change record written without one."""
    by_type = {service.resource_type: service for service in services}

    def name_of(tenant: str, resource_type: str, resource_id: str) -> str:
        service = by_type.get(resource_type)
        if service is None:
            return ""
        try:
            stored = service.read(tenant, resource_id)
        except NotFoundException:
            return ""
        return service.record_name(stored.document) or ""

    return name_of
