"""The platform's tenants table (`<prefix>Tenants`): one row per customer tenant, and purging a tenant's data.

Row layout: PartitionKey = tenant id, RowKey = ``tenant``; properties DisplayName, Created, Enabled and
MaxActiveUsers (absent: no limit) and Account, the data account holding the tenant's partitions (absent: the
primary, where tenants registered before there were several accounts live), and TokenVerifiers, a JSON list of
the verifiers of the tenant's valid Secret Token versions (absent: a row from before verifiers, checked against
the secret store). One partition per tenant keeps
each lookup a point read on its own partition. Counters of users and groups are not kept here: they live
beside the resources they count, written in the same transaction (scim.store.tables).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.data.tables import TableClient, TableEntity, UpdateMode

from scim.store.account import TableStorage
from scim.store.rows import StorageUnavailableError, VersionMismatchError, access_denied

_ROW_KEY = "tenant"
VERIFIERS_PROPERTY = "TokenVerifiers"
"""The tenant row's property holding its Secret Token verifiers (an export leaves it out: scim.platform.transfer)."""
_BATCH = 100
T = TypeVar("T")


class TenantExistsError(Exception):
    """A tenant with this id is already registered."""


@dataclass(frozen=True)
class TokenVerifier:
    """One valid Secret Token version as the tenant row keeps it: a digest of the value (never the value) and the
    version's not-before and expiry, as the secret store has them. Only enabled versions get one."""

    digest: str
    not_before: datetime | None = None
    expires_on: datetime | None = None

    def usable_at(self, now: datetime) -> bool:
        """Inside its not-before / expires window (the secret store's nbf and exp)."""
        if self.not_before is not None and now < self.not_before:
            return False
        return self.expires_on is None or now < self.expires_on


def _encode_verifiers(verifiers: tuple[TokenVerifier, ...]) -> str:
    return json.dumps(
        [
            {
                "sha256": v.digest,
                "nbf": v.not_before.isoformat() if v.not_before else None,
                "exp": v.expires_on.isoformat() if v.expires_on else None,
            }
            for v in verifiers
        ]
    )


def _decode_verifiers(text: object) -> tuple[TokenVerifier, ...] | None:
    if not isinstance(text, str):
        return None
    items = json.loads(text)
    return tuple(
        TokenVerifier(
            str(item["sha256"]),
            datetime.fromisoformat(item["nbf"]) if item.get("nbf") else None,
            datetime.fromisoformat(item["exp"]) if item.get("exp") else None,
        )
        for item in items
    )


@dataclass(frozen=True)
class TenantRow:
    """One tenant as stored; etag makes updates conditional."""

    id: str
    display_name: str
    created: datetime
    enabled: bool
    max_active_users: int | None
    etag: str = ""
    account: str | None = None
    """The data account of the tenant's users, groups, changes and activity (scim.store.DataAccounts); None:
    the primary."""
    token_verifiers: tuple[TokenVerifier, ...] | None = field(default=None, repr=False)
    """Verifiers of the valid Secret Token versions, newest first (() : no valid token); None: a row written
    before verifiers existed, whose tokens are checked against the secret store until an operator action
    (rotate, retire, `tenant reindex`) writes them."""


def _unavailable(exc: AzureError, table: str) -> Exception:
    denied = access_denied(exc, table)
    if denied is not None:
        return denied
    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        return StorageUnavailableError(type(exc).__name__)
    status = getattr(exc, "status_code", None)
    if isinstance(exc, HttpResponseError) and status in (408, 429, 500, 502, 503, 504):
        return StorageUnavailableError(f"Table Storage answered {status}")
    return exc


def _guarded(action: Callable[[], T], table: str) -> T:
    try:
        return action()
    except (ResourceNotFoundError, ResourceExistsError, ResourceModifiedError):
        raise
    except AzureError as exc:
        raise _unavailable(exc, table) from exc


