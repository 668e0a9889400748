"""Query parameters and SearchRequest bodies as scim2-models messages, and the ListResponse we answer."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from pydantic import ValidationError
from scim2_models import (
    InvalidFilterException,
    InvalidValueException,
    ListResponse,
    Resource,
    ResponseParameters,
    SearchRequest,
)

from scim.models import ENTRA_POLICY
from scim.protocol.documents import scim_error_from_validation
from scim.protocol.expressions import check_filter_length
from scim.protocol.search import check_values, filter_error

SEARCH_PARAMETERS = frozenset(
    {"filter", "attributes", "excludedAttributes", "sortBy", "sortOrder", "startIndex", "count"}
)
"""Query parameters a list reads (RFC 7644 §3.4.2); others, such as Entra's aadOptscim062020, are ignored."""

_RESPONSE_PARAMETERS = ("attributes", "excludedAttributes")

MAX_ATTRIBUTE_NAMES = 200
"""Names one attributes or excludedAttributes list may hold: a User has under 100 attribute paths, and each
name is parsed, then compared with every attribute of every resource answered."""


@cache
def _search_request_type(model: type[Resource[Any]]) -> type[SearchRequest[Any]]:
    """SearchRequest[model], built once: pydantic keeps parametrized classes only weakly, so without a strong
    reference the class (a new pydantic model, ~5 ms of CPU) was rebuilt on most requests."""
    return SearchRequest[model]  # type: ignore[valid-type]


def search_request(model: type[Resource[Any]], raw: Mapping[str, Any]) -> SearchRequest[Any]:
    """A SearchRequest bound to the resource model: filter and sortBy are checked against its attributes."""
    for name, value in raw.items():
        if name.lower() == "filter" and isinstance(value, str):
            check_filter_length(value)
        if name.lower() in ("attributes", "excludedattributes"):
            names = value.count(",") + 1 if isinstance(value, str) else len(value) if isinstance(value, list) else 0
            if names > MAX_ATTRIBUTE_NAMES:
                raise InvalidValueException(detail=f"'{name}' may name at most {MAX_ATTRIBUTE_NAMES} attributes")
    try:
        query = _search_request_type(model).model_validate(dict(raw), scim_policy=ENTRA_POLICY)
    except ValidationError as exc:
        error = scim_error_from_validation(exc)
        if isinstance(error, InvalidFilterException):
            raise filter_error(error) from exc
        raise error from exc
    if query.filter is not None:
        check_values(query.filter)
    return query


def list_query(model: type[Resource[Any]], query: Mapping[str, str]) -> SearchRequest[Any]:
    """The SearchRequest a GET on a collection carries in its query string."""
    return search_request(model, {name: value for name, value in query.items() if name in SEARCH_PARAMETERS and value})


def response_parameters(model: type[Resource[Any]], query: Mapping[str, str]) -> ResponseParameters[Any] | None:
    """attributes / excludedAttributes of a request on one resource, or None when it has neither."""
    raw = {name: query[name] for name in _RESPONSE_PARAMETERS if query.get(name)}
    return search_request(model, raw) if raw else None


def list_body(total: int, start_index: int, resources: list[dict[str, Any]]) -> dict[str, Any]:
    """A ListResponse: Entra reads totalResults and Resources (capital R), and expects startIndex and itemsPerPage."""
    return {
        "schemas": [str(ListResponse.__schema__)],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


def entity_tags(header: str | None) -> set[str]:
    """The tags of an If-None-Match or If-Match header; '*' stands for any."""
    return {tag.strip() for tag in (header or "").split(",") if tag.strip()}
