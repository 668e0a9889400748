"""The idempotency keys of the management API's creates (scim.store.IdempotencyTable), on Azurite and the
in-memory twin: a key is reserved once per caller, rewritten only with its ETag, released, and never seen by
the tenants table's own reads."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from scim.store import (
    IdempotencyKeyTakenError,
    IdempotencyRow,
    IdempotencyTable,
    TableStorage,
    TenantTable,
    VersionMismatchError,
)


def test_a_key_is_reserved_once_per_caller_and_changed_only_with_its_etag(storage: TableStorage) -> None:
    table = IdempotencyTable(storage)
    key = f"key-{uuid.uuid4()}"
    row = IdempotencyRow("app-a", key, "digest", "tenant-a", "pending", 0, datetime.now(UTC))
    held = table.reserve(row)
    with pytest.raises(IdempotencyKeyTakenError):
        table.reserve(row)
    table.reserve(replace(row, caller="app-b"))  # another caller's key of the same text
    read = table.get("app-a", key)
    assert read is not None and (read.tenant_id, read.state, read.fingerprint) == ("tenant-a", "pending", "digest")
    done = table.replace(replace(read, state="done", status=201))
    with pytest.raises(VersionMismatchError):
        table.replace(replace(held, state="pending"))  # a stale ETag: another request changed it
    assert table.get("app-a", key).state == "done"  # type: ignore[union-attr]
    table.release(done)
    assert table.get("app-a", key) is None
    assert table.get("app-a", "never-used") is None


def test_keys_are_not_tenants(storage: TableStorage) -> None:
    table = IdempotencyTable(storage)
    table.reserve(IdempotencyRow("app-c", "k", "d", "t", "pending", 0, datetime.now(UTC)))
    assert all(not row.id.startswith("~") for row in TenantTable(storage).all())
