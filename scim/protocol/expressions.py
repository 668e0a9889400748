"""Filters and PATCH paths as untrusted text: capped in length, and their quoted values checked once decoded.

A filter (RFC 7644 §3.4.2.2) or a PATCH path (§3.5.2) quotes its comparison values as JSON strings, so a
``\\ud800`` escape inside one becomes a lone surrogate only when scim2-models decodes it. That decoded value
is what is checked here, on the parsed expression: no second grammar of our own, no regex over the raw text.
The length caps bound what the parser (and every later visit of the expression) can be made to do.
"""

from __future__ import annotations

from collections.abc import Iterator

from scim2_models import InvalidFilterException, InvalidPathException, Path
from scim2_models.path import Comparison, FilterNode, LogicalExpr, Not, ValuePath

from scim.protocol.text import has_lone_surrogate

MAX_FILTER_CHARS = 8192
"""Longest filter accepted (query string or SearchRequest body): Entra's are under 300 characters; 50
comparisons (scim.protocol.search.MAX_FILTER_TERMS) of a long e-mail address each still fit."""

MAX_PATH_CHARS = 1024
"""Longest PATCH path (or path-less value key) accepted: Entra's longest, an extension URN with an attribute,
is under 100 characters; a value filter on a 256-character e-mail address still fits."""


def check_filter_length(expression: str) -> None:
    """400 invalidFilter for a filter longer than MAX_FILTER_CHARS, before it is parsed."""
    if len(expression) > MAX_FILTER_CHARS:
        raise InvalidFilterException(
            detail=f"The filter has {len(expression)} characters; at most {MAX_FILTER_CHARS} are accepted"
        )


def check_filter_values(node: FilterNode) -> None:
    """400 invalidFilter if a quoted value of the parsed filter decodes to a lone surrogate."""
    if any(has_lone_surrogate(value) for value in quoted_values(node)):
        raise InvalidFilterException(
            detail="The filter quotes a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff escape)"
        )


def check_path(path: str) -> None:
    """400 invalidPath for a PATCH path longer than MAX_PATH_CHARS, or quoting a lone surrogate.

    A path that does not parse is left to the PATCH validation, which names the syntax error.
    """
    if len(path) > MAX_PATH_CHARS:
        raise InvalidPathException(
            detail=f"The PATCH path has {len(path)} characters; at most {MAX_PATH_CHARS} are accepted"
        )
    if "\\" not in path:  # only an escape can make a surrogate (raw ones are refused with the body)
        return
    try:
        node = Path(path).ast
    except InvalidPathException:
        return
    if node is not None and any(has_lone_surrogate(value) for value in quoted_values(node)):
        raise InvalidPathException(
            detail="The PATCH path quotes a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff escape)"
        )


def quoted_values(node: object) -> Iterator[str]:
    """The decoded string values an expression compares with (depth is bounded by the parser, 32)."""
    if isinstance(node, Comparison):
        if isinstance(node.value, str):
            yield node.value
    elif isinstance(node, LogicalExpr):
        for term in node.terms:
            yield from quoted_values(term)
    elif isinstance(node, Not):
        yield from quoted_values(node.expr)
    elif isinstance(node, ValuePath):
        yield from quoted_values(node.val_filter)
