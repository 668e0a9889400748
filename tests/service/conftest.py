"""Service tests on the in-memory store (scim.store.memory): the services' rules, answers and costs, without
Azurite. tests/contract/ proves the twin answers as Table Storage does; tests/integration/ keeps what needs
the real service (faults, several workers, the CLI, delivery)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scim.store import MemoryStorage, TableStorage


@pytest.fixture(scope="session")
def storage() -> Iterator[TableStorage]:
    store = MemoryStorage(table_prefix="test")
    yield store
    store.close()
