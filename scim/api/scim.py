"""SCIM HTTP handlers, framework-free: Request -> Response, with auth, parsing, SCIM errors and logging."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from scim2_models import (
    NotFoundException,
)

from scim.api.context import RequestContext
from scim.api.failures import failure_response
from scim.api.groups import GroupRoutes
from scim.api.oauth import TokenEndpoint, scim_audience
from scim.api.root_search import root_search
from scim.api.users import UserRoutes
from scim.auth import TenantAuthenticator
from scim.errors import (
    MethodNotAllowedException,
    NotImplementedException,
    error_response,
)
from scim.http import Request, Response
from scim.platform.activity import ActivityRecorder, Outcome
from scim.platform.delivery import Delivery
from scim.platform.tenants import Tenant, is_tenant_id
from scim.protocol.documents import plausible_id
from scim.protocol.text import check_url_text, log_safe
from scim.resources.groups import GroupService
from scim.resources.users import UserService
from scim.settings import Settings
from scim.store import counting

if TYPE_CHECKING:  # the operator pages are imported when first used: a SCIM request never needs them
    from scim.api.accounts import AccountApis
    from scim.api.admin import AdminApi
    from scim.manage import ManageApi

log = logging.getLogger("scim")

Handler = Callable[[RequestContext], Response]


@dataclass(frozen=True)
class Operation:
    """What one method of a route does, as the activity log records it, and the handler that does it."""

    name: str
    handler: Handler


def _public(request: Request, public_base_url: str | None) -> Request:
    """The request with its URL on the configured public base, so no Host header reaches a Location."""
    if not public_base_url:
        return request
    parts = urlsplit(request.url)
    return replace(request, url=public_base_url + parts.path + (f"?{parts.query}" if parts.query else ""))


class ScimApi:
    """The SCIM routes of one deployment; every tenant is served by the same instance."""

    def __init__(
        self,
        settings: Settings,
        users: UserService,
        auth: TenantAuthenticator,
        groups: GroupService,
        token_endpoint: TokenEndpoint | None = None,
        *,
        activity: ActivityRecorder | None = None,
        operator_factory: Callable[[], AdminApi] | None = None,
        delivery: Delivery | None = None,
        manage_factory: Callable[[], ManageApi] | None = None,
    ) -> None:
        self.settings = settings
        self.token_endpoint = token_endpoint
        self.users = users
        self.groups = groups
        self.auth = auth
        self.user_routes = UserRoutes(settings, users)
        self.group_routes = GroupRoutes(settings, groups)
        self.delivery = delivery
        """Publishes change records to the platform's queue (scim.platform.delivery); None in tests without it."""
        self.activity = activity
        """Where request outcomes go (scim.platform.activity); None records nothing."""
        self.operator_factory = operator_factory
        """Builds the operator pages under /operator/ (scim.api.admin) on first use; None serves no pages."""
        self._operator: AdminApi | None = None
        self._operator_lock = threading.Lock()
        self.accounts: AccountApis[ScimApi] | None = None
        """The APIs of every data account, to serve each request on its tenant's account (scim.api.accounts)."""
        self.manage_factory = manage_factory
        """Builds the management API under /manage/v1/ (scim.manage) on first use; None: it answers 404."""
        self._manage: ManageApi | None = None

    @property
    def operator(self) -> AdminApi | None:
        """The operator pages, built on first use (their imports and tables cost a cold start nothing)."""
        if self._operator is None and self.operator_factory is not None:
            with self._operator_lock:
                if self._operator is None:
                    self._operator = self.operator_factory()
        return self._operator

    def manage_route(self, request: Request) -> Response:
        """/manage/v1/…: the platform's management API, built on first use (a SCIM request never imports it)."""
        if self._manage is None and self.manage_factory is not None:
            with self._operator_lock:
                if self._manage is None:
                    self._manage = self.manage_factory()
        if self._manage is None:
            from scim.manage.problems import ProblemError, problem_response

            return problem_response(ProblemError(404, "This deployment serves no management API", kind="not-enabled"))
        return self._manage.handle(request)

    # -- the routes function_app.py registers ---------------------------------------------------

    def users_collection(self, request: Request) -> Response:
        return self.dispatch(request, "users", "User", collection_operations(self.user_routes))

    def users_search(self, request: Request) -> Response:
        return self.dispatch(
            request, "users_search", "User", {"POST": Operation("search", self.user_routes.post_search)}
        )

    def user_item(self, request: Request) -> Response:
        return self.dispatch(request, "user", "User", item_operations(self.user_routes))

    def groups_collection(self, request: Request) -> Response:
        return self.dispatch(request, "groups", "Group", collection_operations(self.group_routes))

    def groups_search(self, request: Request) -> Response:
        return self.dispatch(
            request, "groups_search", "Group", {"POST": Operation("search", self.group_routes.post_search)}
        )

    def group_item(self, request: Request) -> Response:
        return self.dispatch(request, "group", "Group", item_operations(self.group_routes))

    def root_search(self, request: Request) -> Response:
        def handler(ctx: RequestContext) -> Response:
            return root_search(self.settings, self.user_routes, self.group_routes, ctx)

        return self.dispatch(request, "search", "", {"POST": Operation("search", handler)})

    def me(self, request: Request) -> Response:
        """/Me on any method: 501 (RFC 7644 §3.11), since a tenant's token stands for Entra, not for a user."""

        def refuse(ctx: RequestContext) -> Response:
            raise NotImplementedException(
                detail="/Me is not supported: this service's Bearer tokens identify a provisioning client, not a "
                "user (RFC 7644 §3.11). Use /Users/{id}"
            )

        operation = Operation("me", refuse)
        return self.dispatch(request, "me", "", dict.fromkeys(("GET", "POST", "PUT", "PATCH", "DELETE"), operation))

    def oauth_token(self, request: Request) -> Response:
        """POST /oauth2/token (scim.api.oauth); a deployment built without it answers 404."""
        if self.token_endpoint is None:
            return self.unknown_route(request)
        return self.token_endpoint.handle(request)

    def unknown_route(self, request: Request) -> Response:
        """Anything under the host that no SCIM route matches: a SCIM 404, never the host's HTML."""
        started = time.perf_counter()
        response = error_response(NotFoundException(detail="No SCIM endpoint at this path"))
        self._log(request, "unknown", "-", response.status, started, calls=0)
        return response

    def api_prefix_route(self, request: Request) -> Response:
        """`/api/scim/...`, the Functions default prefix: a SCIM 404 that says the Tenant URL has no /api."""
        started = time.perf_counter()
        response = error_response(
            NotFoundException(
                detail="No SCIM endpoint under /api: this service's routes have no /api prefix (host.json "
                "routePrefix is empty). Drop /api from the Tenant URL: <base>/scim/v2/<tenant>"
            )
        )
        self._log(request, "api_prefix", "-", response.status, started, calls=0)
        return response

    # -- plumbing -----------------------------------------------------------------------------

    def dispatch(
        self,
        request: Request,
        route: str,
        resource_type: str,
        operations: Mapping[str, Operation],
        *,
        authenticated: Tenant | None = None,
    ) -> Response:
        """Authenticate, run the method's operation, answer failures from scim.api.failures, log and record.

        ``authenticated``: the tenant record of a POST /Bulk that carries this request as one of its operations
        (scim.api.bulk); its credentials were checked once, for the whole bulk request.
        """
        started = time.perf_counter()
        error: str | None = None
        tenant = request.route_params.get("tenant", "")
        ctx = RequestContext(_public(request, self.settings.public_base_url), tenant)
        request = ctx.request
        named = False
        with counting(ctx.calls):  # every storage call of this request, its pooled point reads too
            try:
                named = is_tenant_id(tenant)
                # The tenant record is read once per request, here; handlers get its limit from the context.
                if authenticated is None:
                    audience = scim_audience(request.url, self.settings.public_base_url)
                    ctx.record = self.auth.authenticate(request.header("authorization"), tenant, audience=audience)
                else:
                    ctx.record = authenticated
                check_url_text(request.route_params, request.query)
                operation = operations.get(request.method)
                if operation is None:
                    raise MethodNotAllowedException(allowed=tuple(operations))
                response = operation.handler(ctx)
            except Exception as exc:
                failure = failure_response(exc, tenant=tenant, operation=route)
                response, error = failure.response, failure.error
        self._log(request, route, tenant, response.status, started, error=error, calls=ctx.storage_calls)
        if named and self.activity is not None:
            try:
                known = operations.get(request.method)
                operation_name = known.name if known is not None else request.method.lower()
                self._record(self.activity, ctx, operation_name, resource_type, response=response, started=started)
            except Exception:  # recording never fails the request it describes
                log.warning("activity outcome dropped: tenant=%s", log_safe(tenant))
        return response

    @staticmethod
    def _record(
        recorder: ActivityRecorder,
        ctx: RequestContext,
        operation: str,
        resource_type: str,
        *,
        response: Response,
        started: float,
    ) -> None:
        """Hand the outcome to the activity recorder: a queue put, after the answer is complete."""
        request = ctx.request
        authenticated = ctx.record is not None
        resource_id = request.route_params.get("id", "")
        keep_body = response.status >= 400 or request.method in ("POST", "PUT", "PATCH")
        recorder.submit(
            Outcome(
                tenant=ctx.tenant,
                time=recorder.clock(),
                operation=operation,
                resource_type=resource_type,
                method=request.method,
                status=response.status,
                latency_ms=(time.perf_counter() - started) * 1000,
                authenticated=authenticated,
                resource_id=resource_id if plausible_id(resource_id) else "",
                request_payload=ctx.payload if authenticated else None,
                response_body=response.body if keep_body else b"",
            )
        )

    @staticmethod
    def _log(
        request: Request,
        operation: str,
        tenant: str,
        status: int,
        started: float,
        *,
        error: str | None = None,
        calls: int,
    ) -> None:
        # Ids only: never tokens, bodies, filters or user names. Tenant and id come from the URL and may be
        # forged ("%0A…") even without a token: the tenant is escaped onto this one line, and an id that
        # cannot be one of ours (perhaps a user name) is logged as its length only.
        resource_id = request.route_params.get("id", "-")
        if resource_id != "-" and not plausible_id(resource_id):
            resource_id = f"malformed({len(resource_id)}-chars)"
        # One JSON object a line (Application Insights: traces | extend r = parse_json(message)).
        line = {
            "event": "scim.request",
            "tenant": log_safe(tenant),
            "operation": operation,
            "method": log_safe(request.method),
            "resourceId": resource_id,
            "status": status,
            "latencyMs": round((time.perf_counter() - started) * 1000, 1),
            "storageCalls": calls,
        }
        if error:
            line["error"] = error
        level = logging.WARNING if status >= 500 and status != 501 else logging.INFO  # 501: /Me, not a fault
        log.log(level, json.dumps(line, separators=(",", ":"), ensure_ascii=True))


def collection_operations(routes: UserRoutes | GroupRoutes) -> dict[str, Operation]:
    """What each method of /Users or /Groups does."""
    return {"GET": Operation("list", routes.list), "POST": Operation("create", routes.create)}


def item_operations(routes: UserRoutes | GroupRoutes) -> dict[str, Operation]:
    """What each method of /Users/{id} or /Groups/{id} does."""
    return {
        "GET": Operation("get", routes.get),
        "PUT": Operation("replace", routes.replace),
        "PATCH": Operation("update", routes.patch),
        "DELETE": Operation("delete", routes.delete),
    }
