"""HTTP front doors, framework-free: the host calls `handle(route, request)` and gets a Response back."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

from scim.api.accounts import AccountApis
from scim.api.oauth import TokenEndpoint
from scim.api.routes import ROUTE_TABLE, SCIM_HANDLERS, Route
from scim.api.scim import ScimApi
from scim.auth import TenantAuthenticator
from scim.errors import InternalServerException, error_response
from scim.http import Request, Response
from scim.oauth.keys import SigningKeys
from scim.oauth.tokens import AccessTokens
from scim.platform.activity import ActivityRecorder
from scim.platform.delivery import SweepReport
from scim.platform.tenant_attributes import TenantSchemas
from scim.platform.tenants import TenantDirectory, is_tenant_id
from scim.protocol.text import log_safe
from scim.resources.base import resource_names
from scim.resources.groups import GroupService
from scim.resources.users import UserService
from scim.secrets import SecretSource, build_secret_source, build_secret_store
from scim.settings import Settings, SettingsError
from scim.store import DataAccounts, TableStorage, TenantSchemaTable, TenantTable
from scim.wiring import build_accounts, build_delivery

if TYPE_CHECKING:
    from scim.api.admin import AdminApi
    from scim.manage import ManageApi

__all__ = [
    "ROUTES",
    "ROUTE_TABLE",
    "Route",
    "ScimApi",
    "build_api",
    "get_api",
    "handle",
    "handle_operator",
    "serve",
    "sweep_changes",
    "use_api",
]

log = logging.getLogger("scim")


def build_api(
    settings: Settings,
    *,
    storage: TableStorage | None = None,
    secrets: SecretSource | None = None,
    accounts: DataAccounts | None = None,
) -> ScimApi:
    """Wire settings to storage, secrets and services; creates clients but sends no request.

    Tests and benchmarks may pass the storage (to count its round trips: it is then the primary account, with
    SCIM_DATA_ACCOUNTS' beside it) or every account, and the secret source; their tenants must still be
    registered in the tenants table. The API returned is the primary account's; its `accounts` picks the API of
    a tenant's own account (scim.api.accounts), which scim.api.handle asks for every request.
    """
    accounts = accounts or build_accounts(settings, storage)
    # A tenant's custom attributes (scim-admin tenant attributes), kept with the tenant rows on the primary and
    # re-read within the tenant cache's bound.
    schemas = TenantSchemas(TenantSchemaTable(accounts.primary), ttl_seconds=settings.tenant_cache_seconds)
    source = secrets or build_secret_source(settings)
    # One cache of tenant records: a tenant disabled takes effect at the same moment in auth and in the activity
    # log; it also says which account each tenant's data is on.
    directory = TenantDirectory(TenantTable(accounts.primary), ttl_seconds=settings.tenant_cache_seconds)
    auth = build_authenticator(settings, directory, source)
    assert auth.access_tokens is not None
    token_endpoint = TokenEndpoint(auth, auth.access_tokens, public_base_url=settings.public_base_url)
    apis: dict[str, ScimApi] = {}
    for name, account in accounts.items():
        groups = GroupService(account.resources("Groups"), account.resources("Users"))
        users = UserService(
            account.resources("Users"),
            memberships=groups.memberships,
            require_email=settings.require_email,
            declarations=schemas.declarations,
        )
        names = resource_names(users, groups)
        activity = build_recorder(settings, account, lambda tenant: directory.lookup(tenant) is not None, name_of=names)
        apis[name] = ScimApi(
            settings,
            users,
            auth,
            groups,
            token_endpoint,
            activity=activity,
            operator_factory=lambda: build_operator_pages(settings, accounts, source, directory),
            delivery=build_delivery(settings, account, account=name),
            manage_factory=lambda: build_manage_api(settings, accounts),
        )
    routing = AccountApis[ScimApi](directory, apis, accounts.primary_name)
    for api in apis.values():
        api.accounts = routing
    return apis[accounts.primary_name]


def build_manage_api(settings: Settings, accounts: DataAccounts) -> ManageApi:
    """The management API (scim.manage), imported on its first request: SCIM requests never pay for it."""
    from scim.manage import build_manage_api as build

    return build(settings, accounts)


def build_recorder(
    settings: Settings,
    storage: TableStorage,
    is_registered: Callable[[str], bool],
    *,
    name_of: Callable[[str, str, str], str] | None = None,
) -> ActivityRecorder:
    """Request outcomes into the activity table, off the request path (scim.platform.activity)."""
    return ActivityRecorder(
        storage.activity(),
        is_registered=is_registered,
        retention=timedelta(days=settings.activity_retention_days),
        name_of=name_of,
    )


def build_operator_pages(
    settings: Settings, accounts: DataAccounts, secrets: SecretSource, directory: TenantDirectory
) -> AdminApi:
    """The operator pages: the activity report, the tenants, and the operator credential read through `secrets`.

    Imported here, on the first operator request: their modules (charts, report) are a cold start's cost otherwise.
    """
    from scim.api.admin import AdminApi, OperatorCredential, TableTenantCatalog
    from scim.api.admin_view import state_reader
    from scim.api.setup_page import build_setup_pages
    from scim.platform.activity_report import build_activity_report

    catalog = TableTenantCatalog(TenantTable(accounts.primary), directory)
    report = build_activity_report(accounts, catalog.active_limit, lambda tenant: _account_of(directory, tenant))
    name = settings.operator_secret_name
    credential = OperatorCredential(lambda refresh: secrets.secret_values(name, refresh=refresh))
    store = build_secret_store(settings)
    state = state_reader(directory, store, settings.public_base_url)
    setup = build_setup_pages(
        settings,
        accounts.primary,
        store,
        report,
        activity_of=lambda tenant: accounts.get(_account_of(directory, tenant)).activity(),
    )
    return AdminApi(report, catalog, credential, is_tenant_id, state=state, setup=setup)


def build_authenticator(
    settings: Settings, directory: TenantDirectory, secrets: SecretSource | None = None
) -> TenantAuthenticator:
    """Tenant records from the directory, tokens and signing keys from the secret source, cached per worker."""
    source = secrets or build_secret_source(settings)
    access_tokens = AccessTokens(
        SigningKeys(source),
        lifetime_seconds=settings.oauth_token_seconds,
        leeway_seconds=settings.oauth_leeway_seconds,
    )
    return TenantAuthenticator(
        directory,
        source,
        ttl_seconds=settings.token_cache_seconds,
        min_refresh_seconds=float(getattr(source, "min_refresh_seconds", 30.0)),
        access_tokens=access_tokens,
    )


_api: ScimApi | None = None
_api_lock = threading.Lock()


def get_api() -> ScimApi:
    """The process-wide API, built on first use (never at import: the Functions host indexes imports)."""
    global _api
    if _api is None:
        with _api_lock:
            if _api is None:
                _api = build_api(Settings.from_environ())
    return _api


def use_api(api: ScimApi) -> None:
    """Install `api` as the process-wide one, for a host that wires its own (devhost.serve's in-memory store)."""
    global _api
    with _api_lock:
        _api = api


def _account_of(directory: TenantDirectory, tenant: str) -> str | None:
    record = directory.lookup(tenant)
    return record.account if record is not None else None


ROUTES = SCIM_HANDLERS
"""Route name -> handler, from the route table (scim.api.routes)."""


def sweep_changes() -> SweepReport:
    """Entry point for the timer: deliver what was left behind, trim what retention allows."""
    api = get_api()
    if api.accounts is not None:
        report = api.accounts.sweep()
    else:
        assert api.delivery is not None
        report = api.delivery.sweep()
    if report.published or report.trimmed or report.failed:
        log.info(
            "changes sweep: partitions=%d published=%d trimmed=%d failed=%s",
            report.partitions,
            report.published,
            report.trimmed,
            report.failed,
        )
    return report


def handle_operator(request: Request) -> Response:
    """Entry point for the operator pages (HTML); a misconfigured deployment answers a plain 500."""
    try:
        api = get_api()
    except SettingsError as exc:
        log.error("scim configuration error: %s", exc)
        return Response(500, b"The service is misconfigured; see its logs", {"Content-Type": "text/plain"})
    if api.operator is None:
        return Response(404, b"Not Found", {"Content-Type": "text/plain"})
    return api.operator.handle(request)


def serve(route: Route, request: Request) -> Response:
    """Entry point for hosts, per row of the route table: the operator pages or a SCIM route."""
    return handle_operator(request) if route.is_operator else handle(route.name, request)


def handle(route: str, request: Request) -> Response:
    """Entry point for hosts: a misconfigured deployment answers a SCIM 500, and logs which setting is wrong."""
    try:
        api = get_api()
    except SettingsError as exc:
        log.error("scim configuration error: %s", exc)
        return error_response(InternalServerException(detail="The SCIM service is misconfigured; see its logs"))
    if api.accounts is not None:
        tenant = request.route_params.get("tenant", "")
        routed = api.accounts.for_tenant(tenant)
        if routed is None:  # the tenant's row names an account the settings do not list
            log.error(
                "scim configuration error: tenant %s's data account is not in SCIM_DATA_ACCOUNTS", log_safe(tenant)
            )
            return error_response(InternalServerException(detail="The SCIM service is misconfigured; see its logs"))
        api = routed
    return ROUTES[route](api, request)
