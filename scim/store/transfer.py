"""A tenant's partitions copied out of one storage account and into another, row for row (scim-admin export/import).

Rows are copied as stored (resource rows, index rows, counters, membership pairs, change records and the
delivery registry), each property with its Edm type, so the copy answers exactly as the original did: same
ids, counts, sequences and memberships. Only the ETags (and so `meta.version`) are new.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.data.tables import EdmType, EntityProperty, TableClient, UpdateMode

from scim.store.account import TableStorage
from scim.store.rows import StorageUnavailableError, access_denied

BATCH_ROWS = 100
"""An entity-group transaction holds at most 100 operations (Azurite garbles a 101st)."""

EncodedRow = dict[str, Any]
"""{"PartitionKey": ..., "RowKey": ..., "properties": {name: [edm type, JSON value]}}."""


_PLAIN_TYPES: tuple[tuple[type, EdmType], ...] = (
    (bool, EdmType.BOOLEAN),  # before int: a bool is an int
    (float, EdmType.DOUBLE),
    (datetime, EdmType.DATETIME),
    (bytes, EdmType.BINARY),
    (uuid.UUID, EdmType.GUID),
)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _encode_value(value: Any) -> list[Any]:
    """[Edm type, JSON value]; an Int64 as a string, as the service itself writes it."""
    if isinstance(value, EntityProperty):
        edm = EdmType(value.edm_type)
        return [edm.value, str(value.value) if edm is EdmType.INT64 else _json_value(value.value)]
    for kind, edm in _PLAIN_TYPES:
        if isinstance(value, kind):
            return [edm.value, _json_value(value)]
    if isinstance(value, int):
        return [EdmType.INT32.value if -(2**31) <= value < 2**31 else EdmType.INT64.value, str(value)]
    return [EdmType.STRING.value, str(value)]


_DECODERS: dict[str, Any] = {
    EdmType.INT64.value: lambda value: EntityProperty(int(value), EdmType.INT64),
    EdmType.INT32.value: int,
    EdmType.DATETIME.value: datetime.fromisoformat,
    EdmType.BINARY.value: base64.b64decode,
    EdmType.GUID.value: uuid.UUID,
    EdmType.DOUBLE.value: float,
}


def _decode_value(edm: str, value: Any) -> Any:
    decode = _DECODERS.get(edm)
    return value if decode is None else decode(value)


def encode_row(entity: Any) -> EncodedRow:
    """A stored entity as JSON-safe data that decode_row turns back into the same entity."""
    properties = {
        name: _encode_value(value) for name, value in entity.items() if name not in ("PartitionKey", "RowKey")
    }
    return {"PartitionKey": str(entity["PartitionKey"]), "RowKey": str(entity["RowKey"]), "properties": properties}


def decode_row(row: EncodedRow) -> dict[str, Any]:
    entity: dict[str, Any] = {"PartitionKey": row["PartitionKey"], "RowKey": row["RowKey"]}
    for name, (edm, value) in row["properties"].items():
        entity[name] = _decode_value(edm, value)
    return entity


class PartitionTransfer:
    """Reads and writes whole tenant partitions of the tables `<prefix><kind>`."""

    def __init__(self, storage: TableStorage) -> None:
        self._storage = storage

    def _client(self, kind: str) -> TableClient:
        return self._storage.table_client(self._storage.table_name(kind))

    def _guard(self, exc: AzureError, client: TableClient) -> Exception:
        denied = access_denied(exc, client.table_name)
        return denied or StorageUnavailableError(f"{type(exc).__name__} on table {client.table_name}")

    def rows(self, kind: str, tenant: str) -> Iterator[EncodedRow]:
        """Every row of the tenant's partition in `<prefix><kind>`, page by page; none if the table is absent."""
        client = self._client(kind)
        try:
            for entity in client.query_entities("PartitionKey eq @pk", parameters={"pk": tenant}):
                yield encode_row(entity)
        except ResourceNotFoundError:
            return
        except AzureError as exc:
            raise self._guard(exc, client) from exc

    def write(self, kind: str, rows: Iterable[EncodedRow]) -> int:
        """Upsert the rows (replace), one transaction per 100 rows of a partition; the table is created if absent.

        Safe to repeat: a second run writes the same rows again.
        """
        client = self._client(kind)
        try:
            client.create_table()
        except ResourceExistsError:
            pass
        except AzureError as exc:
            if getattr(exc, "status_code", None) != 403:  # in Azure the infrastructure creates the tables
                raise self._guard(exc, client) from exc
        written = 0
        batch: list[Any] = []
        for row in rows:
            if batch and (len(batch) == BATCH_ROWS or batch[0][1]["PartitionKey"] != row["PartitionKey"]):
                written += self._submit(client, batch)
                batch = []
            batch.append(("upsert", decode_row(row), {"mode": UpdateMode.REPLACE}))
        if batch:
            written += self._submit(client, batch)
        return written

    def _submit(self, client: TableClient, batch: list[Any]) -> int:
        try:
            client.submit_transaction(batch)
        except AzureError as exc:
            raise self._guard(exc, client) from exc
        return len(batch)
