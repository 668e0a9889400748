"""Setup links as stored: rows in the tenant's own partition of the tenants table, beside its `tenant` row.

Row layout: PartitionKey = tenant id, RowKey = ``setup-link-<SHA-256 hex of the link's secret part>``. The secret
part itself is never stored, so a copy of the table opens no link. Properties: LinkId (the first 12 hex digits of
the hash, what the operator names a link by), Kind (token | oauth), SecretName and SecretVersion (the credential
minted for the link, by version, never its value), TenantCreated (the tenant row's creation time: a link survives
no delete and re-create of its tenant), Created, Expires, CreatedBy, and once they happen Revealed or Revoked with
who did it. The tenants table lists tenants by RowKey ``tenant``, so these rows never show as tenants; `tenant
export` carries them with the rest of the partition (hashes only). No new table: the deployment's roles on
`<prefix>Tenants` already cover them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import AzureError, ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, TableEntity, UpdateMode

from scim.store.account import TableStorage
from scim.store.rows import VersionMismatchError, storage_failure

_PREFIX = "setup-link-"
_AFTER_PREFIX = "setup-link."  # '.' follows '-': the upper bound of the key range


@dataclass(frozen=True)
class SetupLinkRow:
    """One setup link as stored; etag makes the one reveal (and a revoke) conditional."""

    tenant: str
    link_hash: str
    """SHA-256 hex of the link's secret part."""
    kind: str
    secret_name: str
    secret_version: str
    tenant_created: datetime
    created: datetime
    expires: datetime
    created_by: str
    revealed: datetime | None = None
    revealed_by: str = ""
    revoked: datetime | None = None
    revoked_by: str = ""
    etag: str = ""

    @property
    def link_id(self) -> str:
        """What the operator lists and revokes a link by: not enough of the hash to find the link's secret."""
        return self.link_hash[:12]


class SetupLinkTable:
    """Create, read, list and conditionally update setup-link rows (a tenant's partition of the tenants table)."""

    def __init__(self, storage: TableStorage) -> None:
        self._client: TableClient = storage.table_client(storage.table_name("Tenants"))

    @staticmethod
    def _row(entity: TableEntity) -> SetupLinkRow:
        return SetupLinkRow(
            tenant=str(entity["PartitionKey"]),
            link_hash=str(entity["RowKey"])[len(_PREFIX) :],
            kind=str(entity.get("Kind") or "token"),
            secret_name=str(entity.get("SecretName") or ""),
            secret_version=str(entity.get("SecretVersion") or ""),
            tenant_created=entity["TenantCreated"],
            created=entity["Created"],
            expires=entity["Expires"],
            created_by=str(entity.get("CreatedBy") or ""),
            revealed=entity.get("Revealed"),
            revealed_by=str(entity.get("RevealedBy") or ""),
            revoked=entity.get("Revoked"),
            revoked_by=str(entity.get("RevokedBy") or ""),
            etag=str(entity.metadata["etag"]),
        )

    @staticmethod
    def _entity(row: SetupLinkRow) -> dict[str, Any]:
        entity: dict[str, Any] = {
            "PartitionKey": row.tenant,
            "RowKey": _PREFIX + row.link_hash,
            "LinkId": row.link_id,
            "Kind": row.kind,
            "SecretName": row.secret_name,
            "SecretVersion": row.secret_version,
            "TenantCreated": row.tenant_created,
            "Created": row.created,
            "Expires": row.expires,
            "CreatedBy": row.created_by,
        }
        if row.revealed is not None:
            entity.update(Revealed=row.revealed, RevealedBy=row.revealed_by)
        if row.revoked is not None:
            entity.update(Revoked=row.revoked, RevokedBy=row.revoked_by)
        return entity

    def _call(self, action: Any) -> Any:
        try:
            return action()
        except (ResourceNotFoundError, ResourceExistsError, ResourceModifiedError):
            raise
        except AzureError as exc:
            raise storage_failure(exc, self._client.table_name) from exc

    def create(self, row: SetupLinkRow) -> SetupLinkRow:
        result = self._call(lambda: self._client.create_entity(self._entity(row)))
        return replace(row, etag=str(result.get("etag", "")))

    def get(self, tenant: str, link_hash: str) -> SetupLinkRow | None:
        """One point read; None if no such link (or no tenants table yet)."""
        try:
            return self._row(self._call(lambda: self._client.get_entity(tenant, _PREFIX + link_hash)))
        except ResourceNotFoundError:
            return None

    def list(self, tenant: str) -> list[SetupLinkRow]:
        """The tenant's links, oldest first: one key range of its partition."""
        query = "PartitionKey eq @pk and RowKey ge @low and RowKey lt @high"
        params = {"pk": tenant, "low": _PREFIX, "high": _AFTER_PREFIX}
        try:
            rows = self._call(lambda: list(self._client.query_entities(query, parameters=params)))
        except ResourceNotFoundError:
            return []
        return sorted((self._row(entity) for entity in rows), key=lambda row: row.created)

    def update(self, row: SetupLinkRow) -> SetupLinkRow:
        """Replace the row if unchanged since read (row.etag); VersionMismatchError if another wrote it first."""
        try:
            result = self._call(
                lambda: self._client.update_entity(
                    self._entity(row),
                    mode=UpdateMode.REPLACE,
                    etag=row.etag,
                    match_condition=MatchConditions.IfNotModified,
                )
            )
        except (ResourceModifiedError, ResourceNotFoundError) as exc:
            raise VersionMismatchError() from exc
        return replace(row, etag=str(result.get("etag", "")))
