"""Idempotency keys of the management API's creates, kept beside the tenant rows in `<prefix>Tenants`.

A caller's keys live in a partition of their own, ``~idempotency~<caller>`` (a tenant id is a DNS label, so
no tenant partition starts with ``~``; `TenantTable.all` reads only rows keyed ``tenant``, and export and
import read tenant partitions by id, so neither ever sees these rows). RowKey is the SHA-256 of the key the
caller sent: no caller text reaches a key. A row records a digest of the request it answered and the tenant
it created, never a secret. Reserving a key is an insert, so two requests with one key cannot both win; a
row is claimed again only with its ETag (a request that stopped half way, see scim.manage.idempotency).
The table exists already (the tenants table), and the app's identity may write it: no infrastructure change.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableClient, UpdateMode

from scim.store.account import TableStorage
from scim.store.rows import VersionMismatchError, storage_failure

_PARTITION_PREFIX = "~idempotency~"


class IdempotencyKeyTakenError(Exception):
    """The caller already used this key: read the row to see for what."""


@dataclass(frozen=True)
class IdempotencyRow:
    """One key of one caller: what it was used for, whether the work finished, and the row's ETag."""

    caller: str
    key: str
    fingerprint: str
    """A digest of the request (method, path, body) the key was first sent with."""
    tenant_id: str
    state: str
    """'pending' while the create runs, 'done' once it answered."""
    status: int
    created: datetime
    etag: str = ""


def _partition(caller: str) -> str:
    return _PARTITION_PREFIX + hashlib.sha256(caller.encode("utf-8")).hexdigest()[:40]


def _row_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class IdempotencyTable:
    """Reserve, read, claim and complete idempotency keys; every call is one round trip."""

    def __init__(self, storage: TableStorage) -> None:
        self._client: TableClient = storage.table_client(storage.table_name("Tenants"))
        self._ready = False

    def _table(self) -> TableClient:
        if not self._ready:
            try:
                self._client.create_table()
            except ResourceExistsError:
                pass
            except HttpResponseError as exc:
                if exc.status_code != 403:  # in Azure the infrastructure creates the table
                    raise storage_failure(exc, self._client.table_name) from exc
            except AzureError as exc:
                raise storage_failure(exc, self._client.table_name) from exc
            self._ready = True
        return self._client

    @staticmethod
    def _entity(row: IdempotencyRow) -> dict[str, Any]:
        return {
            "PartitionKey": _partition(row.caller),
            "RowKey": _row_key(row.key),
            "Fingerprint": row.fingerprint,
            "TenantId": row.tenant_id,
            "State": row.state,
            "Status": row.status,
            "Created": row.created,
        }

    def reserve(self, row: IdempotencyRow) -> IdempotencyRow:
        """Insert the key; IdempotencyKeyTakenError if the caller has used it before."""
        try:
            result = self._table().create_entity(self._entity(row))
        except ResourceExistsError as exc:
            raise IdempotencyKeyTakenError(row.key) from exc
        except AzureError as exc:
            raise storage_failure(exc, self._client.table_name) from exc
        return IdempotencyRow(**{**row.__dict__, "etag": str(result.get("etag", ""))})

    def get(self, caller: str, key: str) -> IdempotencyRow | None:
        try:
            entity = self._table().get_entity(_partition(caller), _row_key(key))
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise storage_failure(exc, self._client.table_name) from exc
        return IdempotencyRow(
            caller=caller,
            key=key,
            fingerprint=str(entity.get("Fingerprint") or ""),
            tenant_id=str(entity.get("TenantId") or ""),
            state=str(entity.get("State") or ""),
            status=int(entity.get("Status") or 0),
            created=entity["Created"],
            etag=str(entity.metadata["etag"]),
        )

    def replace(self, row: IdempotencyRow) -> IdempotencyRow:
        """Rewrite the row if unchanged since read (row.etag); VersionMismatchError if another request did."""
        try:
            result = self._table().update_entity(
                self._entity(row), mode=UpdateMode.REPLACE, etag=row.etag, match_condition=MatchConditions.IfNotModified
            )
        except (ResourceModifiedError, ResourceNotFoundError) as exc:
            raise VersionMismatchError() from exc
        except HttpResponseError as exc:
            if exc.status_code == 412:
                raise VersionMismatchError() from exc
            raise storage_failure(exc, self._client.table_name) from exc
        except AzureError as exc:
            raise storage_failure(exc, self._client.table_name) from exc
        return IdempotencyRow(**{**row.__dict__, "etag": str(result.get("etag", ""))})

    def release(self, row: IdempotencyRow) -> None:
        """Delete the key (its create failed before doing anything): the caller may send it again."""
        try:
            self._table().delete_entity(
                _partition(row.caller), _row_key(row.key), etag=row.etag, match_condition=MatchConditions.IfNotModified
            )
        except (ResourceNotFoundError, ResourceModifiedError):
            pass
        except HttpResponseError as exc:
            if exc.status_code not in (404, 412):
                raise storage_failure(exc, self._client.table_name) from exc
        except AzureError as exc:
            raise storage_failure(exc, self._client.table_name) from exc
