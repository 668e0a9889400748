"""One-time setup links: the customer's IT admin gets the Tenant URL and a fresh credential from a page, once.

`SetupLinks` is the operator's side (mint, list, revoke), called by `scim-admin tenant setup-link` and, with the
caller's name, by the management API. `SetupLinkDoor` is the page's side (open, reveal), used by the Function App.

A link is ``<base>/setup/<tenant>/<code>``: ``code`` is 256 random bits, stored only as its SHA-256 (the row key),
so neither the table nor an export opens a link, and the code itself calls no SCIM route. Minting makes the
credential at once, with the operator's rights, exactly as `rotate-token` (or `rotate-client-secret` for an OAuth
tenant) does: the previous one keeps working until retired. Nobody sees its value then: the row keeps its secret
version, and the first reveal reads that version's value (the Function App needs only the read access to the vault
it has for every request). So the internet-facing app never writes a secret, and a link revoked or expired before
anyone revealed it has its credential disabled by the next setup-link call for the tenant (`sweep`), since nobody
can be using a value nobody saw.

Single use: the reveal is a conditional write of the row (its ETag), so of two simultaneous reveals one wins and
the other is told the link was already used. The reveal is a POST from a button, never a GET: mail scanners and
link previewers fetch what a message links to, and a GET shows the page and reveals nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import Enum

from scim.platform.clients import ClientService
from scim.platform.tenants import TenantService, TenantTokenStateError, is_tenant_id
from scim.secrets import SecretStore, client_secret_name, secret_name
from scim.store import (
    ActivityRecord,
    ActivityTable,
    SetupLinkRow,
    SetupLinkTable,
    StorageUnavailableError,
    TableStorage,
    TenantRow,
    TenantTable,
    VersionMismatchError,
)

__all__ = [
    "DEFAULT_EXPIRY",
    "MAX_EXPIRY",
    "LinkState",
    "MintedLink",
    "OpenedLink",
    "RevealedCredentials",
    "SetupLinkDoor",
    "SetupLinks",
    "link_hash",
    "parse_expiry",
]

DEFAULT_EXPIRY = timedelta(hours=72)
MAX_EXPIRY = timedelta(days=30)
CODE_BYTES = 32
SETUP_PATH = "/setup"
ACTIVITY_TYPE = "SetupLink"
OAUTH, TOKEN = "oauth", "token"

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


def link_hash(code: str) -> str:
    """The stored form of a link's code: SHA-256, hex (a 256-bit random code needs no salt or slow hash)."""
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def is_link_code(code: str) -> bool:
    """The shape of a code we mint (43 URL-safe characters); anything else is not looked up at all."""
    return len(code) == 43 and all(c.isascii() and (c.isalnum() or c in "-_") for c in code)


