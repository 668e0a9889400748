"""The setup page at /setup/<tenant>/<code>: the customer's IT admin connects Entra alone, guided and watched.

GET shows the setup guide's steps in order and what the endpoint has seen since the reveal; it never reveals
anything, so a mail scanner or link previewer that fetches the link uses nothing up. The credential is revealed
by a POST from the page's button, once (scim.platform.setup_links). A POST is refused unless the browser says it
came from this site (Sec-Fetch-Site, else Origin), and the link's code, which only its holder knows, is in the
URL the form posts to: nothing else can make a browser reveal a link (and the answer goes to that browser).

Like the operator pages: Jinja2 with autoescaping, `Cache-Control: no-store`, `Referrer-Policy: no-referrer`
(the link is in the URL), framing refused, and a Content-Security-Policy with no script but the copy buttons'
one inline script, pinned by its hash. The page works without it (the values are plain selectable text; the
buttons stay hidden). It refreshes with no script: a "Check again" button, or a meta refresh the admin turns on.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from scim.api.pages import templates
from scim.http import Request, Response
from scim.platform.activity_report import ActivityReport, TenantStatus
from scim.platform.hints import hint
from scim.platform.setup_links import OAUTH, LinkState, OpenedLink, RevealedCredentials, SetupLinkDoor
from scim.protocol.text import log_safe
from scim.secrets import SecretSourceUnavailableError, SecretStore
from scim.settings import Settings
from scim.store import ActivityRecord, ActivityTable, SetupLinkRow, StorageUnavailableError, TableStorage

log = logging.getLogger("scim.setup")

REFRESH_SECONDS = 30
REFUSALS_SHOWN = 5
FIRST_USERS_READ = 100
COPY_SCRIPT = (
    "document.querySelectorAll('button[data-copy]').forEach(function(b){b.hidden=false;"
    "b.addEventListener('click',function(){var v=document.getElementById(b.dataset.copy).textContent;"
    "navigator.clipboard.writeText(v).then(function(){b.textContent='Copied';});});});"
)
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(COPY_SCRIPT.encode("utf-8")).digest()).decode("ascii")
HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        f"default-src 'none'; script-src 'sha256-{_SCRIPT_HASH}'; style-src 'unsafe-inline'; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
}

_REFUSED: dict[LinkState, tuple[int, str, str]] = {
    LinkState.UNKNOWN: (
        404,
        "This setup link is not valid",
        "Check that the whole link was copied from the message, or ask your platform contact for a new one.",
    ),
    LinkState.REVOKED: (
        410,
        "This setup link was revoked",
        "The platform revoked it. Ask your platform contact for a new setup link.",
    ),
    LinkState.EXPIRED: (
        410,
        "This setup link has expired",
        "Setup links work for a limited time. Ask your platform contact for a new one.",
    ),
    LinkState.TENANT_DISABLED: (
        403,
        "This tenant is disabled on the platform",
        "The platform refuses every request for it now, so there is nothing to set up. Ask your platform contact.",
    ),
    LinkState.CREDENTIAL_RETIRED: (
        410,
        "The credential made for this link was retired",
        "The platform retired it before it was revealed. Ask your platform contact for a new setup link.",
    ),
}


@dataclass(frozen=True)
class Refusal:
    record: ActivityRecord
    fix: str


@dataclass(frozen=True)
class Progress:
    """What the endpoint has seen since the reveal, for the page's live checks."""

    connected: datetime | None
    """When requests with valid credentials arrived (Test Connection first): the first 5-minute bucket's last."""
    refused: datetime | None
    """The last request refused for want of valid credentials (a mistyped token)."""
    first_user: datetime | None
    first_user_name: str
    refusals: list[Refusal]
    status: TenantStatus


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class SetupPages:
    """GET and POST /setup/<tenant>/<code>."""

    def __init__(self, door: SetupLinkDoor, report: ActivityReport, *, public_base_url: str | None) -> None:
        self.door = door
        self.report = report
        self._base_url = (public_base_url or "").rstrip("/")
        self._env = templates()  # the operator pages' folder, rules and filters

    def _page(self, code: int, template: str, headers: dict[str, str] | None = None, **context: Any) -> Response:
        body = self._env.get_template(template).render(copy_script=COPY_SCRIPT, **context).encode("utf-8")
        return Response(status=code, body=body, headers={**HEADERS, **(headers or {})})

    def _message(self, state: LinkState) -> Response:
        status, heading, text = _REFUSED[state]
        return self._page(status, "setup_message.html", heading=heading, text=text, state=state.value)

    def handle(self, request: Request) -> Response:
        tenant = request.route_params.get("tenant", "")
        code = request.route_params.get("code", "")
        try:
            if request.method in ("GET", "HEAD"):
                return self._show(request, tenant, code)
            if request.method == "POST":
                return self._reveal(request, tenant, code)
        except (StorageUnavailableError, SecretSourceUnavailableError):
            log.warning("setup page: storage or secrets unavailable for tenant=%s", log_safe(tenant))
            return self._page(
                503,
                "setup_message.html",
                heading="The platform cannot answer now",
                text="Nothing was used up: try again in a minute.",
                state="unavailable",
            )
        return self._page(
            405,
            "setup_message.html",
            {"Allow": "GET, HEAD, POST"},
            heading="Method not allowed",
            text="",
            state="method",
        )

    def _base(self, request: Request) -> str:
        return self._base_url or _origin(request.url)

    def _show(self, request: Request, tenant: str, code: str) -> Response:
        opened = self.door.open(tenant, code)
        if opened.state not in (LinkState.READY, LinkState.REVEALED):
            return self._message(opened.state)
        watch = request.query.get("watch") == "1"
        return self._render(request, opened, None, watch=watch)

    def _reveal(self, request: Request, tenant: str, code: str) -> Response:
        if not self._same_site(request):
            log.warning("setup page: cross-site reveal refused for tenant=%s", log_safe(tenant))
            return self._page(
                403,
                "setup_message.html",
                heading="Refused",
                text="Reveal the credential with the button on the setup page itself.",
                state="cross-site",
            )
        base = self._base(request)
        opened, revealed = self.door.reveal(
            tenant, code, tenant_url=f"{base}/scim/v2/{tenant}", token_endpoint=f"{base}/oauth2/token"
        )
        if opened.state not in (LinkState.READY, LinkState.REVEALED):
            return self._message(opened.state)
        if revealed is not None:
            log.info("setup page: credential revealed for tenant=%s", log_safe(tenant))
        return self._render(request, opened, revealed, watch=False)

    def _same_site(self, request: Request) -> bool:
        site = request.header("sec-fetch-site")
        if site is not None:
            return site in ("same-origin", "none")
        origin = request.header("origin")
        return origin is None or origin in (_origin(request.url), self._base_url)

    def _render(
        self, request: Request, opened: OpenedLink, revealed: RevealedCredentials | None, *, watch: bool
    ) -> Response:
        assert opened.row is not None and opened.tenant is not None
        row, tenant = opened.row, opened.tenant
        status: TenantStatus | None = None
        progress: Progress | None = None
        try:
            status = self.report.status(row.tenant)
            progress = self._progress(row, status) if row.revealed is not None else None
        except StorageUnavailableError:
            if revealed is None:
                raise
            # The link is used up now: its one answer must carry the credential, with or without the figures.
            log.warning("setup page: figures unavailable at the reveal for tenant=%s", log_safe(row.tenant))
        path = urlsplit(request.url).path
        return self._page(
            200,
            "setup.html",
            tenant=tenant,
            row=row,
            oauth=row.kind == OAUTH,
            revealed=revealed,
            progress=progress,
            status=status,
            tenant_url=f"{self._base(request)}/scim/v2/{row.tenant}",
            page_path=path,
            watch=watch,
            refresh_seconds=REFRESH_SECONDS,
        )

    def _progress(self, row: SetupLinkRow, status: TenantStatus) -> Progress:
        since = row.revealed
        assert since is not None
        buckets = self.report.table.buckets(row.tenant, since)
        seen = [
            b.last_request for b in buckets if b.requests and b.last_request is not None and b.last_request >= since
        ]
        refused = [b.last_refused for b in buckets if b.last_refused is not None and b.last_refused >= since]
        creates = [
            c
            for c in self.report.changes.read(row.tenant, 0, FIRST_USERS_READ, "Users")
            if c.operation == "created" and c.time >= since
        ]
        errors = self.report.activity(row.tenant, errors_only=True, limit=REFUSALS_SHOWN).records
        return Progress(
            connected=min(seen, default=None),
            refused=max(refused, default=None),
            first_user=creates[0].time if creates else None,
            first_user_name=(creates[0].name or "") if creates else "",
            refusals=[Refusal(r, hint(r)) for r in errors if r.time >= since],
            status=status,
        )


def build_setup_pages(
    settings: Settings,
    storage: TableStorage,
    secrets_store: SecretStore,
    report: ActivityReport,
    activity_of: Callable[[str], ActivityTable] | None = None,
) -> SetupPages:
    """The page over the deployment's storage (the primary account: the tenants table; ``activity_of`` a
    tenant's activity on its own account) and secret store (read only: values of versions, never a write)."""
    door = SetupLinkDoor(storage, secrets_store, activity_of=activity_of)
    return SetupPages(door, report, public_base_url=settings.public_base_url)
