"""Table Storage for SCIM resources; the only package that imports azure.data.tables.

The names below are the store's whole public API: code outside scim.store imports them from here, never from
a submodule, and never builds a row key itself (the codec is scim.store.keys, re-exported here).
"""

from scim.store.account import DataAccounts, TableStorage, UnknownAccountError
from scim.store.activity import MAX_PAGE as MAX_ACTIVITY_PAGE
from scim.store.activity import ActivityPage, ActivityRecord, ActivityTable, TrafficBucket, bucket_start
from scim.store.azure import KeepAliveTransport, RetryBudget, lean_async_transactions
from scim.store.bulk import LoadedResource
from scim.store.calls import counted_calls, counting, start_counting
from scim.store.changes import ChangeRecord, ChangeRows, FeedCursor, decode_cursor, encode_cursor
from scim.store.counters import ActiveLimitReachedError, CountChange, Counts
from scim.store.idempotency import IdempotencyKeyTakenError, IdempotencyRow, IdempotencyTable
from scim.store.keys import (
    COUNTER_ROW_KEY,
    COUNTER_SHARDS,
    activity_key,
    attribute_index_prefix,
    change_suffix,
    index_key,
    is_change_key,
    is_counter_key,
    is_index_key,
    is_record_key,
    member_key,
    member_of_key,
    membership_of,
    name_key,
    named_activity_key,
    record_key,
    resource_id_of,
    resource_key,
    shard_of,
    user_entry_key,
    user_entry_of,
)
from scim.store.marks import LEGACY as LEGACY_SEQUENCE
from scim.store.marks import Watermark
from scim.store.membership import ADDS_PER_TRANSACTION as MEMBER_ADDS_PER_TRANSACTION
from scim.store.membership import PAIRS_PER_TRANSACTION as MEMBER_PAIRS_PER_TRANSACTION
from scim.store.membership import GroupGoneError, Memberships
from scim.store.memory import MemoryStorage
from scim.store.queue import MAX_MESSAGE_BYTES, ChangeQueue, QueueUnavailableError, encoded_size
from scim.store.reads import POINT_READ_THREADS, SCAN_PAGE_CHARS
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
from scim.store.setup_links import SetupLinkRow, SetupLinkTable
from scim.store.tables import ResourceTable
from scim.store.tenant_schema import TenantSchemaRow, TenantSchemaTable
from scim.store.tenants import VERIFIERS_PROPERTY, TenantExistsError, TenantRow, TenantTable, TokenVerifier
from scim.store.transfer import EncodedRow, PartitionTransfer
from scim.store.user_entries import ORPHAN_GRACE as USER_ENTRY_ORPHAN_GRACE
from scim.store.user_entries import MemberNotUserError, UserEntries

__all__ = [
    "COUNTER_ROW_KEY",
    "COUNTER_SHARDS",
    "LEGACY_SEQUENCE",
    "MAX_ACTIVITY_PAGE",
    "MAX_DOCUMENT_CHARS",
    "MAX_MESSAGE_BYTES",
    "MEMBER_ADDS_PER_TRANSACTION",
    "MEMBER_PAIRS_PER_TRANSACTION",
    "POINT_READ_THREADS",
    "SCAN_PAGE_CHARS",
    "USER_ENTRY_ORPHAN_GRACE",
    "VERIFIERS_PROPERTY",
    "ActiveLimitReachedError",
    "ActivityPage",
    "ActivityRecord",
    "ActivityTable",
    "ChangeQueue",
    "ChangeRecord",
    "ChangeRows",
    "CountChange",
    "Counts",
    "DataAccounts",
    "DocumentTooLargeError",
    "EncodedRow",
    "FeedCursor",
    "GroupGoneError",
    "IdempotencyKeyTakenError",
    "IdempotencyRow",
    "IdempotencyTable",
    "IndexEntry",
    "KeepAliveTransport",
    "LoadedResource",
    "MemberNotUserError",
    "Memberships",
    "MemoryStorage",
    "PartitionTransfer",
    "QueueUnavailableError",
    "ResourceTable",
    "RetryBudget",
    "RoundTripCounter",
    "SetupLinkRow",
    "SetupLinkTable",
    "StorageAccessDeniedError",
    "StorageUnavailableError",
    "StoredResource",
    "TableStorage",
    "TenantExistsError",
    "TenantRow",
    "TenantSchemaRow",
    "TenantSchemaTable",
    "TenantTable",
    "TokenVerifier",
    "TrafficBucket",
    "UniqueValueTakenError",
    "UnknownAccountError",
    "UserEntries",
    "VersionMismatchError",
    "Watermark",
    "activity_key",
    "attribute_index_prefix",
    "bucket_start",
    "change_suffix",
    "counted_calls",
    "counting",
    "decode_cursor",
    "encode_cursor",
    "encoded_size",
    "index_key",
    "is_change_key",
    "is_counter_key",
    "is_index_key",
    "is_record_key",
    "lean_async_transactions",
    "member_key",
    "member_of_key",
    "membership_of",
    "name_key",
    "named_activity_key",
    "record_key",
    "resource_id_of",
    "resource_key",
    "shard_of",
    "start_counting",
    "user_entry_key",
    "user_entry_of",
]
