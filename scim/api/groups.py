"""HTTP handlers for /Groups: PATCH answers 204 as Entra prefers, members only when asked for."""

from __future__ import annotations

from typing import Any

from scim2_models import ResponseParameters, SearchRequest

from scim.api.common import ResourceRoutes, asks_for, base_url, has_response_parameters, page_bounds, parse_json
from scim.api.query import list_body, list_query, response_parameters
from scim.http import Request, Response
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

    def list(self, request: Request, tenant: str) -> Response:
        return self._search(tenant, list_query(GroupResource, request.query), base_url(request, 1))

    def post_search(self, request: Request, tenant: str) -> Response:
        return self._search(tenant, self.search_body(request), base_url(request, 2))

    def _search(self, tenant: str, query: SearchRequest[GroupResource], base: str) -> Response:
        start, count = page_bounds(self.settings, query.start_index, query.count)
        page = self.groups.search(tenant, query, start, count, members=asks_for(query, "members"))
        resources = [self.render(group, base, query) for group in page.resources]
        return Response.scim_json(200, list_body(page.total, start, resources))

    def create(self, request: Request, tenant: str) -> Response:
        group = self.groups.create(tenant, parse_json(request, self.settings.max_body_bytes))
        return self.respond(201, group, base_url(request, 1))

    def get(self, request: Request, tenant: str) -> Response:
        params = response_parameters(GroupResource, request.query)
        group = self.groups.get(tenant, request.route_params["id"], members=asks_for(params, "members"))
        return self.not_modified(request, group) or self.respond(200, group, base_url(request, 2), params)

    def replace(self, request: Request, tenant: str) -> Response:
        payload = parse_json(request, self.settings.max_body_bytes)
        group = self.groups.replace(tenant, request.route_params["id"], payload, request.header("if-match"))
        return self.respond(200, group, base_url(request, 2))

    def patch(self, request: Request, tenant: str) -> Response:
        """204 with no body (Entra's preference); 200 and the resource when attributes are asked for."""
        payload = parse_json(request, self.settings.max_body_bytes)
        answer = has_response_parameters(request.query)
        group = self.groups.patch(
            tenant, request.route_params["id"], payload, request.header("if-match"), answer=answer
        )
        if group is None:
            return Response.empty(204)
        params = response_parameters(GroupResource, request.query)
        if asks_for(params, "members"):
            self.groups.with_members(tenant, group)
        return self.respond(200, group, base_url(request, 2), params)

    def delete(self, request: Request, tenant: str) -> Response:
        self.groups.delete(tenant, request.route_params["id"], request.header("if-match"))
        return Response.empty(204)
