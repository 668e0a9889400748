"""Rows of a tenant's partition: resource documents split across properties, index entries, storage errors."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from azure.data.tables import TableEntity, TransactionOperation

from scim.store.keys import index_key, index_prefix

Operation = (
    tuple[TransactionOperation, Mapping[str, Any]] | tuple[TransactionOperation, Mapping[str, Any], Mapping[str, Any]]
)
"""One operation of an entity-group transaction, as the SDK takes it: (kind, entity[, options])."""

_DOCUMENT_CHUNK_CHARS = 16_000
"""A string property holds at most 64 KiB of UTF-16; 16,000 code points fit even if all are astral."""
MAX_DOCUMENT_CHARS = 400_000
"""Keeps a resource row well under the 1 MiB entity limit (UTF-16 counts two bytes a character)."""


class StorageUnavailableError(Exception):
    """Table Storage could not be reached or is overloaded; the request may be retried."""


class StorageAccessDeniedError(StorageUnavailableError):
    """Table Storage refused the caller (401/403): no data role on the table yet, or no Azure sign-in.

    A kind of unavailability for the endpoint (a 503 Entra retries: a new role assignment takes minutes to
    reach Storage), but not one to report as unreachable: the operator CLI names the role and the table.
    """

    def __init__(self, table: str, status: int | None, code: str | None) -> None:
        detail = " ".join(str(part) for part in (status, code) if part) or "no credential"
        super().__init__(f"Table Storage refused access to table {table} ({detail})")
        self.table = table
        self.status = status
        self.code = code


def access_denied(exc: Exception, table: str) -> StorageAccessDeniedError | None:
    """The refusal an SDK error stands for (an HTTP 401/403, or a credential that could not sign in), else None."""
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

    status = getattr(exc, "status_code", None)
    if isinstance(exc, ClientAuthenticationError) and status is None:
        return StorageAccessDeniedError(table, None, type(exc).__name__)
    if isinstance(exc, HttpResponseError) and status in (401, 403):
        return StorageAccessDeniedError(table, status, getattr(exc, "error_code", None))
    return None


TRANSIENT_STATUSES = (408, 429, 500, 502, 503, 504)
"""The answers a retry may outlive: a timeout, throttling, the service's own failures."""


def storage_failure(exc: Exception, table: str) -> Exception:
    """What a storage SDK error means to our callers: the refusal (access_denied), StorageUnavailableError for
    no answer or a transient one (TRANSIENT_STATUSES), else the error itself (a 4xx the caller may handle)."""
    denied = access_denied(exc, table)
    if denied is not None:
        return denied
    status = getattr(exc, "status_code", None)
    if status is None:
        return StorageUnavailableError(type(exc).__name__)
    if status in TRANSIENT_STATUSES:
        return StorageUnavailableError(f"Table Storage answered {status}")
    return exc


class UniqueValueTakenError(Exception):
    """Another resource in the tenant already holds this unique value."""

    def __init__(self, attribute: str) -> None:
        super().__init__(f"{attribute} is already taken")
        self.attribute = attribute


class VersionMismatchError(Exception):
    """The resource changed (or vanished) since it was read: the conditional write did not apply."""

    def __init__(self, index: int = -1) -> None:
        super().__init__("the row changed or vanished since it was read")
        self.index = index
        """Which operation of the transaction failed (-1: unknown)."""


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
        return index_prefix(self.attribute, self.digest())

    def row_key(self, resource_id: str) -> str:
        return index_key(self.attribute, self.digest(), None if self.unique else resource_id)


@dataclass(frozen=True)
class StoredResource:
    """A resource row read back: its SCIM document (no id, no meta) and the storage facts meta needs."""

    id: str
    document: dict[str, Any]
    created: datetime
    last_modified: datetime
    etag: str
    index_row_keys: tuple[str, ...]
    seq: int | None = None
    """The change (scim.store.changes) that last wrote the row; None for rows written before change records."""
    chars: int = 0
    """Characters of the stored document as read (0 when not read from a row): what pages are bounded by."""

    @property
    def version_key(self) -> str:
        """What meta.version derives from: the last change's number, or for older rows the storage ETag."""
        return f"seq:{self.seq}" if self.seq else self.etag


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


def split_document(document: dict[str, Any]) -> dict[str, str]:
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    if len(text) > MAX_DOCUMENT_CHARS:
        raise DocumentTooLargeError(f"resource is {len(text)} characters; the limit is {MAX_DOCUMENT_CHARS}")
    chunks = [text[i : i + _DOCUMENT_CHUNK_CHARS] for i in range(0, len(text), _DOCUMENT_CHUNK_CHARS)]
    return {f"Document{n}": chunk for n, chunk in enumerate(chunks or [""])}


def document_chars(entity: TableEntity) -> int:
    """Characters of the document a row holds, from its chunks (a row's size, as far as pages care)."""
    n = 0
    total = 0
    while (chunk := entity.get(f"Document{n}")) is not None:
        total += len(str(chunk))
        n += 1
    return total


def join_document(entity: TableEntity) -> dict[str, Any]:
    parts: list[str] = []
    n = 0
    while (chunk := entity.get(f"Document{n}")) is not None:
        parts.append(str(chunk))
        n += 1
    loaded = json.loads("".join(parts))
    if not isinstance(loaded, dict):
        raise ValueError("stored document is not a JSON object")
    return loaded
