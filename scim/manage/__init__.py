"""The management API under /manage/v1/: the platform's backend creates and looks after customer tenants.

A door like the CLI onto the same services (scim.platform), authenticated by Microsoft Entra ID access
tokens (scim.manage.entra), described by an OpenAPI 3.1 document built from its own models
(scim.manage.openapi). scim.api routes `manage/v1/{*path}` here; `build_manage_api` wires it from settings.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from scim.manage.api import ManageApi, ManageConfig
from scim.manage.entra import EntraTokenVerifier, IssuerKeys, https_fetcher
from scim.manage.handlers import Services
from scim.manage.idempotency import IdempotentCreates
from scim.manage.limits import RateLimiter
from scim.platform.activity_report import ActivityReport, build_activity_report
from scim.platform.changes import STREAMS, ChangeLog
from scim.platform.clients import ClientService
from scim.platform.doors import DoorLog, api_door, clients_with_door, tenants_with_door
from scim.platform.setup_links import SetupLinks
from scim.platform.tenants import TenantService
from scim.secrets import SecretStore, build_secret_store
from scim.settings import Settings
from scim.store import ChangeRows, DataAccounts, IdempotencyTable, TableStorage

__all__ = ["ManageApi", "build_manage_api"]


def build_manage_api(
    settings: Settings,
    storage: TableStorage | DataAccounts,
    *,
    secrets: SecretStore | None = None,
    keys: IssuerKeys | None = None,
) -> ManageApi:
    """The door, its verifier (None when SCIM_MANAGE_ISSUER is unset: every request is refused) and services."""
    verifier = None
    if settings.manage_issuer:
        keys = keys or IssuerKeys(settings.manage_issuer, https_fetcher(settings.manage_ca_bundle))
        verifier = EntraTokenVerifier(keys, settings.manage_audiences, leeway_seconds=settings.oauth_leeway_seconds)
    config = ManageConfig(
        verifier,
        settings.manage_read_role,
        settings.manage_write_role,
        RateLimiter(settings.manage_requests_per_minute),
    )
    store = secrets or build_secret_store(settings, operator=True)
    accounts = storage if isinstance(storage, DataAccounts) else DataAccounts.single(storage)
    creates = IdempotentCreates(IdempotencyTable(accounts.primary))
    bases: dict[str, tuple[TenantService, ClientService]] = {}
    lock = threading.Lock()

    def base(origin: str) -> tuple[TenantService, ClientService]:
        url = settings.public_base_url or origin
        with lock:
            if url not in bases:
                if len(bases) > 16:  # origins come from the host's request URL; keep the map bounded anyway
                    bases.clear()
                tenants = TenantService(accounts, store, public_base_url=url)
                bases[url] = (tenants, ClientService(tenants, store, public_base_url=url))
            return bases[url]

    def report(limit: int | None) -> ActivityReport:
        return build_activity_report(accounts, lambda tenant: limit)

    def services(app_id: str, origin: str) -> Services:
        tenants, clients = base(origin)

        def change_log(tenant: str) -> ChangeLog:
            """The tenant's change records, on the data account its row names (not the primary's)."""
            storage = tenants.storage_of(tenant)
            return ChangeLog({kind: ChangeRows(storage.resources(kind)) for kind in STREAMS})

        doors = DoorLog(lambda tenant: tenants.storage_of(tenant).activity(), api_door(app_id))
        door_tenants = tenants_with_door(tenants, doors)
        door_clients = clients_with_door(clients, doors)
        links = SetupLinks(
            accounts.primary, door_tenants, door_clients, store, public_base_url=settings.public_base_url or origin
        )
        return Services(
            tenants=door_tenants,
            clients=door_clients,
            report=report,
            change_log=change_log,
            revocation_seconds=settings.revocation_seconds,
            creates=creates,
            setup_links=links,
        )

    return ManageApi(config, services)


ServicesFactory = Callable[[str, str], Services]
