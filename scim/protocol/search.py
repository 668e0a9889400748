"""Search for any resource type: index plans, one validation per candidate, pages that never hold a partition.

A filter the resource type can plan (an indexed equality among its and-ed terms) reads only the candidates
the index names; anything else streams the tenant's partition a storage page at a time. Either way each
candidate is validated into a model once, matched once, and only the requested page is kept in memory;
``totalResults`` is exact. A list with no filter and no sort reads the page's rows alone and takes its total
from the tenant's counter row, so its cost does not grow with the tenant.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from scim2_models import InvalidFilterException, Resource, ScimFilter, SearchRequest
from scim2_models.path import (
    AttrPath,
    CompareOperator,
    Comparison,
    FilterNode,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
    ValuePath,
)
from scim2_models.path.resolution import coerce_value

from scim.protocol.expressions import check_filter_values
from scim.resources.base import plausible_id
from scim.store import ResourceTable, StoredResource

R = TypeVar("R", bound=Resource[Any])


def comparison_terms(node: FilterNode) -> list[FilterNode]:
    """The and-ed terms of a filter (a single term for anything else)."""
    if isinstance(node, LogicalExpr) and node.op == LogicalOperator.and_:
        return list(node.terms)
    return [node]


def is_core_attr(path: AttrPath, schema: str, name: str, sub: str | None = None) -> bool:
    return (
        path.attr.lower() == name.lower()
        and (path.sub_attr or "").lower() == (sub or "").lower()
        and (path.uri is None or path.uri.lower() == schema.lower())
    )


def eq_string(node: FilterNode, schema: str, name: str, sub: str | None = None) -> str | None:
    """The value of an ``attr eq "string"`` term on a core attribute, else None."""
    if (
        isinstance(node, Comparison)
        and node.op == CompareOperator.eq
        and isinstance(node.value, str)
        and is_core_attr(node.attr_path, schema, name, sub)
    ):
        return node.value
    return None


@dataclass(frozen=True)
class SearchPage(Generic[R]):
    """One page of matches and the exact number of matches in all."""

    total: int
    resources: list[R]


def _sort_key(query: SearchRequest[Any]) -> Callable[[tuple[int, Any]], tuple[Any, ...]]:
    """RFC 7644 §3.4.2.3 order as scim2-models' SearchRequest.sort defines it, stable on arrival order."""
    descending = query.sort_order == SearchRequest.SortOrder.descending

    def key(item: tuple[int, Any]) -> tuple[Any, ...]:
        seq, resource = item
        value = query.sort_value(resource)
        missing = value is None
        # Resources without a value come last ascending and first descending; ties keep arrival order.
        return (missing, value if value is not None else "", -seq if descending else seq)

    return key


class _Reversed:
    """Inverts comparison, so heapq.nsmallest can pick a descending page."""

    __slots__ = ("key",)

    def __init__(self, key: tuple[Any, ...]) -> None:
        self.key = key

    def __lt__(self, other: _Reversed) -> bool:
        return other.key < self.key


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
    """Run a query over one tenant: candidate_ids from an index plan, or None to stream the partition."""
    first = max(start_index, 1) - 1
    if query.filter is None and query.sort_by is None:
        total = table.counts(tenant).total
        return SearchPage(total, [to_model(row) for row in table.page(tenant, start_index, count)])

    rows: Iterable[StoredResource]
    if candidate_ids is None:
        rows = table.scan(tenant)
    else:
        found = (table.get(tenant, rid) for rid in sorted(set(candidate_ids)) if plausible_id(rid))
        # An index row whose resource is gone is ignored (never expected: writes are transactional).
        rows = (row for row in found if row is not None)

    matches = _matching(rows, query, to_model)
    if query.sort_by is None:
        total = 0
        page: list[R] = []
        for position, resource in enumerate(matches):
            total += 1
            if first <= position < first + count:
                page.append(resource)
        return SearchPage(total, page)

    counter = itertools.count()
    key = _sort_key(query)
    total_box = [0]

    def numbered() -> Iterator[tuple[int, R]]:
        for resource in matches:
            total_box[0] += 1
            yield next(counter), resource

    keep = first + count
    if query.sort_order == SearchRequest.SortOrder.descending:
        best = heapq.nsmallest(keep, numbered(), key=lambda item: _Reversed(key(item)))
    else:
        best = heapq.nsmallest(keep, numbered(), key=key)
    return SearchPage(total_box[0], [resource for _seq, resource in best[first:keep]])


def _matching(
    rows: Iterable[StoredResource], query: SearchRequest[Any], to_model: Callable[[StoredResource], R]
) -> Iterator[R]:
    for row in rows:
        resource = to_model(row)
        if query.filter is None or query.filter.match(resource):
            yield resource


MAX_FILTER_TERMS = 50
"""Comparisons and presence tests one filter may hold: Entra sends one or two; each costs work per candidate."""


def check_values(scim_filter: ScimFilter[Any]) -> None:
    """400 invalidFilter for a comparison value its attribute cannot hold (``active eq "maybe"``), up front,
    and for a filter with more than MAX_FILTER_TERMS terms, whose matching would cost minutes on a scan.

    scim2-models converts values only while matching, so an empty tenant would answer 200 and a full one 400.
    """
    terms = [0]

    def visit(node: FilterNode, outer: AttrPath | None) -> None:
        if isinstance(node, (Comparison, Present)):
            terms[0] += 1
            if terms[0] > MAX_FILTER_TERMS:
                raise InvalidFilterException(detail=f"A filter may hold at most {MAX_FILTER_TERMS} comparisons")
        if isinstance(node, Comparison):
            path = node.attr_path
            if outer is not None:
                path = AttrPath(attr=outer.attr, sub_attr=path.attr, uri=outer.uri)
            binding = scim_filter.resolve_comparison(path, strict=False)
            if binding is not None:
                coerce_value(binding, node.value, node.op)
        elif isinstance(node, LogicalExpr):
            for term in node.terms:
                visit(term, outer)
        elif isinstance(node, Not):
            visit(node.expr, outer)
        elif isinstance(node, ValuePath):
            visit(node.val_filter, node.attr_path)

    try:
        check_filter_values(scim_filter.ast)
        visit(scim_filter.ast, None)
    except InvalidFilterException as exc:
        raise filter_error(exc) from exc


def filter_error(exc: InvalidFilterException) -> InvalidFilterException:
    """The same error with a hint of the grammar, for an admin reading Entra's provisioning log."""
    return InvalidFilterException(
        detail=f'{exc.detail}. Filters look like: userName eq "value"; values are quoted (RFC 7644 §3.4.2.2)'
    )
