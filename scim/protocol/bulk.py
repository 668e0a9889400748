"""RFC 7644 §3.7 bulk requests, pure: the envelope's shape and limits, operation paths, and `bulkId:` references.

No store and no services here: scim.api.bulk runs each operation as the single request it stands for.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from scim2_models import InvalidSyntaxException, InvalidValueException, PayloadTooLargeException

from scim.protocol.documents import require_object, require_schema

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
METHODS = ("POST", "PUT", "PATCH", "DELETE")
"""RFC 7644 §3.7 `method`: the writes; a read has no place in a bulk job."""

REFERENCE_PREFIX = "bulkId:"
"""RFC 7644 §3.7.2: a value "bulkId:qwerty" stands for the id of the resource the POST with bulkId qwerty creates."""
_QUOTED_REFERENCE = re.compile(r'"bulkId:([^"]+)"')
"""A reference quoted inside a string: a PATCH path's filter, e.g. members[value eq "bulkId:qwerty"]."""
_PATH = re.compile(r"/?(?P<endpoint>[A-Za-z]+)(?:/(?P<id>[^/?#]+))?/?")
ENDPOINTS = {"users": "Users", "groups": "Groups"}
"""The resource endpoints a bulk operation may write to, by their case-folded name."""


@dataclass(frozen=True)
class BulkOperation:
    """One operation as sent; ``problem`` says why its shape alone keeps it from running (a 400 of its own)."""

    method: str | None
    path: str | None
    bulk_id: str | None
    version: str | None
    data: Any
    problem: str | None = None
    references: tuple[str, ...] = ()
    """The bulkIds its path and data refer to, each once, in order of appearance (found once, when parsed)."""


@dataclass(frozen=True)
class BulkJob:
    """A bulk request's operations, in the order sent, and its failOnErrors (None: run them all)."""

    operations: tuple[BulkOperation, ...]
    fail_on_errors: int | None

    @functools.cached_property
    def creators(self) -> dict[str, int]:
        """bulkId -> index of the POST operation that declares it."""
        return {op.bulk_id: n for n, op in enumerate(self.operations) if op.method == "POST" and op.bulk_id}

    def is_circular(self, index: int, reference: str) -> bool:
        """Whether `reference`, from operation `index`, leads back to it through the POSTs that declare the
        bulkIds referred to on the way (RFC 7644 §3.7.1's circular reference)."""
        creator = self.creators.get(reference)
        return creator is not None and self._components[creator] == self._components[index]

    def _edges(self, index: int) -> list[int]:
        creators = self.creators
        return [creators[r] for r in self.operations[index].references if r in creators]

    @functools.cached_property
    def _components(self) -> list[int]:
        """The strongly connected component of each operation in the reference graph (Kosaraju, iterative):
        linear in operations and references, however many references a request carries."""
        count = len(self.operations)
        order: list[int] = []
        visited = [False] * count
        for root in range(count):
            if visited[root]:
                continue
            visited[root] = True
            stack = [(root, iter(self._edges(root)))]
            while stack:
                node, edges = stack[-1]
                following = next((e for e in edges if not visited[e]), None)
                if following is None:
                    stack.pop()
                    order.append(node)
                else:
                    visited[following] = True
                    stack.append((following, iter(self._edges(following))))
        reverse: list[list[int]] = [[] for _ in range(count)]
        for node in range(count):
            for target in self._edges(node):
                reverse[target].append(node)
        component = [-1] * count
        for root in reversed(order):
            if component[root] >= 0:
                continue
            component[root] = root
            pending = [root]
            while pending:
                node = pending.pop()
                for source in reverse[node]:
                    if component[source] < 0:
                        component[source] = root
                        pending.append(source)
        return component


def _attribute(payload: Mapping[str, Any], name: str) -> Any:
    """An attribute of a JSON object, its name compared case-insensitively (RFC 7643 §2.1)."""
    folded = name.casefold()
    return next((value for key, value in payload.items() if key.casefold() == folded), None)


def _has_attribute(payload: Mapping[str, Any], name: str) -> bool:
    folded = name.casefold()
    return any(key.casefold() == folded for key in payload)


