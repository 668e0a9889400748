"""Tenants as platform data: their ids, their records, their Secret Tokens, and the operator's use cases.

A tenant id is what follows /scim/v2/ in the Tenant URL. It is also a Table Storage partition key
(case-sensitive) and part of a Key Vault secret name (case-insensitive, [0-9a-zA-Z-], 127 characters at
most). So that no two tenants can share a secret or a partition, ids are lower case only: 1-63
characters of a-z, 0-9 and '-', starting and ending with a letter or digit (a DNS label). An id in any
other form is refused everywhere: the CLI will not create it, and a Tenant URL holding it gets the same
401 as an unknown tenant.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from scim.cache import ReadThroughCache
from scim.platform.accounts import AccountLoad, Placement, account_loads, place
from scim.platform.invariants import CheckReport, check_tenant
from scim.protocol.extensions import decode
from scim.resources.base import ReindexReport, resource_names
from scim.resources.groups import GroupService
from scim.resources.member_index import repair_member_index
from scim.resources.users import UserService, is_active_document
from scim.secrets import (
    ACCEPTED_VERSIONS,
    SecretStore,
    SecretVersion,
    client_secret_name,
    looks_generated,
    new_token,
    secret_name,
    token_verifier,
)
from scim.store import (
    DataAccounts,
    StorageUnavailableError,
    TableStorage,
    TenantExistsError,
    TenantRow,
    TenantSchemaTable,
    TenantTable,
    TokenVerifier,
    VersionMismatchError,
)

__all__ = [
    "RESOURCE_KINDS",
    "TENANT_ID_RE",
    "InvalidTenantIdError",
    "Tenant",
    "TenantDirectory",
    "TenantExistsError",
    "TenantNotFoundError",
    "TenantService",
    "TenantTokenStateError",
    "TenantUsage",
    "check_tenant_id",
    "is_tenant_id",
]

TENANT_ID_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
MAX_TENANT_ID = 63

RESOURCE_KINDS = ("Users", "Groups", "Activity")
"""Tables whose tenant partitions `tenant delete` empties (memberships live in these partitions; the activity
log holds userNames, so it goes with the users)."""

Tenant = TenantRow
"""A tenant's record: id, display name, created, enabled, maximum active users (None: no limit)."""


_SYNC_ATTEMPTS = 5
"""Rewrites of a tenant row racing other operators' before secrets_changed gives up (each re-reads the store)."""


class InvalidTenantIdError(ValueError):
    """Not a tenant id; the message says what a valid one looks like."""


class TenantNotFoundError(LookupError):
    """No tenant with this id is registered."""


class TenantTokenStateError(RuntimeError):
    """The tenant's tokens are not in a state that allows this operation; the message says what to do."""


def is_tenant_id(value: str) -> bool:
    """True for a canonical tenant id (fullmatch: no trailing newline slips through)."""
    return len(value) <= MAX_TENANT_ID and TENANT_ID_RE.fullmatch(value) is not None


def check_tenant_id(value: str) -> str:
    """The id if canonical, else InvalidTenantIdError with a message an operator can act on."""
    if is_tenant_id(value):
        return value
    if value.lower() != value and is_tenant_id(value.lower()):
        raise InvalidTenantIdError(
            f"tenant ids are lower case (Key Vault secret names ignore case, Table Storage keys do not): "
            f"use {value.lower()!r}"
        )
    raise InvalidTenantIdError(
        "a tenant id is 1-63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit"
    )


@dataclass(frozen=True)
class TenantUsage:
    """What a tenant holds now."""

    users: int
    active_users: int
    groups: int


class TenantDirectory:
    """Tenant records for the request path: one point read per tenant per `ttl_seconds`, bounded in size.

    Unknown ids are cached too (as None), so a flood of made-up names costs one read each, and at most
    `max_entries` of them are held. A change made by the operator (disable, limit) takes effect within
    `ttl_seconds` on every worker.
    """

    def __init__(self, table: TenantTable, *, ttl_seconds: float = 30.0, max_entries: int = 10_000) -> None:
        self._cache: ReadThroughCache[str, TenantRow | None] = ReadThroughCache(
            table.get,
            ttl=ttl_seconds,
            max_entries=max_entries,
            min_reload=min(5.0, ttl_seconds),
            grace=ttl_seconds,
            transient=(StorageUnavailableError,),
        )

    def lookup(self, tenant_id: str, *, refresh: bool = False) -> TenantRow | None:
        """The tenant's record, or None if the id is not canonical or not registered; refresh=True reads the row
        again if it was not read in the last few seconds (after a token mismatch: a token just rotated)."""
        if not is_tenant_id(tenant_id):
            return None
        return self._cache.get(tenant_id, reload=refresh)


