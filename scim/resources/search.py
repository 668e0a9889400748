"""Search for any resource type over one tenant's rows: index candidates or a partition stream, pages that never
hold a partition.

A filter the resource type can plan (an indexed equality among its and-ed terms) reads only the candidates
the index names; anything else streams the tenant's partition a storage page at a time. ``totalResults`` is
exact. A list with no filter and no sort reads the page's rows alone and takes its total from the tenant's
counter row, so its cost does not grow with the tenant. The pure part (matching, order, page bounds) is
scim.protocol.search.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from scim2_models import Resource, SearchRequest

from scim.protocol import search as plan
from scim.protocol.documents import plausible_id
from scim.protocol.search import SearchPage
from scim.store import ResourceTable, StoredResource

R = TypeVar("R", bound=Resource[Any])


def search(
    table: ResourceTable,
    tenant: str,
    query: SearchRequest[Any],
    *,
    start_index: int,
    count: int,
    to_model: Callable[[StoredResource], R],
    candidate_ids: Sequence[str] | None,
) -> SearchPage[R]:
    """Run a query over one tenant: candidate_ids from an index plan, or None to stream the partition.

    A page past the end is empty, and reads nothing when the total is known without reading (no filter).
    """
    first = max(start_index, 1) - 1
    too_far = plan.sorted_too_far(query, first, count)
    if query.filter is None:
        total = table.counts(tenant).total
        if first >= total or count <= 0:
            return SearchPage(total, [])
        if too_far:
            raise plan.too_far()
        if query.sort_by is None:
            rows = table.page(tenant, start_index, count, plan.PAGE_MAX_CHARS)
            return SearchPage(total, [to_model(row) for row in rows])

    candidates: Iterable[StoredResource]
    if candidate_ids is None:
        candidates = table.scan(tenant)
    else:
        found = (table.get(tenant, rid) for rid in sorted(set(candidate_ids)) if plausible_id(rid))
        # An index row whose resource is gone is ignored (never expected: writes are transactional).
        candidates = (row for row in found if row is not None)

    matches = plan.matching(candidates, query, to_model)
    if too_far:  # the filter's matches are counted (the scan the filter costs anyway), none is kept
        total = sum(1 for _ in matches)
        if first >= total:
            return SearchPage(total, [])
        raise plan.too_far()
    if query.sort_by is None:
        return plan.unsorted_page(matches, first, count)
    total, ids = plan.sorted_ids(query, matches, first, count)
    return SearchPage(total, _read_page(table, tenant, query, ids, to_model))


def _read_page(
    table: ResourceTable,
    tenant: str,
    query: SearchRequest[Any],
    ids: list[str],
    to_model: Callable[[StoredResource], R],
) -> list[R]:
    """The page's resources read again by id (8 in flight), within PAGE_MAX_CHARS; one deleted or changed
    so that it no longer matches since the scan is left out (the page is then shorter)."""
    page: list[R] = []
    held = 0
    reads = table.get_each(tenant, ids)
    try:
        for _rid, row in reads:
            if row is None:
                continue
            resource = to_model(row)
            if query.filter is None or query.filter.match(resource):
                page.append(resource)
                held += row.chars
                if held >= plan.PAGE_MAX_CHARS:
                    break
    finally:
        reads.close()  # reads not yet started are cancelled
    return page
