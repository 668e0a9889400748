"""A tenant's declared custom attributes: one row of its own in the tenants table, beside the tenant's row.

Row layout: PartitionKey = tenant id, RowKey = ``schema``; property Declarations holds the declarations as the
platform encodes them (the store does not read them). A row of its own, not a property of the tenant row, so
the tenant's other updates (limit, enable) never rewrite it, and its writes are conditional on its own ETag.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from scim.store.rows import VersionMismatchError
from scim.store.tenants import TenantTable, _guarded

_ROW_KEY = "schema"


@dataclass(frozen=True)
class TenantSchemaRow:
    """The declarations of one tenant as stored (an encoded text); etag makes the next write conditional."""

    tenant: str
    declarations: str
    etag: str = ""
    """Empty for a tenant that never declared anything (no row yet)."""


class TenantSchemaTable(TenantTable):
    """Reads and conditional writes of the declarations row; the tenant's row is TenantTable's."""

    def schema(self, tenant_id: str) -> TenantSchemaRow:
        """One point read; an empty row (no etag) if the tenant declared nothing."""
        try:
            entity = _guarded(lambda: self._table().get_entity(tenant_id, _ROW_KEY), self._client.table_name)
        except ResourceNotFoundError:
            return TenantSchemaRow(tenant_id, "")
        return TenantSchemaRow(tenant_id, str(entity.get("Declarations") or ""), str(entity.metadata["etag"]))

    def save_schema(self, row: TenantSchemaRow) -> TenantSchemaRow:
        """Write the declarations if the row is unchanged since read (absent if row.etag is empty);
        VersionMismatchError otherwise."""
        entity = {"PartitionKey": row.tenant, "RowKey": _ROW_KEY, "Declarations": row.declarations}
        table = self._client.table_name
        try:
            if row.etag:
                result = _guarded(
                    lambda: self._table().update_entity(
                        entity, mode=UpdateMode.REPLACE, etag=row.etag, match_condition=MatchConditions.IfNotModified
                    ),
                    table,
                )
            else:
                result = _guarded(lambda: self._table().create_entity(entity), table)
        except (ResourceModifiedError, ResourceNotFoundError, ResourceExistsError) as exc:
            raise VersionMismatchError() from exc
        return TenantSchemaRow(row.tenant, row.declarations, str(result.get("etag", "")))

    def delete_schema(self, tenant_id: str) -> None:
        """Remove the row (a deleted tenant's); nothing to do if there is none."""
        with contextlib.suppress(ResourceNotFoundError):
            _guarded(lambda: self._table().delete_entity(tenant_id, _ROW_KEY), self._client.table_name)
