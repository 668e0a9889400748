"""Table Storage for SCIM resources; the only package that imports azure.data.tables."""

from scim.store.tables import (
    MAX_DOCUMENT_CHARS,
    DocumentTooLargeError,
    IndexEntry,
    ResourceTable,
    RoundTripCounter,
    StorageUnavailableError,
    StoredResource,
    TableStorage,
    UniqueValueTakenError,
    VersionMismatchError,
)
from scim.store.tenants import TenantExistsError, TenantRow, TenantTable

__all__ = [
    "MAX_DOCUMENT_CHARS",
    "DocumentTooLargeError",
    "IndexEntry",
    "ResourceTable",
    "RoundTripCounter",
    "StorageUnavailableError",
    "StoredResource",
    "TableStorage",
    "TenantExistsError",
    "TenantRow",
    "TenantTable",
    "UniqueValueTakenError",
    "VersionMismatchError",
]
