"""The /manage/v1/ front door: Entra token, per-caller rate, role, body, handler, problem details, one log line.

Order of checks for every request: the route (404/405), the access token (401; 503 if the issuer cannot be
reached and no key is cached), the caller's rate (429 with Retry-After), the app role (403), the body
(415/413/400), then the handler; whatever a handler raises that the table below knows becomes its problem,
anything else a 500 whose traceback goes to the log only. Requests refused before the token is verified are
rate-limited by address, so a flood of bad tokens is slowed down too. Every answer is `no-store`; the log
line carries the operation, the caller's app id, the tenant, the status and the latency, never a token, a
secret or a body.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError

from scim.http import Request, Response
from scim.manage.endpoints import BASE_PATH, ENDPOINTS, OPENAPI_PATH, Endpoint
from scim.manage.entra import Caller, EntraTokenVerifier, IssuerUnavailableError, TokenRefusedError
from scim.manage.handlers import Call, ManageHandlers, Services
from scim.manage.limits import RateLimiter
from scim.manage.openapi import openapi_bytes
from scim.manage.problems import ProblemError, problem_response
from scim.platform.tenants import InvalidTenantIdError, TenantExistsError, TenantNotFoundError, TenantTokenStateError
from scim.protocol.text import log_safe
from scim.secrets import SecretSourceUnavailableError, SecretStoreRefusedError
from scim.store import StorageAccessDeniedError, StorageUnavailableError, VersionMismatchError

log = logging.getLogger("scim.manage")

MAX_BODY_BYTES = 65_536
_JSON = {"Content-Type": "application/json", "Cache-Control": "no-store"}


@dataclass(frozen=True)
class ManageConfig:
    """What the door checks: the verifier (None: the API is off), roles and the per-caller rate."""

    verifier: EntraTokenVerifier | None
    read_role: str
    write_role: str
    limiter: RateLimiter


def _source(request: Request) -> str:
    """The last X-Forwarded-For entry (the front end's view of the caller), or '' when there is none."""
    return (request.header("x-forwarded-for") or "").rsplit(",", 1)[-1].strip()[:64]


def _bearer(request: Request) -> str | None:
    scheme, _, value = (request.header("authorization") or "").strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _access_refused(exc: Exception) -> ProblemError:
    log.error("manage: the app's identity was refused by storage or the secret store: %s", type(exc).__name__)
    return ProblemError(
        503, "The platform cannot reach its storage or secrets: ask its operator", kind="platform-access"
    )


FAILURES: tuple[tuple[tuple[type[Exception], ...], Callable[[Exception], ProblemError]], ...] = (
    ((TenantNotFoundError,), lambda exc: ProblemError(404, "There is no tenant with this id", kind="tenant-not-found")),
    ((TenantExistsError,), lambda exc: ProblemError(409, "A tenant with this id already exists", kind="tenant-exists")),
    ((InvalidTenantIdError,), lambda exc: ProblemError(400, str(exc), kind="invalid-tenant-id")),
    ((TenantTokenStateError,), lambda exc: ProblemError(409, str(exc), kind="credential-state")),
    (
        (VersionMismatchError,),
        lambda exc: ProblemError(409, "The tenant changed while this ran: send the request again", kind="changed"),
    ),
    (
        (StorageUnavailableError, SecretSourceUnavailableError, TimeoutError),
        lambda exc: ProblemError(
            503, "Storage or the secret store did not answer: retry shortly", headers={"Retry-After": "5"}
        ),
    ),
    ((StorageAccessDeniedError, SecretStoreRefusedError), _access_refused),
    ((ValueError,), lambda exc: ProblemError(400, str(exc), kind="invalid-value")),
)
"""What a service failure answers, first match first; anything else is a 500 (traceback to the log only)."""


def _failure(exc: Exception) -> ProblemError | None:
    if isinstance(exc, ProblemError):
        return exc
    return next((render(exc) for kinds, render in FAILURES if isinstance(exc, kinds)), None)


class ManageApi:
    """Serves every /manage/v1/ route; `services(caller_app_id, origin)` builds the services for one call."""

    def __init__(self, config: ManageConfig, services: Callable[[str, str], Services]) -> None:
        self.config = config
        self._services = services

    def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        path = request.route_params.get("path", "").strip("/")
        caller: Caller | None = None
        endpoint: Endpoint | None = None
        params: dict[str, str] = {}
        try:
            if f"/{path}" == OPENAPI_PATH and request.method in ("GET", "HEAD"):
                self._limit(f"address:{_source(request)}")
                body = openapi_bytes(self.config.read_role, self.config.write_role)
                return Response(200, body, {"Content-Type": "application/json", "Cache-Control": "public, max-age=300"})
            endpoint, params = self._route(request.method, path)
            caller = self._authenticate(request)
            self._limit(f"app:{caller.app_id}")
            self._authorise(caller, endpoint)
            call = Call(
                caller=caller.app_id,
                method=request.method,
                path=f"{BASE_PATH}/{path}",
                params=params,
                query=request.query,
                body=self._body(request, endpoint),
                raw_body=request.body,
                idempotency_key=request.header("idempotency-key"),
            )
            origin = _origin(request.url)
            handlers = ManageHandlers(lambda app_id: self._services(app_id, origin))
            answer, status = getattr(handlers, endpoint.handler)(call)
            response = self._json(status, answer, endpoint, params)
        except Exception as exc:
            problem = _failure(exc)
            if problem is None:
                log.error(
                    "manage request failed: operation=%s tenant=%s",
                    endpoint.handler if endpoint else "-",
                    log_safe(params.get("tenantId", "")),
                    exc_info=exc,
                )
                problem = ProblemError(500, "Something failed on our side; it is logged. Retry later")
            response = problem_response(problem, f"{BASE_PATH}/{path}"[:512])
        self._log(endpoint, caller, params, response.status, started)
        return response

    # -- the checks -----------------------------------------------------------------------------

    @staticmethod
    def _route(method: str, path: str) -> tuple[Endpoint, dict[str, str]]:
        segments = path.split("/") if path else []
        allowed: list[str] = []
        for endpoint in ENDPOINTS:
            params = endpoint.match(segments)
            if params is None:
                continue
            if endpoint.method == method:
                return endpoint, params
            allowed.append(endpoint.method)
        if allowed:
            raise ProblemError(405, f"This route takes {', '.join(allowed)}", headers={"Allow": ", ".join(allowed)})
        raise ProblemError(
            404, "There is no such route in the management API (see /manage/v1/openapi.json)", kind="no-such-route"
        )

    def _authenticate(self, request: Request) -> Caller:
        verifier = self.config.verifier
        if verifier is None:
            raise ProblemError(
                503, "The management API is not enabled on this deployment (SCIM_MANAGE_ISSUER)", kind="not-enabled"
            )
        token = _bearer(request)
        challenge = 'Bearer realm="manage"'
        try:
            if token is None:
                raise TokenRefusedError("send a Microsoft Entra ID access token: Authorization: Bearer <token>")
            return verifier.verify(token)
        except TokenRefusedError as exc:
            self._limit(f"address:{_source(request)}")
            header = f'{challenge}, error="invalid_token", error_description="{exc}"' if token else challenge
            raise ProblemError(401, str(exc), kind="invalid-token", headers={"WWW-Authenticate": header}) from exc
        except IssuerUnavailableError as exc:
            log.warning("manage: token issuer unavailable: %s", exc)
            raise ProblemError(
                503,
                "The token issuer's keys cannot be read: retry shortly",
                kind="issuer-unavailable",
                headers={"Retry-After": "30"},
            ) from exc

    def _limit(self, key: str) -> None:
        wait = self.config.limiter.take(key)
        if wait is not None:
            raise ProblemError(
                429,
                f"More than {self.config.limiter.per_minute} requests a minute: wait {wait} s",
                kind="rate-limited",
                headers={"Retry-After": str(wait)},
            )

    def _authorise(self, caller: Caller, endpoint: Endpoint) -> None:
        write = self.config.write_role
        needed = {write} if endpoint.role == "write" else {self.config.read_role, write}
        if not caller.roles & needed:
            role = write if endpoint.role == "write" else f"{self.config.read_role} (or {write})"
            raise ProblemError(
                403,
                f"This operation needs the app role {role}, granted to the calling application",
                kind="role-missing",
                headers={"WWW-Authenticate": 'Bearer realm="manage", error="insufficient_scope"'},
            )

    @staticmethod
    def _body(request: Request, endpoint: Endpoint) -> BaseModel | None:
        if endpoint.body is None:
            return None
        if len(request.body) > MAX_BODY_BYTES:
            raise ProblemError(413, f"The body is larger than {MAX_BODY_BYTES} bytes")
        media = (request.header("content-type") or "application/json").split(";", 1)[0].strip().lower()
        if media != "application/json":
            raise ProblemError(415, "Send the body as application/json", kind="unsupported-media-type")
        raw = request.body or b"{}"
        try:
            return endpoint.body.model_validate_json(raw)
        except ValidationError as exc:
            # Locations and messages only: pydantic's input values may hold whatever was sent.
            errors = "; ".join(
                f"{'.'.join(str(p) for p in error['loc']) or 'body'}: {error['msg']}" for error in exc.errors()[:5]
            )
            raise ProblemError(400, f"The body is not valid: {errors}", kind="invalid-body") from exc

    # -- the answer -----------------------------------------------------------------------------

    @staticmethod
    def _json(status: int, answer: BaseModel, endpoint: Endpoint, params: dict[str, str]) -> Response:
        body = answer.model_dump_json(by_alias=True).encode("utf-8")
        headers = dict(_JSON)
        if endpoint.idempotency_key:
            tenant = json.loads(body).get("tenant", {}).get("id", "")
            # A tenant's create points at the tenant; a setup link's at the tenant's links (a link has no GET).
            headers["Location"] = (
                f"{BASE_PATH}/tenants/{tenant}" if tenant else f"{BASE_PATH}/tenants/{params['tenantId']}/setup-links"
            )
            if status == 200:
                headers["Idempotent-Replayed"] = "true"
        return Response(status, body, headers)

    @staticmethod
    def _log(
        endpoint: Endpoint | None, caller: Caller | None, params: dict[str, str], status: int, started: float
    ) -> None:
        line: dict[str, Any] = {
            "event": "manage.request",
            "operation": endpoint.handler if endpoint else "-",
            "caller": caller.app_id if caller else "",
            "tenant": log_safe(params.get("tenantId", ""))[:64],
            "status": status,
            "latencyMs": round((time.perf_counter() - started) * 1000, 1),
        }
        log.log(logging.WARNING if status >= 500 else logging.INFO, json.dumps(line, separators=(",", ":")))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
