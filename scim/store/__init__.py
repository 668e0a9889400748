"""Table Storage for SCIM resources; the only package that imports azure.data.tables."""

from scim.store.account import TableStorage
from scim.store.activity import ActivityPage, ActivityRecord, ActivityTable, TrafficBucket
from scim.store.counters import ActiveLimitReachedError, CountChange, Counts
from scim.store.rows import (
    MAX_DOCUMENT_CHARS,
    DocumentTooLargeError,
    IndexEntry,
    RoundTripCounter,
    StorageAccessDeniedError,
    StorageUnavailableError,
    StoredResource,
    UniqueValueTakenError,
    VersionMismatchError,
)
from scim.store.tables import ResourceTable
from scim.store.tenants import TenantExistsError, TenantRow, TenantTable
from scim.store.transfer import EncodedRow, PartitionTransfer
from scim.store.transport import RetryBudget, counted_calls, start_counting

__all__ = [
    "MAX_DOCUMENT_CHARS",
    "ActiveLimitReachedError",
    "ActivityPage",
    "ActivityRecord",
    "ActivityTable",
    "CountChange",
    "Counts",
    "DocumentTooLargeError",
    "EncodedRow",
    "IndexEntry",
    "PartitionTransfer",
    "ResourceTable",
    "RetryBudget",
    "RoundTripCounter",
    "StorageAccessDeniedError",
    "StorageUnavailableError",
    "StoredResource",
    "TableStorage",
    "TenantExistsError",
    "TenantRow",
    "TenantTable",
    "TrafficBucket",
    "UniqueValueTakenError",
    "VersionMismatchError",
    "counted_calls",
    "start_counting",
]
