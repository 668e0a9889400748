"""A tenant's custom extension attributes as platform data: the operator declares them, workers read them.

The declarations live in a row of their own beside the tenant's row (scim.store.TenantSchemaTable). The
request path reads them through TenantSchemas, a cache with the tenant cache's bound
(SCIM_TENANT_CACHE_SECONDS): a declaration reaches every running worker within it, with one point read per
tenant per bound, never one per request.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from scim.cache import ReadThroughCache
from scim.platform.tenants import TenantNotFoundError, check_tenant_id, is_tenant_id
from scim.protocol.extensions import (
    CustomAttribute,
    CustomAttributes,
    DeclarationError,
    declare,
    decode,
    encode,
    find,
    parse_path,
)
from scim.resources.users import UserService
from scim.store import (
    StorageUnavailableError,
    StoredResource,
    TableStorage,
    TenantSchemaRow,
    TenantSchemaTable,
    VersionMismatchError,
)

__all__ = [
    "AttributeInUseError",
    "DeclarationError",
    "RemovedAttribute",
    "TenantAttributeService",
    "TenantSchemas",
]

_WRITE_ATTEMPTS = 5


class AttributeInUseError(RuntimeError):
    """Stored users hold a value of the attribute; the message says how many and what --force would do."""

    def __init__(self, attribute: CustomAttribute, holders: int) -> None:
        super().__init__(
            f"{holders} user(s) of this tenant hold a value of {attribute.path}; it was not removed. "
            "--force removes the declaration and deletes those values from the users (a change record each)"
        )
        self.attribute = attribute
        self.holders = holders


@dataclass(frozen=True)
class RemovedAttribute:
    """What `attributes remove` did: the declaration, and the users whose value it deleted (ids only)."""

    attribute: CustomAttribute
    dropped_from: tuple[str, ...]


class TenantSchemas:
    """Declarations for the request path: one point read per tenant per `ttl_seconds`, bounded in size."""

    def __init__(self, table: TenantSchemaTable, *, ttl_seconds: float = 30.0, max_entries: int = 10_000) -> None:
        self._cache: ReadThroughCache[str, CustomAttributes] = ReadThroughCache(
            lambda tenant: decode(table.schema(tenant).declarations),
            ttl=ttl_seconds,
            max_entries=max_entries,
            min_reload=min(5.0, ttl_seconds),
            grace=ttl_seconds,
            transient=(StorageUnavailableError,),
        )

    def declarations(self, tenant_id: str) -> CustomAttributes:
        """The tenant's declared custom attributes (none for an id that is not a tenant's)."""
        if not is_tenant_id(tenant_id):
            return ()
        return self._cache.get(tenant_id) or ()


def _holds(stored: StoredResource, attribute: CustomAttribute) -> bool:
    """Whether a stored user document holds a value of the attribute (names compared ignoring case)."""
    for key, value in stored.document.items():
        if key.lower() == attribute.schema.lower() and isinstance(value, dict):
            return any(name.lower() == attribute.name.lower() and v is not None for name, v in value.items())
    return False


class TenantAttributeService:
    """The operator's use cases: declare, list and remove a tenant's custom attributes."""

    def __init__(self, storage: TableStorage, *, tenant_exists: Callable[[str], bool]) -> None:
        self._storage = storage
        self._table = TenantSchemaTable(storage)
        self._tenant_exists = tenant_exists

    def _row(self, tenant_id: str) -> TenantSchemaRow:
        check_tenant_id(tenant_id)
        if not self._tenant_exists(tenant_id):
            raise TenantNotFoundError(tenant_id)
        return self._table.schema(tenant_id)

    def declared(self, tenant_id: str) -> CustomAttributes:
        return decode(self._row(tenant_id).declarations)

    def add(
        self, tenant_id: str, spec: str, *, type_: str, case_exact: bool = False, unique: bool = False
    ) -> CustomAttribute:
        """Declare one attribute (conditional on the row read: two operators cannot lose each other's)."""
        for _ in range(_WRITE_ATTEMPTS):
            row = self._row(tenant_id)
            declared = declare(decode(row.declarations), spec, type_=type_, case_exact=case_exact, unique=unique)
            try:
                self._table.save_schema(TenantSchemaRow(tenant_id, encode(declared), row.etag))
            except VersionMismatchError:
                continue
            added = find(declared, spec)
            assert added is not None
            return added
        raise StorageUnavailableError("the declarations kept changing; try again")

    def users(self, tenant_id: str, declarations: CustomAttributes) -> UserService:
        """The tenant's users as the request path sees them with these declarations."""
        return UserService(self._storage.resources("Users"), declarations=lambda tenant: declarations)

    def holders(self, tenant_id: str, attribute: CustomAttribute) -> list[str]:
        """Ids of the users holding a value of the attribute: one scan of the tenant's users."""
        return [stored.id for stored in self._storage.resources("Users").scan(tenant_id) if _holds(stored, attribute)]

    def remove(self, tenant_id: str, spec: str, *, force: bool = False) -> RemovedAttribute:
        """Remove a declaration; refused (AttributeInUseError) while users hold a value, unless force, which
        deletes those values too, each user in one conditional write (a change record each)."""
        parse_path(spec)
        row = self._row(tenant_id)
        declarations = decode(row.declarations)
        attribute = find(declarations, spec)
        if attribute is None:
            raise DeclarationError(f"{spec} is not declared for tenant {tenant_id}")
        holders = self.holders(tenant_id, attribute)
        if holders and not force:
            raise AttributeInUseError(attribute, len(holders))
        remaining = tuple(a for a in declarations if a != attribute)
        # The declaration goes first, so no new value of it is accepted while the values are deleted (a worker
        # may accept one until its cache expires: run remove --force again after SCIM_TENANT_CACHE_SECONDS).
        self._table.save_schema(TenantSchemaRow(tenant_id, encode(remaining), row.etag))
        users = self.users(tenant_id, remaining)
        dropped = [user_id for user_id in holders if users.drop_undeclared(tenant_id, user_id)]
        return RemovedAttribute(attribute, tuple(dropped))
