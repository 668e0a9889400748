"""What every SCIM handler shares: the tenant's base URL, the JSON body, paging, rendering and ETags."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Generic, TypeVar
from urllib.parse import urlsplit, urlunsplit

from scim2_models import Context, InvalidSyntaxException, Resource, ResponseParameters, SearchRequest

from scim.api.context import RequestContext
from scim.api.query import entity_tags, search_request
from scim.http import Request, Response
from scim.models import ENTRA_POLICY
from scim.protocol.documents import require_schema
from scim.protocol.json_body import parse_body
from scim.settings import Settings

RESPONSE_PARAMETERS = ("attributes", "excludedAttributes")
R = TypeVar("R", bound=Resource[Any])


def base_url(request: Request, trailing_segments: int) -> str:
    """The tenant's SCIM base URL (what Entra calls the Tenant URL), from the request URL."""
    parts = urlsplit(request.url)
    segments = parts.path.rstrip("/").split("/")
    path = "/".join(segments[: len(segments) - trailing_segments]) if trailing_segments else "/".join(segments)
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def parse_json(ctx: RequestContext, max_bytes: int) -> Any:
    """The body as JSON, strictly (scim.protocol.json_body): size, media type, UTF-8, depth, duplicates.

    Kept in the request's context: the activity log records what was sent (a failed create's userName).
    """
    ctx.payload = parse_body(ctx.request.body, ctx.request.header("content-type"), max_bytes)
    return ctx.payload


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


def page_bounds(settings: Settings, start_index: int | None, count: int | None) -> tuple[int, int]:
    """startIndex (1-based, at least 1) and count (default and maximum from the settings)."""
    start = max(start_index or 1, 1)
    wanted = settings.default_page_size if count is None else max(count, 0)
    return start, min(wanted, settings.max_page_size)


class ResourceRoutes(Generic[R]):
    """What the handlers of every resource type share: rendering, ETags, SearchRequest bodies, 304s."""

    model: type[R]
    endpoint: str  # "Users", "Groups"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def render(self, resource: R, base: str, params: ResponseParameters[Any] | None = None) -> dict[str, Any]:
        """The resource as JSON, with its location under this tenant's base URL."""
        if resource.meta is not None:
            resource.meta.location = f"{base}/{self.endpoint}/{resource.id}"
        return resource.model_dump(
            scim_ctx=Context.RESOURCE_QUERY_RESPONSE, response_parameters=params, scim_policy=ENTRA_POLICY
        )

    def respond(self, status: int, resource: R, base: str, params: ResponseParameters[Any] | None = None) -> Response:
        headers = {"Location": f"{base}/{self.endpoint}/{resource.id}"}
        if resource.meta is not None and resource.meta.version:
            headers["ETag"] = resource.meta.version
        return Response.scim_json(status, self.render(resource, base, params), headers)

    def not_modified(self, request: Request, resource: R) -> Response | None:
        """304 when If-None-Match names the resource's current version (RFC 7232 §3.2)."""
        version = resource.meta.version if resource.meta is not None else None
        tags = entity_tags(request.header("if-none-match"))
        if version and (version in tags or "*" in tags):
            return Response.empty(304, {"ETag": version})
        return None

    def model_for(self, tenant: str) -> type[R]:
        """The resource model of this type for a tenant (users: with its declared custom attributes)."""
        return self.model

    def search_body(self, ctx: RequestContext) -> SearchRequest[Any]:
        """The SearchRequest of a POST …/.search (RFC 7644 §3.4.3), bound to this resource type."""
        payload = parse_json(ctx, self.settings.max_body_bytes)
        if not isinstance(payload, dict):
            raise InvalidSyntaxException(detail="The request body must be a SearchRequest JSON object")
        require_schema(payload, str(SearchRequest.__schema__))
        body = {key: value for key, value in payload.items() if key != "schemas"}
        return search_request(self.model_for(ctx.tenant), body)
