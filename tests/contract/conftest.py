"""The store contract: every test here runs on Table Storage (Azurite) and on the in-memory twin
(scim.store.memory), so what the services rely on is proven of both: same rows, same answers, same errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devhost.azurite import Azurite
from scim.store import MemoryStorage, TableStorage


@pytest.fixture(scope="session", params=["azurite", "memory"])
def storage(request: pytest.FixtureRequest) -> Iterator[TableStorage]:
    """The store under contract: Azurite's tables, or the in-memory twin."""
    store: TableStorage
    if request.param == "azurite":
        azurite: Azurite = request.getfixturevalue("azurite")
        store = TableStorage(connection_string=azurite.connection_string, table_prefix="contract")
    else:
        store = MemoryStorage(table_prefix="contract")
    yield store
    store.close()
