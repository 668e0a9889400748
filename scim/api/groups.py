"""HTTP handlers for /Groups: PATCH answers 204 as Entra prefers, members only when asked for."""

from __future__ import annotations

from typing import Any

from scim2_models import Context, InvalidSyntaxException, ResponseParameters, SearchRequest

from scim.api.common import asks_for, base_url, has_response_parameters, parse_json
from scim.api.query import entity_tags, list_body, list_query, response_parameters, search_request
from scim.api.users import page_bounds
from scim.http import Request, Response
from scim.models import ENTRA_POLICY, GroupResource
from scim.resources.base import require_schema
from scim.resources.groups import GroupService
from scim.settings import Settings


class GroupRoutes:
    """GET/POST /Groups, POST /Groups/.search, and GET/PUT/PATCH/DELETE /Groups/{id}."""

    def __init__(self, settings: Settings, groups: GroupService) -> None:
        self.settings = settings
        self.groups = groups

    def _json(self, group: GroupResource, base: str, params: ResponseParameters[Any] | None = None) -> dict[str, Any]:
        if group.meta is not None:
            group.meta.location = f"{base}/Groups/{group.id}"
        body = group.model_dump(
            scim_ctx=Context.RESOURCE_QUERY_RESPONSE, response_parameters=params, scim_policy=ENTRA_POLICY
        )
        for member in body.get("members") or []:
            member["$ref"] = f"{base}/Users/{member['value']}"
        return body

    def _response(
        self, status: int, group: GroupResource, base: str, params: ResponseParameters[Any] | None = None
    ) -> Response:
        headers = {"Location": f"{base}/Groups/{group.id}"}
        if group.meta is not None and group.meta.version:
            headers["ETag"] = group.meta.version
        return Response.scim_json(status, self._json(group, base, params), headers)

    def list(self, request: Request, tenant: str) -> Response:
        return self._search(tenant, list_query(GroupResource, request.query), base_url(request, 1))

    def post_search(self, request: Request, tenant: str) -> Response:
        payload = parse_json(request, self.settings.max_body_bytes)
        if not isinstance(payload, dict):
            raise InvalidSyntaxException(detail="The request body must be a SearchRequest JSON object")
        require_schema(payload, str(SearchRequest.__schema__))
        body = {key: value for key, value in payload.items() if key != "schemas"}
        return self._search(tenant, search_request(GroupResource, body), base_url(request, 2))

    def _search(self, tenant: str, query: SearchRequest[GroupResource], base: str) -> Response:
        start, count = page_bounds(self.settings, query.start_index, query.count)
        page = self.groups.search(tenant, query, start, count, members=asks_for(query, "members"))
        resources = [self._json(group, base, query) for group in page.resources]
        return Response.scim_json(200, list_body(page.total, start, resources))

    def create(self, request: Request, tenant: str) -> Response:
        group = self.groups.create(tenant, parse_json(request, self.settings.max_body_bytes))
        return self._response(201, group, base_url(request, 1))

    def get(self, request: Request, tenant: str) -> Response:
        params = response_parameters(GroupResource, request.query)
        group = self.groups.get(tenant, request.route_params["id"], members=asks_for(params, "members"))
        version = group.meta.version if group.meta is not None else None
        tags = entity_tags(request.header("if-none-match"))
        if version and (version in tags or "*" in tags):
            return Response.empty(304, {"ETag": version})
        return self._response(200, group, base_url(request, 2), params)

    def replace(self, request: Request, tenant: str) -> Response:
        payload = parse_json(request, self.settings.max_body_bytes)
        group = self.groups.replace(tenant, request.route_params["id"], payload, request.header("if-match"))
        return self._response(200, group, base_url(request, 2))

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
        return self._response(200, group, base_url(request, 2), params)

    def delete(self, request: Request, tenant: str) -> Response:
        self.groups.delete(tenant, request.route_params["id"], request.header("if-match"))
        return Response.empty(204)
