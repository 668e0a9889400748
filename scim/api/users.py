"""HTTP handlers for /Users: a request's parameters and body in, the SCIM answer Entra expects out."""

from __future__ import annotations

from typing import Any

from scim2_models import Context, InvalidSyntaxException, ResponseParameters, SearchRequest

from scim.api.common import asks_for, base_url, parse_json
from scim.api.query import entity_tags, list_body, list_query, response_parameters, search_request
from scim.auth import request_active_limit
from scim.http import Request, Response
from scim.models import ENTRA_POLICY, UserResource
from scim.resources.base import require_schema
from scim.resources.users import UserService
from scim.settings import Settings


def page_bounds(settings: Settings, start_index: int | None, count: int | None) -> tuple[int, int]:
    """startIndex (1-based, at least 1) and count (default and maximum from the settings)."""
    start = max(start_index or 1, 1)
    wanted = settings.default_page_size if count is None else max(count, 0)
    return start, min(wanted, settings.max_page_size)


class UserRoutes:
    """GET/POST /Users, POST /Users/.search, and GET/PUT/PATCH/DELETE /Users/{id}."""

    def __init__(self, settings: Settings, users: UserService) -> None:
        self.settings = settings
        self.users = users

    def _json(self, user: UserResource, base: str, params: ResponseParameters[Any] | None = None) -> dict[str, Any]:
        if user.meta is not None:
            user.meta.location = f"{base}/Users/{user.id}"
        return user.model_dump(
            scim_ctx=Context.RESOURCE_QUERY_RESPONSE, response_parameters=params, scim_policy=ENTRA_POLICY
        )

    def _response(
        self, status: int, user: UserResource, base: str, params: ResponseParameters[Any] | None = None
    ) -> Response:
        headers = {"Location": f"{base}/Users/{user.id}"}
        if user.meta is not None and user.meta.version:
            headers["ETag"] = user.meta.version
        return Response.scim_json(status, self._json(user, base, params), headers)

    def list(self, request: Request, tenant: str) -> Response:
        return self._search(tenant, list_query(UserResource, request.query), base_url(request, 1))

    def post_search(self, request: Request, tenant: str) -> Response:
        """POST /Users/.search (RFC 7644 §3.4.3): the query in a SearchRequest body."""
        payload = parse_json(request, self.settings.max_body_bytes)
        if not isinstance(payload, dict):
            raise InvalidSyntaxException(detail="The request body must be a SearchRequest JSON object")
        require_schema(payload, str(SearchRequest.__schema__))
        body = {key: value for key, value in payload.items() if key != "schemas"}
        return self._search(tenant, search_request(UserResource, body), base_url(request, 2))

    def _search(self, tenant: str, query: SearchRequest[UserResource], base: str) -> Response:
        start, count = page_bounds(self.settings, query.start_index, query.count)
        page = self.users.search(tenant, query, start, count)
        resources = [self._json(user, base, query) for user in page.resources]
        return Response.scim_json(200, list_body(page.total, start, resources))

    def create(self, request: Request, tenant: str) -> Response:
        payload = parse_json(request, self.settings.max_body_bytes)
        user = self.users.create(tenant, payload, active_limit=request_active_limit())
        return self._response(201, user, base_url(request, 1))

    def get(self, request: Request, tenant: str) -> Response:
        params = response_parameters(UserResource, request.query)
        user = self.users.get(tenant, request.route_params["id"], groups=asks_for(params, "groups"))
        version = user.meta.version if user.meta is not None else None
        tags = entity_tags(request.header("if-none-match"))
        if version and (version in tags or "*" in tags):
            return Response.empty(304, {"ETag": version})
        return self._response(200, user, base_url(request, 2), params)

    def replace(self, request: Request, tenant: str) -> Response:
        payload = parse_json(request, self.settings.max_body_bytes)
        user = self.users.replace(
            tenant, request.route_params["id"], payload, request.header("if-match"), active_limit=request_active_limit()
        )
        return self._response(200, user, base_url(request, 2))

    def patch(self, request: Request, tenant: str) -> Response:
        params = response_parameters(UserResource, request.query)
        payload = parse_json(request, self.settings.max_body_bytes)
        user = self.users.patch(
            tenant, request.route_params["id"], payload, request.header("if-match"), active_limit=request_active_limit()
        )
        return self._response(200, user, base_url(request, 2), params)

    def delete(self, request: Request, tenant: str) -> Response:
        self.users.delete(tenant, request.route_params["id"], request.header("if-match"))
        return Response.empty(204)
