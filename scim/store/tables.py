"""SCIM resources in Azure Table Storage: one partition per tenant, a row per resource, a row per index value.

Row layout inside a tenant's partition (RowKey):
- ``r|<id>``                             the resource: its SCIM JSON in Document0..n, timestamps, its index rows
- ``i|<attribute>|<sha256>``             a unique index row (e.g. userName): ResourceId
- ``i|<attribute>|<sha256>|<id>``        a non-unique index row (e.g. externalId): ResourceId

Index rows are keyed by a hash of the normalised value, never the raw value: userName may hold ``#``
(B2B guests' ``#EXT#``) or ``/``, which Table keys forbid. A resource and all its index rows are written in
one entity-group transaction, so a taken unique value fails the whole write atomically (409) and a failed
request leaves nothing behind. This is the only module that imports azure.data.tables.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.data.tables import (
    TableClient,
    TableEntity,
    TableServiceClient,
    TableTransactionError,
    TransactionOperation,
    UpdateMode,
)

_RESOURCE_PREFIX = "r|"
_INDEX_PREFIX = "i|"
_DOCUMENT_CHUNK_CHARS = 16_000
"""A string property holds at most 64 KiB of UTF-16; 16,000 code points fit even if all are astral."""
MAX_DOCUMENT_CHARS = 400_000
"""Keeps a resource row well under the 1 MiB entity limit (UTF-16 counts two bytes a character)."""
_TRANSACTION_LIMIT = 100

_Operation = (
    tuple[TransactionOperation, Mapping[str, Any]] | tuple[TransactionOperation, Mapping[str, Any], Mapping[str, Any]]
)


class StorageUnavailableError(Exception):
    """Table Storage could not be reached or is overloaded; the request may be retried."""


class UniqueValueTakenError(Exception):
    """Another resource in the tenant already holds this unique value."""

    def __init__(self, attribute: str) -> None:
        super().__init__(f"{attribute} is already taken")
        self.attribute = attribute


class VersionMismatchError(Exception):
    """The resource changed (or vanished) since it was read: the conditional write did not apply."""


class DocumentTooLargeError(Exception):
    """The resource is too large to store in one Table Storage entity."""


@dataclass(frozen=True)
class IndexEntry:
    """One value a resource can be found by; value_key is already normalised for comparison."""

    attribute: str
    value_key: str
    unique: bool

    def digest(self) -> str:
        return hashlib.sha256(self.value_key.encode("utf-8")).hexdigest()

    def value_prefix(self) -> str:
        return f"{_INDEX_PREFIX}{self.attribute}|{self.digest()}"

    def row_key(self, resource_id: str) -> str:
        prefix = self.value_prefix()
        return prefix if self.unique else f"{prefix}|{resource_id}"


@dataclass(frozen=True)
class StoredResource:
    """A resource row read back: its SCIM document (no id, no meta) and the storage facts meta needs."""

    id: str
    document: dict[str, Any]
    created: datetime
    last_modified: datetime
    etag: str
    index_row_keys: tuple[str, ...]


class RoundTripCounter:
    """Counts HTTP requests sent to Table Storage (retries included): the stable cost of a SCIM operation."""

    def __init__(self) -> None:
        self._count = 0
        self._lock = threading.Lock()

    def __call__(self, request: Any) -> None:
        """The SDK's raw_request_hook: called once per request actually sent."""
        with self._lock:
            self._count += 1

    @property
    def count(self) -> int:
        return self._count


def _split_document(document: dict[str, Any]) -> dict[str, str]:
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    if len(text) > MAX_DOCUMENT_CHARS:
        raise DocumentTooLargeError(f"resource is {len(text)} characters; the limit is {MAX_DOCUMENT_CHARS}")
    chunks = [text[i : i + _DOCUMENT_CHUNK_CHARS] for i in range(0, len(text), _DOCUMENT_CHUNK_CHARS)]
    return {f"Document{n}": chunk for n, chunk in enumerate(chunks or [""])}


def _join_document(entity: TableEntity) -> dict[str, Any]:
    parts: list[str] = []
    n = 0
    while (chunk := entity.get(f"Document{n}")) is not None:
        parts.append(str(chunk))
        n += 1
    loaded = json.loads("".join(parts))
    if not isinstance(loaded, dict):
        raise ValueError("stored document is not a JSON object")
    return loaded


