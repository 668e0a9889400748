"""The operator pages under /operator/: tenants, a tenant's status and 24-hour chart, its activity and errors.

Not under /admin/: the Functions host reserves that path for its own admin API and refuses a function
route that starts with it ("The specified route conflicts with one or more built in routes"). Served by
the Function App outside the SCIM tree, ANONYMOUS at the host and protected here by the operator
credential: a separate secret, read through the same SecretSource as the tenants' tokens, sent as the
HTTP Basic password (any user name; browsers ask for it, no script needed) or as a Bearer token
(scripts). Every page is rendered by Jinja2 with autoescaping on, and sent with a Content-Security-Policy
that allows no script at all. Every page is a bounded number of storage reads (scim.platform.activity_report).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode, urlsplit

from jinja2 import Environment

from scim.api.admin_chart import chart
from scim.api.admin_view import TenantState, group_errors
from scim.api.pages import templates as page_templates
from scim.http import Request, Response
from scim.platform.activity_report import ActivityReport, custom_values, parse_since
from scim.platform.hints import hint
from scim.platform.tenants import TenantDirectory
from scim.protocol.text import log_safe
from scim.store import MAX_ACTIVITY_PAGE, StorageUnavailableError, TenantTable

if TYPE_CHECKING:
    from scim.api.setup_page import SetupPages

log = logging.getLogger("scim.admin")

TENANTS_PER_PAGE = 20
RECORDS_PER_PAGE = 50
RECENT_ERRORS = 15
SINCE_CHOICES = [("", "any time"), ("1h", "1 hour"), ("2h", "2 hours"), ("24h", "24 hours"), ("7d", "7 days")]
_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}


class TenantCatalog(Protocol):
    """Which tenants exist and their license limits."""

    def tenant_ids(self) -> list[str]: ...
    def exists(self, tenant: str) -> bool: ...
    def active_limit(self, tenant: str) -> int | None: ...


class TableTenantCatalog:
    """Tenants from the tenants table: the list read when the tenants page is, the rest through the cache."""

    def __init__(self, table: TenantTable, directory: TenantDirectory) -> None:
        self._table = table
        self._directory = directory

    def tenant_ids(self) -> list[str]:
        return [row.id for row in self._table.all()]

    def exists(self, tenant: str) -> bool:
        return self._directory.lookup(tenant) is not None

    def active_limit(self, tenant: str) -> int | None:
        row = self._directory.lookup(tenant)
        return row.max_active_users if row is not None else None


class OperatorCredential:
    """Checks the operator secret in constant time; re-reads the secret once when a value does not match."""

    def __init__(self, values: Callable[[bool], Sequence[str]]) -> None:
        self._values = values

    @staticmethod
    def presented(authorization: str | None) -> str | None:
        """The password of `Basic`, or the token of `Bearer`; None for anything else."""
        scheme, _, value = (authorization or "").strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer" and value:
            return value
        if scheme.lower() == "basic" and value:
            try:
                decoded = base64.b64decode(value, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                return None
            _, colon, password = decoded.partition(":")
            return password if colon and password else None
        return None

    def accepts(self, authorization: str | None) -> bool:
        given = self.presented(authorization)
        if given is None:
            return False
        for refresh in (False, True):
            found = False
            for value in self._values(refresh):
                found |= hmac.compare_digest(given.encode("utf-8"), value.encode("utf-8"))
            if found:
                return True
        return False


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def templates() -> Environment:
    """The pages' templates (scim.api.pages) with the activity hints' filter."""
    env = page_templates()
    env.filters["hint"] = hint
    env.filters["custom_values"] = lambda record: found.as_text() if (found := custom_values(record)) else ""
    return env


class AdminApi:
    """GET /operator/, /operator/tenants/<id>, /operator/tenants/<id>/activity."""

    def __init__(
        self,
        report: ActivityReport,
        catalog: TenantCatalog,
        credential: OperatorCredential,
        is_tenant_id: Callable[[str], bool],
        *,
        state: Callable[[str, str], TenantState | None] | None = None,
        setup: SetupPages | None = None,
    ) -> None:
        self.setup = setup
        """The customer's setup page (scim.api.setup_page), built with these pages: it shares their report."""
        self._state = state
        """(tenant, request origin) -> the tenant's record and credentials for the tenant page."""
        self.report = report
        self.catalog = catalog
        self.credential = credential
        self._is_tenant_id = is_tenant_id
        self._env = templates()

    def _page(self, code: int, template: str, headers: dict[str, str] | None = None, **context: Any) -> Response:
        body = self._env.get_template(template).render(**context).encode("utf-8")
        return Response(status=code, body=body, headers={**_HEADERS, **(headers or {})})

    def _message(self, status: int, heading: str, text: str, headers: dict[str, str] | None = None) -> Response:
        return self._page(status, "message.html", headers, heading=heading, text=text)

    def handle(self, request: Request) -> Response:
        signing_in = request.route_params.get("path", "").strip("/") == "sign-in"
        if not self.credential.accepts(request.header("authorization")):
            # Only the sign-in page asks the browser for a password (Basic): a refused request elsewhere gets
            # the 401 page at once (a Bearer challenge, which browsers do not prompt for), never a prompt loop.
            challenge = 'Basic realm="scim-operator", charset="UTF-8"' if signing_in else 'Bearer realm="scim-operator"'
            return self._page(401, "unauthorized.html", {"WWW-Authenticate": challenge})
        if signing_in:
            return Response(303, b"", {**_HEADERS, "Location": "/operator/"})
        if request.method not in ("GET", "HEAD"):
            return self._message(405, "Method not allowed", "These pages are read only.", {"Allow": "GET, HEAD"})
        try:
            return self._route(request)
        except StorageUnavailableError:
            log.warning("admin page: storage unavailable")
            return self._message(503, "Storage unavailable", "Table Storage did not answer; try again shortly.")

    def _route(self, request: Request) -> Response:
        parts = [p for p in request.route_params.get("path", "").split("/") if p]
        if not parts:
            return self.tenants(request)
        if parts[0] == "tenants" and len(parts) in (2, 3) and self._known(parts[1]):
            if len(parts) == 2:
                return self.tenant(parts[1], _origin(request.url))
            if parts[2] == "activity":
                return self.activity(request, parts[1])
        return self._message(404, "Not found", "There is no such page or tenant.")

    def _known(self, tenant: str) -> bool:
        return self._is_tenant_id(tenant) and self.catalog.exists(tenant)

    def tenants(self, request: Request) -> Response:
        ids = self.catalog.tenant_ids()
        number = _positive(request.query.get("page"), 1)
        shown = ids[(number - 1) * TENANTS_PER_PAGE : number * TENANTS_PER_PAGE]
        rows = []
        for tenant in shown:
            try:
                rows.append({"tenant": tenant, "status": self.report.status(tenant)})
            except StorageUnavailableError:
                log.warning("admin tenants page: status unavailable for tenant=%s", log_safe(tenant))
                rows.append({"tenant": tenant, "status": None})
        more = len(ids) > number * TENANTS_PER_PAGE
        return self._page(
            200,
            "tenants.html",
            rows=rows,
            previous_page=number - 1 if number > 1 else None,
            next_page=number + 1 if more else None,
        )

    def tenant(self, tenant: str, origin: str = "") -> Response:
        status = self.report.status(tenant)
        errors = self.report.activity(tenant, errors_only=True, limit=RECENT_ERRORS)
        state = self._state(tenant, origin) if self._state is not None else None
        return self._page(
            200,
            "tenant.html",
            status=status,
            chart=chart(status.hours),
            errors=errors,
            error_groups=group_errors(errors.records),
            state=state,
        )

    def activity(self, request: Request, tenant: str) -> Response:
        query = request.query
        user = (query.get("user") or "").strip()[:256]
        errors_only = query.get("errors") == "1"
        prefix = query.get("prefix") == "1" and bool(user)
        since_text = query.get("since") or ""
        note = ""
        try:
            since = parse_since(since_text)
        except ValueError as exc:
            since, since_text, note = None, "", str(exc)
        after = (query.get("after") or "")[:512] or None
        limit = min(_positive(query.get("limit"), RECORDS_PER_PAGE), MAX_ACTIVITY_PAGE)
        if prefix:
            page = self.report.search(tenant, user, after=after, limit=limit)
        else:
            page = self.report.activity(
                tenant, since=since, errors_only=errors_only, user=user or None, after=after, limit=limit
            )
        next_url = None
        if page.next_key:
            params = {"user": user, "since": since_text, "errors": "1" if errors_only else "", "after": page.next_key}
            params["prefix"] = "1" if prefix else ""
            next_url = "?" + urlencode({k: v for k, v in params.items() if v})
        return self._page(
            200,
            "activity.html",
            tenant=tenant,
            user=user,
            since=since_text,
            since_choices=SINCE_CHOICES,
            errors_only=errors_only,
            prefix=prefix,
            page=page,
            next_url=next_url,
            note=note,
        )


def _positive(raw: str | None, default: int) -> int:
    if raw and raw.isdigit() and len(raw) < 7:
        return max(int(raw), 1)
    return default