class TenantService:
    """The operator's use cases on tenants; the CLI (and later the admin pages) are thin doors onto these."""

    def __init__(self, storage: TableStorage | DataAccounts, secrets: SecretStore, *, public_base_url: str) -> None:
        self.accounts = storage if isinstance(storage, DataAccounts) else DataAccounts.single(storage)
        """The data accounts; the tenants table is on the primary, each tenant's data on the one its row names."""
        self._table = TenantTable(self.accounts.primary)
        self._secrets = secrets
        self._base_url = public_base_url.rstrip("/")

    # -- reading --------------------------------------------------------------------------------

    def tenant_url(self, tenant_id: str) -> str:
        """What the Entra admin pastes as the Tenant URL."""
        return f"{self._base_url}/scim/v2/{tenant_id}"

    def get(self, tenant_id: str) -> TenantRow:
        check_tenant_id(tenant_id)
        row = self._table.get(tenant_id)
        if row is None:
            raise TenantNotFoundError(tenant_id)
        return row

    def all(self) -> list[TenantRow]:
        return self._table.all()

    def account_of(self, tenant: TenantRow) -> str:
        """The name of the data account holding the tenant's data (the primary for a row that names none)."""
        return self.accounts.name_of(tenant.account)

    def storage_of(self, tenant_id: str) -> TableStorage:
        """The storage of the account the tenant's row names: where its users, groups, changes and activity are."""
        return self.accounts.get(self.get(tenant_id).account)

    def account_loads(self) -> list[AccountLoad]:
        """Each data account with the number of tenants on it, in placement order (one query of the tenants table)."""
        return account_loads(self.accounts.names, self._table.all())

    def placement(self, account: str | None = None) -> Placement:
        """Where a new tenant would go now, and why (scim.platform.accounts); `account` is the operator's choice,
        checked against the configured accounts without reading the tenants table."""
        if account is not None:
            names = self.accounts.names
            return place([AccountLoad(name, 0, name == names[0]) for name in names], account)
        return place(self.account_loads())

    def usage(self, tenant_id: str) -> TenantUsage:
        """Users, active users and groups of the tenant: the counter rows, no scan."""
        self.get(tenant_id)
        storage = self.storage_of(tenant_id)
        users = storage.resources("Users").counts(tenant_id, is_active_document)
        groups = storage.resources("Groups").counts(tenant_id)
        return TenantUsage(users=users.total, active_users=users.active, groups=groups.total)

    def check(self, tenant_id: str) -> CheckReport:
        """The tenant's stored data checked for consistency (scim.platform.invariants)."""
        return check_tenant(self.storage_of(tenant_id), tenant_id)

    def reindex(self, tenant_id: str) -> dict[str, ReindexReport]:
        """Move the tenant's index rows written under an older key to the current one (ResourceService.reindex),
        and repair its member index (scim.resources.member_index): once per tenant after an upgrade that changed
        a key, or after a check found a leftover; safe to repeat, and while Entra provisions. The tenant row's
        Secret Token verifiers are written first (a row from before them stops reading the secret store)."""
        self.secrets_changed(tenant_id)
        storage = self.storage_of(tenant_id)
        declared = decode(TenantSchemaTable(self.accounts.primary).schema(tenant_id).declarations)
        users = UserService(storage.resources("Users"), declarations=lambda tenant: declared)
        groups = GroupService(storage.resources("Groups"), storage.resources("Users"))
        members = repair_member_index(storage.resources("Users"), groups.memberships, tenant_id)
        return {"Users": users.reindex(tenant_id), "Groups": groups.reindex(tenant_id), "Members": members}

    def resource_names(self) -> Callable[[str, str, str], str]:
        """(tenant, resource type, id) -> the resource's userName or displayName now ('' if gone): what the
        operator's views show for a change recorded without a name. Each tenant's names are read on its account."""
        by_account: dict[str, Callable[[str, str, str], str]] = {}

        def name_of(tenant_id: str, resource_type: str, resource_id: str) -> str:
            try:
                account = self.account_of(self.get(tenant_id))
            except TenantNotFoundError:
                return ""
            if account not in by_account:
                storage = self.accounts.get(account)
                users = UserService(storage.resources("Users"))
                groups = GroupService(storage.resources("Groups"), storage.resources("Users"))
                by_account[account] = resource_names(users, groups)
            return by_account[account](tenant_id, resource_type, resource_id)

        return name_of

    def token_versions(self, tenant_id: str) -> list[SecretVersion]:
        """The tenant's token versions (never their values), newest first."""
        self.get(tenant_id)
        return self._sorted(self._secrets.versions(secret_name(tenant_id)))

    # -- changing -------------------------------------------------------------------------------

    def create(
        self,
        tenant_id: str,
        *,
        display_name: str | None = None,
        max_active_users: int | None = None,
        keep_existing_token: bool = False,
        with_token: bool = True,
        account: str | None = None,
    ) -> tuple[TenantRow, str | None]:
        """Register a tenant and give it a fresh Secret Token (returned once, never stored elsewhere).

        keep_existing_token registers a tenant whose token already exists in the store (a deployment
        from before the tenants table) and returns None for the token: it is not read. with_token=False
        creates none (a tenant that connects with OAuth2 client credentials only; see scim.platform.clients).
        account names the data account (see placement()); None places the tenant by the rule.
        """
        check_tenant_id(tenant_id)
        self._check_limit(max_active_users)
        placed = self.placement(account).account
        if self._table.get(tenant_id) is not None:
            raise TenantExistsError(tenant_id)
        name = secret_name(tenant_id)
        token: str | None = None
        added: SecretVersion | None = None
        if keep_existing_token:
            if not self._usable(self._secrets.versions(name)):
                raise TenantTokenStateError(f"there is no valid token {name} to keep; create the tenant without it")
        else:
            # Left-over versions (a tenant deleted earlier) must not stay valid beside the new token.
            self._disable(name, self._usable(self._secrets.versions(name)))
            if with_token:
                token = new_token()
                added = self._secrets.add_version(name, token)
        # Nor may a left-over OAuth2 client secret: the new tenant gets its own with add-client.
        client = client_secret_name(tenant_id)
        self._disable(client, self._usable(self._secrets.versions(client)))
        row = TenantRow(
            id=tenant_id,
            display_name=display_name or tenant_id,
            created=datetime.now(UTC),
            enabled=True,
            max_active_users=max_active_users,
            account=placed,
            token_verifiers=(
                self._verifiers(tenant_id)
                if keep_existing_token
                else (TokenVerifier(token_verifier(token)),)
                if token is not None
                else ()
            ),
        )
        try:
            return self._table.create(row), token
        except TenantExistsError:
            if added is not None:  # another operator created it meanwhile: our token must not work
                self._secrets.set_enabled(name, added.version, False)
            raise

    def rotate_token(self, tenant_id: str) -> str:
        """A new Secret Token; the previous one stays valid until retire_token."""
        self.get(tenant_id)
        name = secret_name(tenant_id)
        if len(self._usable(self._secrets.versions(name))) >= 2:
            raise TenantTokenStateError(
                f"tenant {tenant_id} already has two valid tokens: once Entra uses the newest, run "
                f"`tenant retire-token {tenant_id}`, then rotate again"
            )
        self._after_newest(self._secrets.versions(name))
        token = new_token()
        self._secrets.add_version(name, token)
        # A worker that re-read the store less than its refresh interval ago would refuse the new token
        # until then; the new record makes every worker read it within the revocation bound at worst.
        self.secrets_changed(tenant_id)
        return token

    def retire_token(self, tenant_id: str) -> int:
        """Disable every valid token but the newest; the number disabled."""
        self.get(tenant_id)
        name = secret_name(tenant_id)
        usable = self._usable(self._secrets.versions(name))
        if not usable:
            raise TenantTokenStateError(f"tenant {tenant_id} has no valid token; run `tenant rotate-token {tenant_id}`")
        self._disable(name, usable[1:])
        self.secrets_changed(tenant_id)
        return len(usable) - 1

    def revoke_tokens(self, tenant_id: str) -> tuple[str, int]:
        """After a leak: a new Secret Token, and every other one (the newest included) disabled at once.

        Returns the new token and the number disabled. Entra is refused until the new token is pasted.
        """
        self.get(tenant_id)
        name = secret_name(tenant_id)
        versions = self._secrets.versions(name)
        self._after_newest(versions)
        token = new_token()
        added = self._secrets.add_version(name, token)
        self._disable(name, [v for v in self._usable(versions) if v.version != added.version])
        self.secrets_changed(tenant_id)
        return token, len(self._usable(versions))

    def remove_tokens(self, tenant_id: str) -> int:
        """Disable every Secret Token (a tenant that has moved to OAuth2 client credentials); the number disabled."""
        self.get(tenant_id)
        name = secret_name(tenant_id)
        usable = self._usable(self._secrets.versions(name))
        self._disable(name, usable)
        self.secrets_changed(tenant_id)
        return len(usable)

    def secrets_changed(self, tenant_id: str) -> None:
        """Rewrite the tenant's record after its secrets changed: with the verifiers of its valid Secret Token
        versions as the store has them now (what the endpoint checks tokens against, no store call per
        request), and a new etag that makes every worker drop the client secrets it cached. Every worker
        re-reads the record within SCIM_TENANT_CACHE_SECONDS: a retired token or client secret is refused, and
        a new one accepted, within that bound.

        The row is read before the store and written only if unchanged since (etag): a rewrite racing another
        operator's is done again, from a fresh read of the store, so the last row written never holds
        verifiers older than the store's last change.
        """
        for attempt in range(_SYNC_ATTEMPTS):
            row = self.get(tenant_id)
            try:
                self._table.update(replace(row, token_verifiers=self._verifiers(tenant_id)))
                return
            except VersionMismatchError:
                if attempt == _SYNC_ATTEMPTS - 1:
                    raise

    def set_limit(self, tenant_id: str, max_active_users: int | None) -> TenantRow:
        self._check_limit(max_active_users)
        return self._table.update(replace(self.get(tenant_id), max_active_users=max_active_users))

    def set_enabled(self, tenant_id: str, enabled: bool) -> TenantRow:
        return self._table.update(replace(self.get(tenant_id), enabled=enabled))

    def delete(self, tenant_id: str) -> dict[str, int]:
        """Disable the tenant, delete its users, groups and memberships in batches, its tokens, then its record.

        Safe to run again after an interruption: the record goes last.
        """
        row = self.get(tenant_id)
        if row.enabled:
            self._table.update(replace(row, enabled=False))
        storage = self.accounts.get(row.account)
        deleted = {kind: self._table.purge_partition(kind, tenant_id, storage) for kind in RESOURCE_KINDS}
        for name in (secret_name(tenant_id), client_secret_name(tenant_id)):
            self._disable(name, [v for v in self._secrets.versions(name) if v.enabled])
        TenantSchemaTable(self.accounts.primary).delete_schema(tenant_id)  # its custom attributes
        self._table.delete(tenant_id)
        return deleted

    # -- helpers --------------------------------------------------------------------------------

    @staticmethod
    def _check_limit(max_active_users: int | None) -> None:
        if max_active_users is not None and max_active_users < 0:
            raise ValueError("the maximum number of active users is a whole number, 0 or more, or none")

    @staticmethod
    def _sorted(versions: Sequence[SecretVersion]) -> list[SecretVersion]:
        return sorted(versions, key=lambda v: v.created_on or datetime.min.replace(tzinfo=UTC), reverse=True)

    def _usable(self, versions: Sequence[SecretVersion]) -> list[SecretVersion]:
        now = datetime.now(UTC)
        return [v for v in self._sorted(versions) if v.usable_at(now)]

    @staticmethod
    def _after_newest(versions: Sequence[SecretVersion]) -> None:
        """Key Vault keeps creation times in whole seconds: wait out the newest version's second, so that
        "newest" stays unambiguous for retire-token and for the endpoint."""
        created = [v.created_on for v in versions if v.created_on is not None]
        if created and max(created).microsecond == 0:
            wait = max(created).timestamp() + 1.0 - datetime.now(UTC).timestamp()
            if 0 < wait <= 1.0:
                time.sleep(wait)

    def _verifiers(self, tenant_id: str) -> tuple[TokenVerifier, ...] | None:
        """The verifiers of the tenant's valid Secret Token versions (the newest ACCEPTED_VERSIONS enabled ones
        not expired, each with its not-before and expiry), read from the store: one listing and a value read per
        version. None if a value lacks new_token's shape (put into the vault by hand): a fast hash of a
        guessable token would be a weak verifier, so that tenant stays checked against the store."""
        name = secret_name(tenant_id)
        now = datetime.now(UTC)
        verifiers = []
        for version in self._sorted(self._secrets.versions(name)):
            if not version.enabled or (version.expires_on is not None and version.expires_on <= now):
                continue
            value = self._secrets.value(name, version.version)
            if value is None:
                continue
            if not looks_generated(value):
                return None
            verifiers.append(TokenVerifier(token_verifier(value), version.not_before, version.expires_on))
            if len(verifiers) == ACCEPTED_VERSIONS:
                break
        return tuple(verifiers)

    def _disable(self, name: str, versions: Sequence[SecretVersion]) -> None:
        for version in versions:
            self._secrets.set_enabled(name, version.version, False)