class TenantTable:
    """CRUD on tenant rows; the table is created on first use where the identity may do so."""

    def __init__(self, storage: TableStorage) -> None:
        # Same package as TableStorage: its service client and prefix are ours to use.
        self._storage = storage
        self._client: TableClient = storage.table_client(f"{storage._prefix}Tenants")
        self._ready = False

    def _table(self) -> TableClient:
        if not self._ready:
            try:
                _guarded(self._client.create_table, self._client.table_name)
            except ResourceExistsError:
                pass
            except HttpResponseError as exc:
                if exc.status_code != 403:  # in Azure the infrastructure creates the table
                    raise
            self._ready = True
        return self._client

    @staticmethod
    def _row(entity: TableEntity) -> TenantRow:
        limit = entity.get("MaxActiveUsers")
        return TenantRow(
            id=str(entity["PartitionKey"]),
            display_name=str(entity.get("DisplayName") or ""),
            created=entity["Created"],
            enabled=bool(entity.get("Enabled", False)),
            max_active_users=int(limit) if limit is not None else None,
            etag=str(entity.metadata["etag"]),
            account=str(entity["Account"]) if entity.get("Account") else None,
            token_verifiers=_decode_verifiers(entity.get(VERIFIERS_PROPERTY)),
        )

    @staticmethod
    def _entity(row: TenantRow) -> dict[str, Any]:
        entity: dict[str, Any] = {
            "PartitionKey": row.id,
            "RowKey": _ROW_KEY,
            "DisplayName": row.display_name,
            "Created": row.created,
            "Enabled": row.enabled,
        }
        if row.max_active_users is not None:
            entity["MaxActiveUsers"] = row.max_active_users
        if row.account:
            entity["Account"] = row.account
        if row.token_verifiers is not None:
            entity[VERIFIERS_PROPERTY] = _encode_verifiers(row.token_verifiers)
        return entity

    def get(self, tenant_id: str) -> TenantRow | None:
        """One point read; None if no such tenant."""
        try:
            return self._row(_guarded(lambda: self._table().get_entity(tenant_id, _ROW_KEY), self._client.table_name))
        except ResourceNotFoundError:
            return None

    def all(self) -> list[TenantRow]:
        """Every tenant, by id."""
        rows = _guarded(
            lambda: list(self._table().query_entities("RowKey eq @rk", parameters={"rk": _ROW_KEY})),
            self._client.table_name,
        )
        return sorted((self._row(entity) for entity in rows), key=lambda row: row.id)

    def create(self, row: TenantRow) -> TenantRow:
        """Insert a new tenant; TenantExistsError if the id is taken."""
        try:
            result = _guarded(lambda: self._table().create_entity(self._entity(row)), self._client.table_name)
        except ResourceExistsError as exc:
            raise TenantExistsError(row.id) from exc
        return TenantRow(**{**row.__dict__, "etag": str(result.get("etag", ""))})

    def update(self, row: TenantRow) -> TenantRow:
        """Replace the row if unchanged since it was read (row.etag); VersionMismatchError otherwise."""
        try:
            result = _guarded(
                lambda: self._table().update_entity(
                    self._entity(row),
                    mode=UpdateMode.REPLACE,
                    etag=row.etag,
                    match_condition=MatchConditions.IfNotModified,
                ),
                self._client.table_name,
            )
        except (ResourceModifiedError, ResourceNotFoundError) as exc:
            raise VersionMismatchError() from exc
        return TenantRow(**{**row.__dict__, "etag": str(result.get("etag", ""))})

    def delete(self, tenant_id: str) -> None:
        _guarded(lambda: self._table().delete_entity(tenant_id, _ROW_KEY), self._client.table_name)

    def purge_partition(self, kind: str, tenant_id: str, storage: TableStorage | None = None) -> int:
        """Delete every row of the tenant in the resource table of `kind` on its data account (`storage`; None:
        this table's account), 100 per transaction; rows deleted."""
        account = storage or self._storage
        client = account.table_client(account.table_name(kind))
        deleted = 0
        while True:
            try:
                keys = _guarded(
                    lambda: [
                        str(entity["RowKey"])
                        for _, entity in zip(
                            range(_BATCH),
                            client.query_entities(
                                "PartitionKey eq @pk", parameters={"pk": tenant_id}, select=["RowKey"]
                            ),
                            strict=False,
                        )
                    ],
                    client.table_name,
                )
            except ResourceNotFoundError:
                return deleted  # the table does not exist: nothing to delete
            if not keys:
                return deleted
            batch = _deletes(tenant_id, keys)
            _guarded(lambda: client.submit_transaction(batch), client.table_name)  # noqa: B023 - called at once
            deleted += len(keys)


def _deletes(tenant_id: str, keys: Iterable[str]) -> list[Any]:
    return [("delete", {"PartitionKey": tenant_id, "RowKey": key}) for key in keys]
