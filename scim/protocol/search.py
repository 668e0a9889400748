"""Search without storage: filter terms and index plans, the bounds of a page, matching, sort order, paging.

scim.resources.search runs a query over a tenant's rows with these; nothing here reads storage. Each
candidate is validated into a model once, matched once, and only the requested page is kept in memory.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from scim2_models import InvalidFilterException, Resource, ScimFilter, SearchRequest, TooManyException
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

R = TypeVar("R", bound=Resource[Any])


class Candidate(Protocol):
    """What the plan needs of a stored row: its id (to read the page again) and its size (to bound the page)."""

    @property
    def id(self) -> str: ...

    @property
    def chars(self) -> int: ...


C = TypeVar("C", bound=Candidate)


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


MAX_SORTED_RESULTS = 10_000
"""Last result a sorted page may reach (startIndex + count - 1): a sort keeps that many keys while it reads
the partition. Beyond it a sorted query answers 400 tooMany, unless the page is past the end (known from the
counter row without a filter, from the filter's scan with one)."""

SORT_KEY_CHARS = 256
"""Characters of a string sort value that order it: the kept keys stay small whatever the values' size;
values alike in these characters come in the order the scan met them (id order)."""

PAGE_MAX_CHARS = 4_000_000
"""Characters of stored documents one page answers at most (at least one resource): a page of large
resources holds fewer than count, as RFC 7644 §3.4.2.4 allows (itemsPerPage says how many)."""


@dataclass(frozen=True)
class SearchPage(Generic[R]):
    """One page of matches and the exact number of matches in all."""

    total: int
    resources: list[R]


def _sort_key(query: SearchRequest[Any]) -> Callable[[int, Any], tuple[Any, ...]]:
    """RFC 7644 §3.4.2.3 order as scim2-models' SearchRequest.sort defines it, stable on arrival order."""
    descending = query.sort_order == SearchRequest.SortOrder.descending

    def key(seq: int, resource: Any) -> tuple[Any, ...]:
        value = query.sort_value(resource)
        if isinstance(value, str):
            value = value[:SORT_KEY_CHARS]
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


def sorted_too_far(query: SearchRequest[Any], first: int, count: int) -> bool:
    """Whether a sorted page would reach past MAX_SORTED_RESULTS (first is the 0-based start)."""
    return query.sort_by is not None and first + count > MAX_SORTED_RESULTS


def too_far() -> TooManyException:
    return TooManyException(
        detail=f"A sorted page may reach at most result {MAX_SORTED_RESULTS} (startIndex + count - 1); "
        "narrow the filter, or page without sortBy"
    )


def unsorted_page(matches: Iterator[tuple[C, R]], first: int, count: int) -> SearchPage[R]:
    """The matches' page in arrival order, within PAGE_MAX_CHARS (at least one), and their exact number."""
    total = 0
    page: list[R] = []
    held = 0
    for position, (row, resource) in enumerate(matches):
        total += 1
        if first <= position < first + count and (not page or held < PAGE_MAX_CHARS):
            page.append(resource)
            held += row.chars
    return SearchPage(total, page)


def sorted_ids(
    query: SearchRequest[Any], matches: Iterator[tuple[C, R]], first: int, count: int
) -> tuple[int, list[str]]:
    """The number of matches, and the ids of the page's in sort order: a heap of first + count keys and ids
    (never the resources), so memory follows MAX_SORTED_RESULTS, not the partition or the resources' size."""
    key = _sort_key(query)
    total_box = [0]

    def keyed() -> Iterator[tuple[tuple[Any, ...], str]]:
        for seq, (row, resource) in enumerate(matches):
            total_box[0] += 1
            yield key(seq, resource), row.id

    keep = first + count
    if query.sort_order == SearchRequest.SortOrder.descending:
        best = heapq.nsmallest(keep, keyed(), key=lambda item: _Reversed(item[0]))
    else:
        best = heapq.nsmallest(keep, keyed(), key=lambda item: item[0])
    return total_box[0], [rid for _key, rid in best[first:keep]]


def matching(rows: Iterable[C], query: SearchRequest[Any], to_model: Callable[[C], R]) -> Iterator[tuple[C, R]]:
    """Each row validated into a model once, kept with its row when the filter matches it."""
    for row in rows:
        resource = to_model(row)
        if query.filter is None or query.filter.match(resource):
            yield row, resource


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
