"""SCIM HTTP handlers, framework-free: Request -> Response, with auth, parsing, SCIM errors and logging."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import ValidationError
from scim2_models import (
    Context,
    InvalidFilterException,
    InvalidSyntaxException,
    ListResponse,
    NotFoundException,
    PayloadTooLargeException,
    SCIMException,
    ScimFilter,
    SearchRequest,
    UnauthorizedException,
)

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
from scim.protocol.search import SearchPage, only_equalities
from scim.resources.base import scim_error_from_validation, version_of
from scim.resources.users import UserService
from scim.secrets import SecretSourceUnavailableError
from scim.settings import Settings
from scim.store import StorageUnavailableError, StoredResource

log = logging.getLogger("scim")

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


def _query_int(query: Mapping[str, str], name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise InvalidSyntaxException(detail=f"{name} must be an integer, not {raw!r}") from exc


class ScimApi:
    """The SCIM routes of one deployment; every tenant is served by the same instance."""

    def __init__(self, settings: Settings, users: UserService, auth: TenantAuthenticator) -> None:
        self.settings = settings
        self.users = users
        self.auth = auth

    # -- the routes function_app.py registers ---------------------------------------------------

    def users_collection(self, request: Request) -> Response:
        return self._dispatch(request, "users", {"GET": self._list_users, "POST": self._create_user})

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
            self.auth.authenticate(request.header("authorization"), tenant)
            handler = handlers.get(request.method)
            if handler is None:
                raise MethodNotAllowedException(allowed=tuple(handlers))
            response = handler(request, tenant)
        except UnauthorizedException as exc:
            response = error_response(exc, {"WWW-Authenticate": 'Bearer realm="scim"'})
        except (SecretSourceUnavailableError, StorageUnavailableError, TimeoutError) as exc:
            # Never a 401 here: Entra would report bad credentials and quarantine the job.
            log.warning("scim authentication unavailable: tenant=%s error=%s", tenant, type(exc).__name__)
            response = error_response(ServiceUnavailableException(detail="Token store unavailable; retry later"))
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
        self, stored: StoredResource, base_url: str, params: SearchRequest[UserResource] | None = None
    ) -> dict[str, Any]:
        user = UserService.model(stored, f"{base_url}/Users/{stored.id}")
        return user.model_dump(
            scim_ctx=Context.RESOURCE_QUERY_RESPONSE, response_parameters=params, scim_policy=ENTRA_POLICY
        )

    def _user_response(self, status: int, stored: StoredResource, base_url: str) -> Response:
        return Response.scim_json(
            status,
            self._user_json(stored, base_url),
            {"ETag": version_of(stored.etag), "Location": f"{base_url}/Users/{stored.id}"},
        )

    @staticmethod
    def _search_request(request: Request, names: tuple[str, ...]) -> SearchRequest[UserResource]:
        """The named query parameters (filter, attributes, excludedAttributes), parsed and checked."""
        raw = {name: request.query[name] for name in names if request.query.get(name)}
        try:
            return SearchRequest[UserResource].model_validate(raw, scim_policy=ENTRA_POLICY)
        except ValidationError as exc:
            error = scim_error_from_validation(exc)
            if error.scim_type == "invalidFilter":
                raise InvalidFilterException(
                    detail=f'{error.detail}. Filters look like: userName eq "value" (joined by "and")'
                ) from exc
            raise error from exc

    # -- Users --------------------------------------------------------------------------------

    def _list_users(self, request: Request, tenant: str) -> Response:
        base_url = _base_url(request, 1)
        start_index = max(_query_int(request.query, "startIndex", 1), 1)
        count = min(
            max(_query_int(request.query, "count", self.settings.default_page_size), 0), self.settings.max_page_size
        )
        try:
            search = self._search_request(request, ("filter", "attributes", "excludedAttributes"))
        except InvalidFilterException:
            # Test Connection sends a random GUID as the matching attribute's value: when that attribute is
            # an e-mail, the value cannot be valid, so no user can match it. Answer an empty list, not 400.
            if not only_equalities(ScimFilter(request.query["filter"]).ast):
                raise
            return Response.scim_json(200, self._list_body(0, start_index, []))
        page: SearchPage = self.users.search(tenant, search.filter, start_index, count)
        resources = [self._user_json(stored, base_url, search) for stored in page.resources]
        return Response.scim_json(200, self._list_body(page.total, start_index, resources))

    @staticmethod
    def _list_body(total: int, start_index: int, resources: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "schemas": [str(ListResponse.__schema__)],
            "totalResults": total,
            "startIndex": start_index,
            "itemsPerPage": len(resources),
            "Resources": resources,
        }

    def _create_user(self, request: Request, tenant: str) -> Response:
        payload = _parse_json(request, self.settings.max_body_bytes)
        stored = self.users.create(tenant, payload)
        return self._user_response(201, stored, _base_url(request, 1))

    def _get_user(self, request: Request, tenant: str) -> Response:
        params = self._search_request(request, ("attributes", "excludedAttributes"))
        stored = self.users.get(tenant, request.route_params["id"])
        base_url = _base_url(request, 2)
        return Response.scim_json(200, self._user_json(stored, base_url, params), {"ETag": version_of(stored.etag)})

    def _replace_user(self, request: Request, tenant: str) -> Response:
        payload = _parse_json(request, self.settings.max_body_bytes)
        stored = self.users.replace(tenant, request.route_params["id"], payload, request.header("if-match"))
        return self._user_response(200, stored, _base_url(request, 2))

    def _patch_user(self, request: Request, tenant: str) -> Response:
        payload = _parse_json(request, self.settings.max_body_bytes)
        stored = self.users.patch(tenant, request.route_params["id"], payload, request.header("if-match"))
        return self._user_response(200, stored, _base_url(request, 2))

    def _delete_user(self, request: Request, tenant: str) -> Response:
        self.users.delete(tenant, request.route_params["id"], request.header("if-match"))
        return Response.empty(204)

    # -- discovery ----------------------------------------------------------------------------

    def _get_service_provider_config(self, request: Request, tenant: str) -> Response:
        location = _base_url(request, 0)
        return Response.scim_json(200, service_provider_config(location, self.settings.max_page_size))
