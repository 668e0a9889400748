"""Shared fixtures: one in-memory Azurite for the whole run, a fresh tenant per test."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devhost.azurite import Azurite
from scim.store import TableStorage

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_json(name: str) -> Any:
    """A recorded payload, e.g. fixture_json('entra/create_user_tutorial.json')."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """A real Azurite table service, in memory, on a free loopback port; stopped after the run."""
    with Azurite() as server:
        yield server


@pytest.fixture(scope="session")
def storage(azurite: Azurite) -> Iterator[TableStorage]:
    store = TableStorage(connection_string=azurite.connection_string, table_prefix="test")
    yield store
    store.close()


@pytest.fixture
def tenant() -> str:
    """A tenant of its own for each test: partitions isolate tests from each other."""
    return f"t-{uuid.uuid4().hex[:16]}"


def partition_rows(storage: TableStorage, kind: str, tenant: str) -> list[dict[str, Any]]:
    """Every row of a tenant's partition, to assert what is stored (and that failures change nothing)."""
    return sorted(storage.resources(kind).rows(tenant), key=lambda row: str(row["RowKey"]))