def parse_expiry(text: str) -> timedelta:
    """'72h', '90m', '7d' -> a duration between 5 minutes and 30 days; ValueError with what is allowed."""
    units = {"m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit() or len(text) > 8:
        raise ValueError("--expires is a number and a unit: 90m, 72h or 7d")
    duration = timedelta(seconds=int(text[:-1]) * units[text[-1]])
    if not timedelta(minutes=5) <= duration <= MAX_EXPIRY:
        raise ValueError("a setup link expires after 5 minutes at least and 30 days at most")
    return duration


class LinkState(Enum):
    """What a link is now, in the order the page checks it."""

    UNKNOWN = "unknown"
    REVOKED = "revoked"
    EXPIRED = "expired"
    TENANT_DISABLED = "tenant-disabled"
    CREDENTIAL_RETIRED = "credential-retired"
    READY = "ready"
    REVEALED = "revealed"


@dataclass(frozen=True)
class MintedLink:
    row: SetupLinkRow
    url: str
    """The only place the code ever appears: give it to the customer's admin, it is not stored."""


@dataclass(frozen=True)
class OpenedLink:
    state: LinkState
    row: SetupLinkRow | None = None
    tenant: TenantRow | None = None


@dataclass(frozen=True)
class RevealedCredentials:
    """What the Entra admin pastes: the Tenant URL and the Secret Token, or the four OAuth2 values."""

    kind: str
    tenant_url: str
    secret: str
    """The Secret Token, or the OAuth2 client secret."""
    token_endpoint: str = ""
    client_id: str = ""


def state_of(row: SetupLinkRow | None, tenant: TenantRow | None, now: datetime) -> LinkState:
    """A link's state from its row and its tenant's (a re-created tenant does not inherit old links)."""
    if row is None or tenant is None or tenant.created != row.tenant_created:
        return LinkState.UNKNOWN
    if row.revoked is not None:
        return LinkState.REVOKED
    if now >= row.expires:
        return LinkState.EXPIRED
    if not tenant.enabled:
        return LinkState.TENANT_DISABLED
    return LinkState.REVEALED if row.revealed is not None else LinkState.READY


class _Log:
    """The link's events in the tenant's activity log: created, opened (revealed), revoked, and by whom."""

    def __init__(self, activity_of: Callable[[str], ActivityTable]) -> None:
        self._activity_of = activity_of  # the activity table of the tenant's own data account

    def record(self, row: SetupLinkRow, event: str, by: str, when: datetime, detail: str = "") -> None:
        record = ActivityRecord(
            time=when,
            operation=f"setup-link {event}",
            resource_type=ACTIVITY_TYPE,
            resource_id=row.link_id,
            name="",
            status=200,
            detail=f"by {by}" + (f"; {detail}" if detail else ""),
        )
        self._activity_of(row.tenant).append(row.tenant, [(record, uuid.uuid4().hex[:8])])


class SetupLinks:
    """The operator's (and the management API's) use cases: mint, list, revoke; `by` names who asked."""

    def __init__(
        self,
        storage: TableStorage,
        tenants: TenantService,
        clients: ClientService,
        secrets_store: SecretStore,
        *,
        public_base_url: str,
        clock: Clock = _now,
    ) -> None:
        self._links = SetupLinkTable(storage)
        self._log = _Log(lambda tenant: tenants.storage_of(tenant).activity())
        self._tenants = tenants
        self._clients = clients
        self._secrets = secrets_store
        self._base_url = public_base_url.rstrip("/")
        self.clock = clock

    def url(self, tenant_id: str, code: str) -> str:
        return f"{self._base_url}{SETUP_PATH}/{tenant_id}/{code}"

    def mint(
        self, tenant_id: str, *, by: str, expires: timedelta = DEFAULT_EXPIRY, kind: str | None = None
    ) -> MintedLink:
        """A new link and, behind it, a new credential nobody has seen (kind: token, oauth, or None to choose:
        oauth for a tenant with a client and no Secret Token, else token)."""
        if not timedelta(minutes=5) <= expires <= MAX_EXPIRY:
            raise ValueError("a setup link expires after 5 minutes at least and 30 days at most")
        tenant = self._tenants.get(tenant_id)
        if not tenant.enabled:
            raise TenantTokenStateError(f"tenant {tenant_id} is disabled: `scim-admin tenant enable {tenant_id}` first")
        self.sweep(tenant_id, by=by)
        # A new link replaces one not yet revealed: its unseen credential goes, so the two-valid rule of
        # rotation is never blocked by a link nobody opened (and nobody is told to retire the wrong token).
        self._revoke(tenant, [row for row, state in self.links(tenant_id) if state is LinkState.READY], by, "replaced")
        if kind is None:
            has_token = any(v.usable_at(self.clock()) for v in self._tenants.token_versions(tenant_id))
            kind = OAUTH if self._clients.client_secret_versions(tenant_id) and not has_token else TOKEN
        if kind == TOKEN:
            name, value = secret_name(tenant_id), self._tenants.rotate_token(tenant_id)
        elif kind == OAUTH:
            has_client = bool(self._clients.client_secret_versions(tenant_id))
            made = self._clients.rotate_client_secret(tenant_id) if has_client else self._clients.add_client(tenant_id)
            name, value = client_secret_name(tenant_id), made.client_secret
        else:
            raise ValueError(f"unknown kind of credential {kind!r}: token or oauth")
        code = secrets.token_urlsafe(CODE_BYTES)
        now = self.clock()
        row = SetupLinkRow(
            tenant=tenant_id,
            link_hash=link_hash(code),
            kind=kind,
            secret_name=name,
            secret_version=self._version_of(name, value),
            tenant_created=tenant.created,
            created=now,
            expires=now + expires,
            created_by=by,
        )
        try:
            row = self._links.create(row)
        except Exception:
            self._retire_unseen(row)  # no link holds it: a credential nobody can ever see must not stay valid
            raise
        self._log.record(row, "created", by, now, f"expires {row.expires:%Y-%m-%d %H:%M} UTC")
        return MintedLink(row, self.url(tenant_id, code))

    def links(self, tenant_id: str) -> list[tuple[SetupLinkRow, LinkState]]:
        """The tenant's links, oldest first, each with its state now."""
        tenant = self._tenants.get(tenant_id)
        now = self.clock()
        return [(row, state_of(row, tenant, now)) for row in self._links.list(tenant_id)]

    def revoke(self, tenant_id: str, link_id: str, *, by: str) -> list[SetupLinkRow]:
        """Revoke one link (by its id) or every open one ('all'); the links revoked. A credential nobody
        revealed is disabled with it."""
        tenant = self._tenants.get(tenant_id)
        chosen = [
            row
            for row in self._links.list(tenant_id)
            if row.revoked is None and (link_id == "all" or hmac.compare_digest(row.link_id.encode(), link_id.encode()))
        ]
        if not chosen and link_id != "all":
            raise ValueError(f"tenant {tenant_id} has no unrevoked setup link {link_id!r}; --list shows them")
        return self._revoke(tenant, chosen, by)

    def _revoke(self, tenant: TenantRow, rows: list[SetupLinkRow], by: str, why: str = "") -> list[SetupLinkRow]:
        now = self.clock()
        revoked = []
        for row in rows:
            if state_of(row, tenant, now) is LinkState.UNKNOWN:
                continue
            done = self._links.update(replace(row, revoked=now, revoked_by=by))
            if row.revealed is None:
                self._retire_unseen(done)
            self._log.record(done, "revoked", by, now, why)
            revoked.append(done)
        return revoked

    def sweep(self, tenant_id: str, *, by: str) -> int:
        """Disable the credentials of links that expired unrevealed (nobody saw them); the number disabled."""
        now = self.clock()
        retired = 0
        for row in self._links.list(tenant_id):
            if row.revealed is None and row.revoked is None and now >= row.expires and self._retire_unseen(row):
                self._log.record(row, "expired", by, now, "its unrevealed credential disabled")
                retired += 1
        return retired

    def _retire_unseen(self, row: SetupLinkRow) -> int:
        held = [v for v in self._secrets.versions(row.secret_name) if v.version == row.secret_version and v.enabled]
        for version in held:
            self._secrets.set_enabled(row.secret_name, version.version, False)
        if held:
            self._tenants.secrets_changed(row.tenant)
        return len(held)

    def _version_of(self, name: str, value: str) -> str:
        """The version holding the value just made (newest first: one value read, as a rule)."""
        versions = sorted(
            self._secrets.versions(name), key=lambda v: v.created_on or datetime.min.replace(tzinfo=UTC), reverse=True
        )
        for version in versions:
            held = self._secrets.value(name, version.version)
            if held is not None and hmac.compare_digest(held.encode(), value.encode()):
                return version.version
        raise TenantTokenStateError(f"the credential made for the link is not in the secret store ({name})")


class SetupLinkDoor:
    """The page's use cases: open a link (what it is now) and reveal its credential, once."""

    def __init__(
        self,
        storage: TableStorage,
        secrets_store: SecretStore,
        *,
        tenant_of: Callable[[str], TenantRow | None] | None = None,
        activity_of: Callable[[str], ActivityTable] | None = None,
        clock: Clock = _now,
    ) -> None:
        """``storage`` holds the tenants table (the primary account); ``activity_of`` gives a tenant's activity
        table on its own data account (default: the same storage's)."""
        self._links = SetupLinkTable(storage)
        self._tenants = TenantTable(storage)
        self._tenant_of = tenant_of or self._tenants.get
        self._log = _Log(activity_of or (lambda tenant: storage.activity()))
        self._secrets = secrets_store
        self.clock = clock

    def open(self, tenant_id: str, code: str) -> OpenedLink:
        """The link's state, its row and its tenant's (read uncached: a disable shows at once)."""
        if not is_tenant_id(tenant_id) or not is_link_code(code):
            return OpenedLink(LinkState.UNKNOWN)
        wanted = link_hash(code)
        row = self._links.get(tenant_id, wanted)
        if row is None or not hmac.compare_digest(row.link_hash, wanted):
            return OpenedLink(LinkState.UNKNOWN)
        tenant = self._tenant_of(tenant_id)
        state = state_of(row, tenant, self.clock())
        if state is LinkState.UNKNOWN:
            return OpenedLink(state)
        return OpenedLink(state, row, tenant)

    def reveal(
        self, tenant_id: str, code: str, *, tenant_url: str, token_endpoint: str
    ) -> tuple[OpenedLink, RevealedCredentials | None]:
        """The credential, if this is the link's first reveal; else the link as it is now and None."""
        opened = self.open(tenant_id, code)
        if opened.state is not LinkState.READY or opened.row is None:
            return opened, None
        row = opened.row
        now = self.clock()
        usable = any(
            v.version == row.secret_version and v.usable_at(now) for v in self._secrets.versions(row.secret_name)
        )
        value = self._secrets.value(row.secret_name, row.secret_version) if usable else None
        if value is None:
            return replace(opened, state=LinkState.CREDENTIAL_RETIRED), None
        try:
            revealed = self._links.update(replace(row, revealed=now, revealed_by="the setup page"))
        except VersionMismatchError:
            return self.open(tenant_id, code), None  # another reveal (or a revoke) came first
        # The reveal is stored on the link's row; losing its activity record is the lesser loss.
        with contextlib.suppress(StorageUnavailableError):
            self._log.record(revealed, "opened", "the setup page", now, "credential revealed")
        opened = OpenedLink(LinkState.REVEALED, revealed, opened.tenant)
        if row.kind == OAUTH:
            return opened, RevealedCredentials(OAUTH, tenant_url, value, token_endpoint, tenant_id)
        return opened, RevealedCredentials(TOKEN, tenant_url, value)


def describe(row: SetupLinkRow, state: LinkState) -> str:
    """One line about a link for the operator: its id, state, and when."""
    if state is LinkState.REVEALED and row.revealed is not None:
        when = f"revealed {row.revealed:%Y-%m-%d %H:%M} UTC"
    elif state is LinkState.REVOKED and row.revoked is not None:
        when = f"revoked {row.revoked:%Y-%m-%d %H:%M} UTC by {row.revoked_by}"
    else:
        when = f"expires {row.expires:%Y-%m-%d %H:%M} UTC"
    return f"{row.link_id}  {row.kind:<6} {state.value:<19} {when}"
