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

__all__ = [
    "MAX_DOCUMENT_CHARS",
    "DocumentTooLargeError",
    "IndexEntry",
    "ResourceTable",
    "RoundTripCounter",
    "StorageUnavailableError",
    "StoredResource",
    "TableStorage",
    "UniqueValueTakenError",
    "VersionMismatchError",
]
