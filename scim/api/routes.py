"""The one route table: every HTTP route's name, path, host methods and handler, in registration order.

function_app.py registers a Functions trigger per row (its function name from the row), the local host serves
those triggers (devhost.server), and scim.api.handle dispatches by the row's name, which is also the
`operation` of the request's log line and the route its activity outcome comes from. The catch-all is last.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from scim.api import bulk, discovery
from scim.api.scim import ScimApi
from scim.http import Request, Response
from scim.store import RoundTripCounter, counting

HOST_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
"""Every route takes every method at the host, so scim.api, not the host, answers a wrong one (a SCIM 405)."""


@dataclass(frozen=True)
class Route:
    """One HTTP route: ``path`` is the host's route template (host.json routePrefix is empty)."""

    name: str
    path: str
    handler: Callable[[ScimApi, Request], Response] | None
    """None for the operator pages: HTML, answered by scim.api.handle_operator."""
    methods: tuple[str, ...] = HOST_METHODS

    @property
    def function_name(self) -> str:
        """The Functions function's name: unique per route (the Python v2 model requires it)."""
        return f"scim_{self.name}" if self.path.startswith(("scim/", "api/scim/")) else self.name

    @property
    def is_operator(self) -> bool:
        return self.handler is None


def _setup_page(api: ScimApi, request: Request) -> Response:
    """The customer's setup page (scim.api.setup_page), built with the operator pages on first use; logged like a
    SCIM request (ids only: the link's code is no route parameter the log line reads)."""
    started, calls = time.perf_counter(), RoundTripCounter()
    with counting(calls):
        pages = api.operator.setup if api.operator is not None else None
        response = pages.handle(request) if pages is not None else Response(404, b"Not Found", {})
    ScimApi._log(request, "setup", request.route_params.get("tenant", "-"), response.status, started, calls=calls.count)
    return response


ROUTE_TABLE: tuple[Route, ...] = (
    Route("users", "scim/v2/{tenant}/Users", ScimApi.users_collection),
    Route("users_search", "scim/v2/{tenant}/Users/.search", ScimApi.users_search),
    Route("user", "scim/v2/{tenant}/Users/{id}", ScimApi.user_item),
    Route("search", "scim/v2/{tenant}/.search", ScimApi.root_search),
    Route("groups", "scim/v2/{tenant}/Groups", ScimApi.groups_collection),
    Route("groups_search", "scim/v2/{tenant}/Groups/.search", ScimApi.groups_search),
    Route("group", "scim/v2/{tenant}/Groups/{id}", ScimApi.group_item),
    Route("me", "scim/v2/{tenant}/Me", ScimApi.me),
    Route("bulk", "scim/v2/{tenant}/Bulk", bulk.bulk),
    Route("service_provider_config", "scim/v2/{tenant}/ServiceProviderConfig", discovery.service_provider_config),
    Route("schemas", "scim/v2/{tenant}/Schemas", discovery.schemas),
    Route("schema", "scim/v2/{tenant}/Schemas/{id}", discovery.schema),
    Route("resource_types", "scim/v2/{tenant}/ResourceTypes", discovery.resource_types),
    Route("resource_type", "scim/v2/{tenant}/ResourceTypes/{id}", discovery.resource_type),
    # Outside the SCIM tree: Entra's "OAuth2 client credentials grant" fetches access tokens here.
    Route("oauth_token", "oauth2/token", ScimApi.oauth_token),
    # The operator pages (HTML, operator credential checked in scim.api.admin). Not /admin/: the Functions
    # host reserves it for its own API and refuses function routes that start with it.
    Route("operator_home", "operator", None),
    Route("operator_pages", "operator/{*path}", None),
    # The platform's management API (scim.manage): Entra access tokens, problem details, its own OpenAPI document.
    Route("manage", "manage/v1/{*path}", ScimApi.manage_route),
    # The customer's admin's one-time setup page (issue #27): no credential, the link's code is the key.
    Route("setup", "setup/{tenant}/{code}", _setup_page),
    # The usual Functions prefix, which this app does not use (host.json routePrefix ""): a SCIM 404 that says so.
    Route("api_prefix", "api/scim/{*path}", ScimApi.api_prefix_route),
    # The catch-all stays last: anything no route above matches gets a SCIM 404.
    Route("unknown", "scim/{*path}", ScimApi.unknown_route),
)

SCIM_HANDLERS: dict[str, Callable[[ScimApi, Request], Response]] = {
    route.name: route.handler for route in ROUTE_TABLE if route.handler is not None
}
"""scim.api.handle's dispatch: route name -> handler (the operator pages are not in it)."""
