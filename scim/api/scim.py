"""SCIM HTTP handlers, framework-free: Request -> Response, with auth, parsing, SCIM errors and logging."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from scim2_models import (
    Context,
    InvalidSyntaxException,
    NotFoundException,
    PayloadTooLargeException,
    ResponseParameters,
    SCIMException,
    SearchRequest,
    UnauthorizedException,
)

from scim.api.query import entity_tags, list_body, list_query, response_parameters, search_request
from scim.auth import TenantAuthenticator
from scim.errors import (
    InternalServerException,
    MethodNotAllowedException,
    ServiceUnavailableException,
    error_response,
)
from scim.http import Request, Response
from scim.models import ENTRA_POLICY, UserResource, service_provider_config
from scim.platform.tenants import is_tenant_id
from scim.resources.base import require_schema
from scim.resources.users import UserService
from scim.secrets import SecretSourceUnavailableError
from scim.settings import Settings
from scim.store import StorageUnavailableError

log = logging.getLogger("scim")

_active_limit: ContextVar[int | None] = ContextVar("scim_active_limit", default=None)
"""The authenticated tenant's maximum active users, set by _dispatch for the request being handled."""

Handler = Callable[[Request, str], Response]


def _base_url(request: Request, trailing_segments: int) -> str:
    """The tenant's SCIM base URL (what Entra calls the Tenant URL), from the request URL."""
    parts = urlsplit(request.url)
    segments = parts.path.rstrip("/").split("/")
    path = "/".join(segments[: len(segments) - trailing_segments]) if trailing_segments else "/".join(segments)
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _parse_json(request: Request, max_bytes: int) -> Any:
    if len(request.body) > max_bytes:
        raise PayloadTooLargeException(detail=f"The request body is larger than {max_bytes} bytes")
    if not request.body.strip():
        raise InvalidSyntaxException(detail="The request body is empty; send a SCIM JSON object")
    try:
        return json.loads(request.body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidSyntaxException(detail=f"The request body is not valid JSON: {exc}") from exc


class ScimApi:
    """The SCIM routes of one deployment; every tenant is served by the same instance."""

    def __init__(self, settings: Settings, users: UserService, auth: TenantAuthenticator) -> None:
        self.settings = settings
        self.users = users
        self.auth = auth

    # -- the routes function_app.py registers ---------------------------------------------------

    def users_collection(self, request: Request) -> Response:
        return self._dispatch(request, "users", {"GET": self._list_users, "POST": self._create_user})

    def users_search(self, request: Request) -> Response:
        return self._dispatch(request, "usersSearch", {"POST": self._post_search_users})

    def user_item(self, request: Request) -> Response:
        return self._dispatch(
            request,
            "user",
            {
                "GET": self._get_user,
                "PUT": self._replace_user,
                "PATCH": self._patch_user,
                "DELETE": self._delete_user,
            },
        )

    def service_provider_config(self, request: Request) -> Response:
        return self._dispatch(request, "serviceProviderConfig", {"GET": self._get_service_provider_config})

    def unknown_route(self, request: Request) -> Response:
        """Anything under the host that no SCIM route matches: a SCIM 404, never the host's HTML."""
        started = time.perf_counter()
        response = error_response(NotFoundException(detail="No SCIM endpoint at this path"))
        self._log(request, "unknown", "-", response.status, started)
        return response

    # -- plumbing -----------------------------------------------------------------------------

    def _dispatch(self, request: Request, operation: str, handlers: Mapping[str, Handler]) -> Response:
        started = time.perf_counter()
        tenant = request.route_params.get("tenant", "")
        try:
            record = self.auth.authenticate(request.header("authorization"), tenant)
            _active_limit.set(record.max_active_users)  # read once per request, here: the license cap
            handler = handlers.get(request.method)
            if handler is None:
                raise MethodNotAllowedException(allowed=tuple(handlers))
            response = handler(request, tenant)
        except UnauthorizedException as exc:
            response = error_response(exc, {"WWW-Authenticate": 'Bearer realm="scim"'})
        except (SecretSourceUnavailableError, StorageUnavailableError, TimeoutError) as exc:
            # Never a 401 here: Entra would report bad credentials and quarantine the job.
            log.warning("scim dependency unavailable: tenant=%s error=%s", tenant, type(exc).__name__)
            response = error_response(ServiceUnavailableException())
        except SCIMException as exc:
            response = error_response(exc)
        except Exception:
            log.exception("scim request failed: tenant=%s operation=%s", tenant, operation)
            response = error_response(InternalServerException())
        # A tenant id from the URL is logged only if well-formed: no control characters in our logs.
        self._log(request, operation, tenant if is_tenant_id(tenant) else "-", response.status, started)
        return response

    @staticmethod
    def _log(request: Request, operation: str, tenant: str, status: int, started: float) -> None:
        # Ids only: never tokens, bodies, filters or user names.
        log.info(
            "scim %s %s tenant=%s id=%s status=%d ms=%.1f",
            request.method,
            operation,
            tenant,
            request.route_params.get("id", "-"),
            status,
            (time.perf_counter() - started) * 1000,
        )

    def _user_json(
        self, user: UserResource, base_url: str, params: ResponseParameters[Any] | None = None
    ) -> dict[str, Any]:
        if user.meta is not None:
            user.meta.location = f"{base_url}/Users/{user.id}"
        return user.model_dump(
            scim_ctx=Context.RESOURCE_QUERY_RESPONSE, response_parameters=params, scim_policy=ENTRA_POLICY
        )

    def _user_response(
        self, status: int, user: UserResource, base_url: str, params: ResponseParameters[Any] | None = None
    ) -> Response:
        version = user.meta.version if user.meta is not None else None
        headers = {"Location": f"{base_url}/Users/{user.id}"}
        if version:
            headers["ETag"] = version
        return Response.scim_json(status, self._user_json(user, base_url, params), headers)

    def _page_bounds(self, start_index: int | None, count: int | None) -> tuple[int, int]:
        start = max(start_index or 1, 1)
        wanted = self.settings.default_page_size if count is None else max(count, 0)
        return start, min(wanted, self.settings.max_page_size)

    # -- Users --------------------------------------------------------------------------------

    def _list_users(self, request: Request, tenant: str) -> Response:
        return self._search_users(request, tenant, list_query(UserResource, request.query), _base_url(request, 1))

    def _post_search_users(self, request: Request, tenant: str) -> Response:
        """POST /Users/.search (RFC 7644 §3.4.3): the query in a SearchRequest body."""
        payload = _parse_json(request, self.settings.max_body_bytes)
        if not isinstance(payload, dict):
            raise InvalidSyntaxException(detail="The request body must be a SearchRequest JSON object")
        require_schema(payload, str(SearchRequest.__schema__))
        body = {key: value for key, value in payload.items() if key != "schemas"}
        return self._search_users(request, tenant, search_request(UserResource, body), _base_url(request, 2))

    def _search_users(
        self, request: Request, tenant: str, query: SearchRequest[UserResource], base_url: str
    ) -> Response:
        start, count = self._page_bounds(query.start_index, query.count)
        page = self.users.search(tenant, query, start, count)
        resources = [self._user_json(user, base_url, query) for user in page.resources]
        return Response.scim_json(200, list_body(page.total, start, resources))

    def _create_user(self, request: Request, tenant: str) -> Response:
        payload = _parse_json(request, self.settings.max_body_bytes)
        user = self.users.create(tenant, payload, active_limit=_active_limit.get())
        return self._user_response(201, user, _base_url(request, 1))

    def _get_user(self, request: Request, tenant: str) -> Response:
        params = response_parameters(UserResource, request.query)
        user = self.users.get(tenant, request.route_params["id"])
        version = user.meta.version if user.meta is not None else None
        tags = entity_tags(request.header("if-none-match"))
        if version and (version in tags or "*" in tags):
            return Response.empty(304, {"ETag": version})
        return self._user_response(200, user, _base_url(request, 2), params)

    def _replace_user(self, request: Request, tenant: str) -> Response:
        payload = _parse_json(request, self.settings.max_body_bytes)
        user = self.users.replace(
            tenant, request.route_params["id"], payload, request.header("if-match"), active_limit=_active_limit.get()
        )
        return self._user_response(200, user, _base_url(request, 2))

    def _patch_user(self, request: Request, tenant: str) -> Response:
        params = response_parameters(UserResource, request.query)
        payload = _parse_json(request, self.settings.max_body_bytes)
        user = self.users.patch(
            tenant, request.route_params["id"], payload, request.header("if-match"), active_limit=_active_limit.get()
        )
        return self._user_response(200, user, _base_url(request, 2), params)

    def _delete_user(self, request: Request, tenant: str) -> Response:
        self.users.delete(tenant, request.route_params["id"], request.header("if-match"))
        return Response.empty(204)

    # -- discovery ----------------------------------------------------------------------------

    def _get_service_provider_config(self, request: Request, tenant: str) -> Response:
        location = _base_url(request, 0)
        return Response.scim_json(200, service_provider_config(location, self.settings.max_page_size))
