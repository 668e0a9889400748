"""Search plans: which storage lookup answers a filter without scanning the tenant's partition."""

from __future__ import annotations

from dataclasses import dataclass

from scim2_models.path import AttrPath, CompareOperator, Comparison, FilterNode, LogicalExpr, LogicalOperator, ValuePath

from scim.models import USER_SCHEMA
from scim.store import IndexEntry, StoredResource


def comparison_terms(node: FilterNode) -> list[FilterNode]:
    if isinstance(node, LogicalExpr) and node.op == LogicalOperator.and_:
        return list(node.terms)
    return [node]


def is_core_attr(path: AttrPath, name: str, sub: str | None = None) -> bool:
    return (
        path.attr.lower() == name.lower()
        and (path.sub_attr or "").lower() == (sub or "").lower()
        and (path.uri is None or path.uri.lower() == USER_SCHEMA.lower())
    )


def eq_string(node: FilterNode, name: str, sub: str | None = None) -> str | None:
    if (
        isinstance(node, Comparison)
        and node.op == CompareOperator.eq
        and isinstance(node.value, str)
        and is_core_attr(node.attr_path, name, sub)
    ):
        return node.value
    return None


@dataclass(frozen=True)
class SearchPage:
    total: int
    resources: list[StoredResource]


@dataclass(frozen=True)
class Plan:
    """How a filter is answered without a scan: by id, or by one index value."""

    resource_id: str | None = None
    index: IndexEntry | None = None


def only_equalities(node: FilterNode) -> bool:
    """True for a filter made only of eq comparisons joined by and (value selections included)."""
    if isinstance(node, Comparison):
        return node.op == CompareOperator.eq
    if isinstance(node, ValuePath):
        return node.sub_attr is None and only_equalities(node.val_filter)
    if isinstance(node, LogicalExpr) and node.op == LogicalOperator.and_:
        return all(only_equalities(term) for term in node.terms)
    return False
