"""HTTP handlers for /Users: a request's parameters and body in, the SCIM answer Entra expects out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scim2_models import InvalidFilterException, SearchRequest

from scim.api.common import ResourceRoutes, asks_for, base_url, page_bounds, parse_json
from scim.api.context import RequestContext
from scim.api.query import list_body, list_query, response_parameters
from scim.http import Response
from scim.models import UserResource
from scim.resources.user_extensions import undeclared_in_filter
from scim.resources.users import UserService
from scim.settings import Settings


class UserRoutes(ResourceRoutes[UserResource]):
    """GET/POST /Users, POST /Users/.search, and GET/PUT/PATCH/DELETE /Users/{id}."""

    model = UserResource
    endpoint = "Users"

    def __init__(self, settings: Settings, users: UserService) -> None:
        super().__init__(settings)
        self.users = users

    def model_for(self, tenant: str) -> type[UserResource]:
        return self.users.model_for(tenant)

    def list(self, ctx: RequestContext) -> Response:
        query = self._declared(ctx, lambda: list_query(self.model_for(ctx.tenant), ctx.request.query))
        return self._search(ctx.tenant, query, base_url(ctx.request, 1))

    def post_search(self, ctx: RequestContext) -> Response:
        """POST /Users/.search (RFC 7644 §3.4.3): the query in a SearchRequest body."""
        return self._search(ctx.tenant, self._declared(ctx, lambda: self.search_body(ctx)), base_url(ctx.request, 2))

    def _declared(self, ctx: RequestContext, build: Callable[[], SearchRequest[Any]]) -> SearchRequest[Any]:
        """A filter on an extension attribute the tenant has not declared: invalidFilter with the command."""
        try:
            return build()
        except InvalidFilterException as exc:
            body = ctx.payload if isinstance(ctx.payload, dict) else {}
            expression = ctx.request.query.get("filter") or body.get("filter")
            if not isinstance(expression, str):
                raise
            words = undeclared_in_filter(ctx.tenant, expression, self.model_for(ctx.tenant))
            if words is None:
                raise
            raise InvalidFilterException(detail=words) from exc

    def _search(self, tenant: str, query: SearchRequest[UserResource], base: str) -> Response:
        start, count = page_bounds(self.settings, query.start_index, query.count)
        page = self.users.search(tenant, query, start, count)
        resources = [self.render(user, base, query) for user in page.resources]
        return Response.scim_json(200, list_body(page.total, start, resources))

    def create(self, ctx: RequestContext) -> Response:
        payload = parse_json(ctx, self.settings.max_body_bytes)
        user = self.users.create(ctx.tenant, payload, active_limit=ctx.active_limit)
        return self.respond(201, user, base_url(ctx.request, 1))

    def get(self, ctx: RequestContext) -> Response:
        params = response_parameters(self.model_for(ctx.tenant), ctx.request.query)
        user = self.users.get(ctx.tenant, ctx.request.route_params["id"], groups=asks_for(params, "groups"))
        return self.not_modified(ctx.request, user) or self.respond(200, user, base_url(ctx.request, 2), params)

    def replace(self, ctx: RequestContext) -> Response:
        payload = parse_json(ctx, self.settings.max_body_bytes)
        user = self.users.replace(
            ctx.tenant,
            ctx.request.route_params["id"],
            payload,
            ctx.request.header("if-match"),
            active_limit=ctx.active_limit,
        )
        return self.respond(200, user, base_url(ctx.request, 2))

    def patch(self, ctx: RequestContext) -> Response:
        params = response_parameters(self.model_for(ctx.tenant), ctx.request.query)
        payload = parse_json(ctx, self.settings.max_body_bytes)
        user = self.users.patch(
            ctx.tenant,
            ctx.request.route_params["id"],
            payload,
            ctx.request.header("if-match"),
            active_limit=ctx.active_limit,
        )
        return self.respond(200, user, base_url(ctx.request, 2), params)

    def delete(self, ctx: RequestContext) -> Response:
        self.users.delete(ctx.tenant, ctx.request.route_params["id"], ctx.request.header("if-match"))
        return Response.empty(204)