def parse_bulk_request(payload: Any, max_operations: int) -> BulkJob:
    """The bulk job a BulkRequest body describes; 400 for a malformed envelope, 413 past maxOperations."""
    body = require_object(payload)
    require_schema(body, BULK_REQUEST)
    raw = _attribute(body, "Operations")
    if not isinstance(raw, list) or not raw:
        raise InvalidSyntaxException(detail="'Operations' must be a non-empty list of bulk operations")
    if len(raw) > max_operations:
        # RFC 7644 §3.7.4: 413, and the body names the limit exceeded.
        raise PayloadTooLargeException(
            detail=f"The bulk request has {len(raw)} operations; maxOperations is {max_operations}"
        )
    fail_on_errors = _attribute(body, "failOnErrors")
    if fail_on_errors is not None and (isinstance(fail_on_errors, bool) or not isinstance(fail_on_errors, int)):
        raise InvalidSyntaxException(detail="'failOnErrors' must be an integer")
    if fail_on_errors is not None and fail_on_errors < 1:
        raise InvalidValueException(
            detail="'failOnErrors' is the number of errors after which to stop: at least 1 (omit it to run all)"
        )
    operations = tuple(_operation(n, item) for n, item in enumerate(raw))
    seen: set[str] = set()
    for op in operations:
        if op.bulk_id is None:
            continue
        if op.bulk_id in seen:
            raise InvalidSyntaxException(detail=f"bulkId {op.bulk_id!r} is used twice; bulkIds are unique in a request")
        seen.add(op.bulk_id)
    return BulkJob(operations, fail_on_errors)


def _operation(index: int, item: Any) -> BulkOperation:
    if not isinstance(item, dict):
        raise InvalidSyntaxException(detail=f"Operations[{index}] must be a JSON object")
    method, path, bulk_id, version = (_attribute(item, name) for name in ("method", "path", "bulkId", "version"))
    data = _attribute(item, "data")
    problem = None
    if not isinstance(method, str) or method.upper() not in METHODS:
        problem = f"'method' must be one of {', '.join(METHODS)}"
    elif not isinstance(path, str) or not path:
        problem = "'path' is required: /Users or /Groups for a POST, /Users/<id> or /Groups/<id> otherwise"
    elif bulk_id is not None and (not isinstance(bulk_id, str) or not bulk_id):
        problem = "'bulkId' must be a non-empty string"
    elif method.upper() == "POST" and bulk_id is None:
        problem = "'bulkId' is required when 'method' is POST (RFC 7644 §3.7)"
    elif version is not None and not isinstance(version, str):
        problem = "'version' must be a string: the resource's ETag"
    elif method.upper() != "DELETE" and not _has_attribute(item, "data"):
        problem = f"'data' is required when 'method' is {method.upper()}"
    found: dict[str, None] = {}
    for value in (path, data):
        _collect(value, found)
    return BulkOperation(
        method=method.upper() if isinstance(method, str) else None,
        path=path if isinstance(path, str) else None,
        bulk_id=bulk_id if isinstance(bulk_id, str) and bulk_id else None,
        version=version if isinstance(version, str) else None,
        data=data,
        problem=problem,
        references=tuple(found),
    )


def split_path(path: str) -> tuple[str, str | None] | None:
    """(endpoint, id or None) of a bulk operation's relative path such as /Users or /Groups/<id>; None if not one."""
    match = _PATH.fullmatch(path)
    if match is None:
        return None
    endpoint = ENDPOINTS.get(match["endpoint"].casefold())
    if endpoint is None:
        return None
    return endpoint, match["id"]


def _reference(text: str) -> str | None:
    if text.startswith(REFERENCE_PREFIX) and len(text) > len(REFERENCE_PREFIX):
        return text[len(REFERENCE_PREFIX) :]
    return None


def _collect(value: Any, found: dict[str, None]) -> None:
    """Every reference in value: strings that are one whole, or quoted ones inside a string, and path segments."""
    if isinstance(value, str):
        whole = _reference(value)
        if whole is not None:
            found.setdefault(whole)
        for segment in value.split("/")[1:]:  # an operation's path: /Users/bulkId:qwerty
            named = _reference(segment)
            if named is not None:
                found.setdefault(named)
        for quoted in _QUOTED_REFERENCE.findall(value):
            found.setdefault(quoted)
    elif isinstance(value, dict):
        for item in value.values():
            _collect(item, found)
    elif isinstance(value, list):
        for item in value:
            _collect(item, found)


def resolve(value: Any, resource_id: Callable[[str], str]) -> Any:
    """value with each `bulkId:<x>` reference replaced by resource_id(x), which raises for one it cannot resolve."""
    if isinstance(value, str):
        whole = _reference(value)
        if whole is not None:
            return resource_id(whole)
        if "/" in value:
            head, *segments = value.split("/")
            value = "/".join([head, *(_resolved_segment(s, resource_id) for s in segments)])
        return _QUOTED_REFERENCE.sub(lambda match: f'"{resource_id(match[1])}"', value)
    if isinstance(value, dict):
        return {key: resolve(item, resource_id) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, resource_id) for item in value]
    return value


def _resolved_segment(segment: str, resource_id: Callable[[str], str]) -> str:
    named = _reference(segment)
    return resource_id(named) if named is not None else segment
