"""What every SCIM handler needs from a request: the tenant's base URL and the JSON body."""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from scim2_models import ResponseParameters

from scim.http import Request
from scim.protocol.json_body import parse_body

RESPONSE_PARAMETERS = ("attributes", "excludedAttributes")

REQUEST_PAYLOAD: ContextVar[Any] = ContextVar("scim_request_payload", default=None)
"""The body of the request being handled, as parse_json returned it: the activity log's record of what
was sent (a failed create's userName) without parsing it twice. Set and reset by ScimApi._dispatch."""


def base_url(request: Request, trailing_segments: int) -> str:
    """The tenant's SCIM base URL (what Entra calls the Tenant URL), from the request URL."""
    parts = urlsplit(request.url)
    segments = parts.path.rstrip("/").split("/")
    path = "/".join(segments[: len(segments) - trailing_segments]) if trailing_segments else "/".join(segments)
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def parse_json(request: Request, max_bytes: int) -> Any:
    """The body as JSON, strictly (scim.protocol.json_body): size, media type, UTF-8, depth, duplicates."""
    payload = parse_body(request.body, request.header("content-type"), max_bytes)
    REQUEST_PAYLOAD.set(payload)
    return payload


def asks_for(params: ResponseParameters[Any] | None, attribute: str) -> bool:
    """Whether a response with these attributes/excludedAttributes returns an attribute returned by default."""
    if params is None:
        return True
    wanted = {str(a).lower().rsplit(":", 1)[-1] for a in params.attributes or []}
    excluded = {str(a).lower().rsplit(":", 1)[-1] for a in params.excluded_attributes or []}
    name = attribute.lower()
    if wanted:
        return name in wanted or any(w.startswith(f"{name}.") for w in wanted)
    return name not in excluded


def has_response_parameters(query: Mapping[str, str]) -> bool:
    return any(query.get(name) for name in RESPONSE_PARAMETERS)