def _is_unavailable(exc: HttpResponseError) -> bool:
    return exc.status_code in (408, 429, 500, 502, 503, 504)


class ResourceTable:
    """One SCIM resource kind (Users, Groups) in one Azure table, partitioned by tenant."""

    def __init__(self, client: TableClient) -> None:
        self._client = client
        self._table_ready = False
        self._ready_lock = threading.Lock()

    # -- plumbing -----------------------------------------------------------------------------

    def _table(self) -> TableClient:
        """The table client; the table is created once per process if it does not exist yet."""
        if not self._table_ready:
            with self._ready_lock:
                if not self._table_ready:
                    try:
                        self._client.create_table()
                    except ResourceExistsError:
                        pass
                    except HttpResponseError as exc:
                        # In Azure the table is created by the infrastructure and the app's identity
                        # may lack the right to create tables: use the table as it is.
                        if exc.status_code != 403:
                            raise
                    self._table_ready = True
        return self._client

    def _guard(self, exc: Exception) -> Exception:
        if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
            return StorageUnavailableError(type(exc).__name__)
        if isinstance(exc, HttpResponseError) and _is_unavailable(exc):
            return StorageUnavailableError(f"Table Storage answered {exc.status_code}")
        return exc

    def _submit(self, operations: Sequence[_Operation], index_attributes: dict[str, str]) -> list[Any]:
        if len(operations) > _TRANSACTION_LIMIT:
            raise DocumentTooLargeError("too many index rows for one transaction")
        try:
            return list(self._table().submit_transaction(operations))
        except TableTransactionError as exc:
            code = str(getattr(exc, "error_code", None) or "")
            if code == "EntityAlreadyExists":
                failed = operations[exc.index] if 0 <= exc.index < len(operations) else None
                row_key = str(failed[1]["RowKey"]) if failed is not None else ""
                raise UniqueValueTakenError(index_attributes.get(row_key, "a unique attribute")) from exc
            if code in ("UpdateConditionNotSatisfied", "ResourceNotFound", "ConditionNotMet"):
                raise VersionMismatchError() from exc
            raise self._guard(exc) from exc
        except AzureError as exc:
            raise self._guard(exc) from exc

    @staticmethod
    def _to_stored(entity: TableEntity) -> StoredResource:
        return StoredResource(
            id=str(entity["RowKey"])[len(_RESOURCE_PREFIX) :],
            document=_join_document(entity),
            created=entity["Created"],
            last_modified=entity["LastModified"],
            etag=str(entity.metadata["etag"]),
            index_row_keys=tuple(json.loads(entity.get("IndexRows") or "[]")),
        )

    # -- reads --------------------------------------------------------------------------------

    def get(self, tenant: str, resource_id: str) -> StoredResource | None:
        """One point read."""
        try:
            entity = self._table().get_entity(tenant, _RESOURCE_PREFIX + resource_id)
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise self._guard(exc) from exc
        return self._to_stored(entity)

    def find_ids(self, tenant: str, entry: IndexEntry) -> list[str]:
        """Ids holding an index value: one point read (unique) or one range query (non-unique)."""
        try:
            if entry.unique:
                try:
                    row = self._table().get_entity(tenant, entry.value_prefix(), select=["ResourceId"])
                except ResourceNotFoundError:
                    return []
                return [str(row["ResourceId"])]
            prefix = entry.value_prefix()
            rows = self._table().query_entities(
                "PartitionKey eq @pk and RowKey gt @lo and RowKey lt @hi",
                parameters={"pk": tenant, "lo": prefix + "|", "hi": prefix + "}"},
                select=["ResourceId"],
            )
            return [str(row["ResourceId"]) for row in rows]
        except AzureError as exc:
            raise self._guard(exc) from exc

    def scan(self, tenant: str) -> Iterator[StoredResource]:
        """Every resource of the tenant, in id order: one round trip per 1,000 rows."""
        try:
            rows = self._table().query_entities(
                "PartitionKey eq @pk and RowKey gt @lo and RowKey lt @hi",
                parameters={"pk": tenant, "lo": _RESOURCE_PREFIX, "hi": "r}"},
                results_per_page=1000,
            )
            for row in rows:
                yield self._to_stored(row)
        except AzureError as exc:
            raise self._guard(exc) from exc

    # -- writes -------------------------------------------------------------------------------

    def create(
        self,
        tenant: str,
        resource_id: str,
        document: dict[str, Any],
        indexes: Sequence[IndexEntry],
        now: datetime,
    ) -> StoredResource:
        """Resource row and index rows in one transaction: one round trip, all or nothing."""
        index_rows = {entry.row_key(resource_id): entry.attribute for entry in indexes}
        resource_row: dict[str, Any] = {
            "PartitionKey": tenant,
            "RowKey": _RESOURCE_PREFIX + resource_id,
            "Created": now,
            "LastModified": now,
            "IndexRows": json.dumps(sorted(index_rows)),
            **_split_document(document),
        }
        operations: list[_Operation] = [(TransactionOperation.CREATE, resource_row)]
        operations += [
            (TransactionOperation.CREATE, {"PartitionKey": tenant, "RowKey": key, "ResourceId": resource_id})
            for key in sorted(index_rows)
        ]
        results = self._submit(operations, index_rows)
        return StoredResource(
            id=resource_id,
            document=document,
            created=now,
            last_modified=now,
            etag=str(results[0]["etag"]),
            index_row_keys=tuple(sorted(index_rows)),
        )

    def replace(
        self,
        tenant: str,
        current: StoredResource,
        document: dict[str, Any],
        indexes: Sequence[IndexEntry],
        now: datetime,
    ) -> StoredResource:
        """Rewrite a resource if unchanged since read (ETag), moving only the index rows that changed."""
        index_rows = {entry.row_key(current.id): entry.attribute for entry in indexes}
        old_keys = set(current.index_row_keys)
        resource_row: dict[str, Any] = {
            "PartitionKey": tenant,
            "RowKey": _RESOURCE_PREFIX + current.id,
            "Created": current.created,
            "LastModified": now,
            "IndexRows": json.dumps(sorted(index_rows)),
            **_split_document(document),
        }
        operations: list[_Operation] = [
            (
                TransactionOperation.UPDATE,
                resource_row,
                {"mode": UpdateMode.REPLACE, "etag": current.etag, "match_condition": MatchConditions.IfNotModified},
            )
        ]
        operations += [
            (TransactionOperation.DELETE, {"PartitionKey": tenant, "RowKey": key})
            for key in sorted(old_keys - index_rows.keys())
        ]
        operations += [
            (TransactionOperation.CREATE, {"PartitionKey": tenant, "RowKey": key, "ResourceId": current.id})
            for key in sorted(index_rows.keys() - old_keys)
        ]
        results = self._submit(operations, index_rows)
        return StoredResource(
            id=current.id,
            document=document,
            created=current.created,
            last_modified=now,
            etag=str(results[0]["etag"]),
            index_row_keys=tuple(sorted(index_rows)),
        )

    def delete(self, tenant: str, current: StoredResource) -> None:
        """Remove the resource (if unchanged since read) and its index rows in one transaction."""
        operations: list[_Operation] = [
            (
                TransactionOperation.DELETE,
                {"PartitionKey": tenant, "RowKey": _RESOURCE_PREFIX + current.id},
                {"etag": current.etag, "match_condition": MatchConditions.IfNotModified},
            )
        ]
        operations += [
            (TransactionOperation.DELETE, {"PartitionKey": tenant, "RowKey": key}) for key in current.index_row_keys
        ]
        self._submit(operations, {})


class TableStorage:
    """The tables of one storage account; clients are built lazily and shared by the worker process."""

    def __init__(
        self,
        *,
        connection_string: str | None = None,
        endpoint: str | None = None,
        credential: Any = None,
        table_prefix: str = "scim",
    ) -> None:
        self.round_trips = RoundTripCounter()
        options: dict[str, Any] = {"raw_request_hook": self.round_trips}
        if connection_string:
            self._service = TableServiceClient.from_connection_string(connection_string, **options)
        elif endpoint:
            self._service = TableServiceClient(endpoint=endpoint, credential=credential, **options)
        else:
            raise ValueError("TableStorage needs a connection string or an endpoint")
        self._prefix = table_prefix
        self._tables: dict[str, ResourceTable] = {}
        self._lock = threading.Lock()

    def resources(self, kind: str) -> ResourceTable:
        """The table for one resource kind, e.g. 'Users' -> table '<prefix>Users'."""
        with self._lock:
            table = self._tables.get(kind)
            if table is None:
                table = ResourceTable(self._service.get_table_client(f"{self._prefix}{kind}"))
                self._tables[kind] = table
            return table

    def close(self) -> None:
        self._service.close()
