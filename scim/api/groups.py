"""HTTP handlers for /Groups: PATCH answers 204 as Entra prefers, members only when asked for."""

from __future__ import annotations

from typing import Any

from scim2_models import ResponseParameters, SearchRequest

from scim.api.common import ResourceRoutes, asks_for, base_url, has_response_parameters, page_bounds, parse_json
from scim.api.context import RequestContext
from scim.api.query import list_body, list_query, response_parameters
from scim.http import Response
from scim.models import GroupResource
from scim.resources.groups import GroupService
from scim.settings import Settings


class GroupRoutes(ResourceRoutes[GroupResource]):
    """GET/POST /Groups, POST /Groups/.search, and GET/PUT/PATCH/DELETE /Groups/{id}."""

    model = GroupResource
    endpoint = "Groups"

    def __init__(self, settings: Settings, groups: GroupService) -> None:
        super().__init__(settings)
        self.groups = groups

    def render(
        self, resource: GroupResource, base: str, params: ResponseParameters[Any] | None = None
    ) -> dict[str, Any]:
        body = super().render(resource, base, params)
        for member in body.get("members") or []:
            member["$ref"] = f"{base}/Users/{member['value']}"
        return body

    def list(self, ctx: RequestContext) -> Response:
        return self._search(ctx.tenant, list_query(GroupResource, ctx.request.query), base_url(ctx.request, 1))

    def post_search(self, ctx: RequestContext) -> Response:
        return self._search(ctx.tenant, self.search_body(ctx), base_url(ctx.request, 2))

    def _search(self, tenant: str, query: SearchRequest[GroupResource], base: str) -> Response:
        start, count = page_bounds(self.settings, query.start_index, query.count)
        page = self.groups.search(tenant, query, start, count, members=asks_for(query, "members"))
        resources = [self.render(group, base, query) for group in page.resources]
        return Response.scim_json(200, list_body(page.total, start, resources))

    def create(self, ctx: RequestContext) -> Response:
        group = self.groups.create(ctx.tenant, parse_json(ctx, self.settings.max_body_bytes))
        return self.respond(201, group, base_url(ctx.request, 1))

    def get(self, ctx: RequestContext) -> Response:
        params = response_parameters(GroupResource, ctx.request.query)
        group = self.groups.get(ctx.tenant, ctx.request.route_params["id"], members=asks_for(params, "members"))
        return self.not_modified(ctx.request, group) or self.respond(200, group, base_url(ctx.request, 2), params)

    def replace(self, ctx: RequestContext) -> Response:
        payload = parse_json(ctx, self.settings.max_body_bytes)
        group = self.groups.replace(ctx.tenant, ctx.request.route_params["id"], payload, ctx.request.header("if-match"))
        return self.respond(200, group, base_url(ctx.request, 2))

    def patch(self, ctx: RequestContext) -> Response:
        """204 with no body (Entra's preference); 200 and the resource when attributes are asked for."""
        payload = parse_json(ctx, self.settings.max_body_bytes)
        answer = has_response_parameters(ctx.request.query)
        group = self.groups.patch(
            ctx.tenant, ctx.request.route_params["id"], payload, ctx.request.header("if-match"), answer=answer
        )
        if group is None:
            return Response.empty(204)
        params = response_parameters(GroupResource, ctx.request.query)
        if asks_for(params, "members"):
            self.groups.with_members(ctx.tenant, group)
        return self.respond(200, group, base_url(ctx.request, 2), params)

    def delete(self, ctx: RequestContext) -> Response:
        self.groups.delete(ctx.tenant, ctx.request.route_params["id"], ctx.request.header("if-match"))
        return Response.empty(204)
