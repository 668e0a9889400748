"""Raw rows of a tenant's partition, read for the consistency check (scim.platform.invariants), nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from azure.core.exceptions import AzureError

from scim.store.account import TableStorage


def partition_rows(storage: TableStorage, kind: str, tenant: str) -> Iterator[dict[str, Any]]:
    """Every row of the tenant's partition in one resource table, in RowKey order, a page at a time."""
    table = storage.resources(kind)
    try:
        rows = table._table().query_entities("PartitionKey eq @pk", parameters={"pk": tenant}, results_per_page=1000)
        for row in rows:
            yield dict(row)
    except AzureError as exc:
        raise table._guard(exc) from exc
