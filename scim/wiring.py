"""Long-lived clients built from settings, shared by every front door (the HTTP app and the operator CLI)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from scim.platform.changes import STREAMS, ChangeLog
from scim.platform.clients import ClientService
from scim.platform.delivery import Delivery
from scim.platform.tenants import TenantService
from scim.secrets import azure_credential, build_secret_store
from scim.settings import PRIMARY_ACCOUNT, DataAccount, Settings
from scim.store import ChangeQueue, ChangeRows, DataAccounts, TableStorage


def build_storage(settings: Settings, credential: Any = None) -> TableStorage:
    """Table Storage by connection string (Azurite) or by endpoint and the app's identity (Azure)."""
    # The SDK's HTTP logging prints request URLs at INFO, and our row keys are hashes of user names.
    logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)
    if settings.storage_connection_string:
        return TableStorage(connection_string=settings.storage_connection_string, table_prefix=settings.table_prefix)
    return TableStorage(
        endpoint=settings.storage_table_endpoint,
        credential=credential or azure_credential(settings),
        table_prefix=settings.table_prefix,
    )


def _account_storage(settings: Settings, account: DataAccount, credential: Callable[[], Any]) -> TableStorage:
    if account.connection_string:
        return TableStorage(connection_string=account.connection_string, table_prefix=settings.table_prefix)
    return TableStorage(endpoint=account.table_endpoint, credential=credential(), table_prefix=settings.table_prefix)


def build_accounts(settings: Settings, primary: TableStorage | None = None) -> DataAccounts:
    """Every data account of the deployment: the primary (SCIM_STORAGE_*) first, then SCIM_DATA_ACCOUNTS in order,
    each with its own clients; in Azure all are reached with the one identity (azure_credential)."""
    shared: list[Any] = []

    def credential() -> Any:  # one credential object, one token cache, for every account that needs it
        if not shared:
            shared.append(azure_credential(settings))
        return shared[0]

    needs_identity = not settings.storage_connection_string
    accounts = {settings.account_names[0]: primary or build_storage(settings, credential() if needs_identity else None)}
    for account in settings.data_accounts:
        accounts[account.name] = _account_storage(settings, account, credential)
    return DataAccounts(accounts)


def build_tenant_service(settings: Settings, storage: TableStorage | DataAccounts | None = None) -> TenantService:
    """The operator's tenant use cases; the Tenant URL's base is SCIM_PUBLIC_BASE_URL."""
    if not settings.public_base_url:
        raise ValueError("SCIM_PUBLIC_BASE_URL is needed to print Tenant URLs")
    return TenantService(
        storage if isinstance(storage, DataAccounts) else build_accounts(settings, storage),
        build_secret_store(settings, operator=True),
        public_base_url=settings.public_base_url,
    )


def build_change_log(storage: TableStorage) -> ChangeLog:
    """The change records of both resource tables, for replay, repair and the operator's views."""
    return ChangeLog({kind: ChangeRows(storage.resources(kind)) for kind in STREAMS})


def build_change_queue(settings: Settings, account: str = PRIMARY_ACCOUNT) -> ChangeQueue | None:
    """The changes queue (SCIM_CHANGES_QUEUE) on one data account, where its tenants' change messages go; None
    when the deployment does not publish (the primary names no queue service: Settings.publishes_changes)."""
    if not settings.publishes_changes:
        return None
    if account == PRIMARY_ACCOUNT:
        if settings.storage_connection_string:
            return ChangeQueue(settings.changes_queue, connection_string=settings.storage_connection_string)
        return ChangeQueue(
            settings.changes_queue, endpoint=settings.storage_queue_endpoint, credential=azure_credential(settings)
        )
    found = next((data for data in settings.data_accounts if data.name == account), None)
    if found is None:
        raise ValueError(f"no data account {account!r} in SCIM_DATA_ACCOUNTS")
    if found.connection_string:
        return ChangeQueue(settings.changes_queue, connection_string=found.connection_string)
    return ChangeQueue(settings.changes_queue, endpoint=found.queue_endpoint, credential=azure_credential(settings))


def build_delivery(
    settings: Settings, storage: TableStorage, queue: ChangeQueue | None = None, *, account: str = PRIMARY_ACCOUNT
) -> Delivery:
    """Delivery of both tables' change records of one data account to that account's changes queue, told of every
    commit; sends no request.

    Without a queue setting (no SCIM_STORAGE_QUEUE_ENDPOINT, no QueueEndpoint in the connection string) the
    records are kept in the change log and trimmed, but not published.
    """
    if queue is None:
        queue = build_change_queue(settings, account)
    delivery = Delivery(
        build_change_log(storage).streams, queue, retention=timedelta(days=settings.change_retention_days)
    )
    for kind in STREAMS:
        delivery.attach(storage.resources(kind))
    return delivery


def build_client_service(settings: Settings, tenants: TenantService) -> ClientService:
    """The operator's OAuth2 client use cases; the token endpoint's base is SCIM_PUBLIC_BASE_URL."""
    if not settings.public_base_url:
        raise ValueError("SCIM_PUBLIC_BASE_URL is needed to print the OAuth token endpoint")
    return ClientService(tenants, build_secret_store(settings, operator=True), public_base_url=settings.public_base_url)
