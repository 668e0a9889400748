"""The tables of one storage account: the service client (bounded retries, pooled transport, counted round
trips) and, built lazily and shared by the worker, a client per table with the lean transaction envelope."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from azure.data.tables import TableClient, TableServiceClient

from scim.store.activity import ActivityTable
from scim.store.azure import RetryBudget, bounded_transport, install_retry_policy, lean_transactions
from scim.store.calls import count_call
from scim.store.rows import RoundTripCounter
from scim.store.tables import ResourceTable


class TableStorage:
    """The tables of one storage account; clients are built lazily and shared by the worker process."""

    def __init__(
        self,
        *,
        connection_string: str | None = None,
        endpoint: str | None = None,
        credential: Any = None,
        table_prefix: str = "scim",
        retry: RetryBudget | None = None,
        transport: Any = None,
    ) -> None:
        self.round_trips = RoundTripCounter()
        self.retry = retry or getattr(transport, "budget", None) or RetryBudget()
        options: dict[str, Any] = {
            "raw_request_hook": self._sent,
            "transport": transport or bounded_transport(self.retry),
            **self.retry.client_options(),
        }
        if connection_string:
            self._service = TableServiceClient.from_connection_string(connection_string, **options)
        elif endpoint:
            self._service = TableServiceClient(endpoint=endpoint, credential=credential, **options)
        else:
            raise ValueError("TableStorage needs a connection string or an endpoint")
        install_retry_policy(self._service, self.retry)
        self._init_tables(table_prefix)

    def _init_tables(self, table_prefix: str) -> None:
        """The per-account state every implementation shares (scim.store.memory builds no SDK service)."""
        self._prefix = table_prefix
        self._tables: dict[str, ResourceTable] = {}
        self._activity: ActivityTable | None = None
        self._lock = threading.Lock()

    def _sent(self, request: Any) -> None:
        """The SDK's raw_request_hook: once per request actually sent (each retry too)."""
        self.round_trips(request)
        count_call()

    def table_client(self, name: str) -> TableClient:
        """A client of one table, its transactions sent through scim.store.azure's lean envelope."""
        return lean_transactions(self._service.get_table_client(name))

    def table_name(self, kind: str) -> str:
        """The Azure table name of one kind of rows, e.g. 'Users' -> '<prefix>Users'."""
        return f"{self._prefix}{kind}"

    def resources(self, kind: str) -> ResourceTable:
        """The table for one resource kind, e.g. 'Users' -> table '<prefix>Users'."""
        with self._lock:
            table = self._tables.get(kind)
            if table is None:
                table = ResourceTable(self.table_client(self.table_name(kind)), kind)
                self._tables[kind] = table
            return table

    def activity(self) -> ActivityTable:
        """The activity table '<prefix>Activity' (scim.store.activity)."""
        with self._lock:
            if self._activity is None:
                self._activity = ActivityTable(self.table_client(self.table_name("Activity")))
            return self._activity

    def close(self) -> None:
        self._service.close()


class UnknownAccountError(LookupError):
    """A tenant's row names a data account this deployment's settings do not list (SCIM_DATA_ACCOUNTS)."""

    def __init__(self, account: str) -> None:
        super().__init__(f"data account {account!r} is not configured (SCIM_DATA_ACCOUNTS)")
        self.account = account


class DataAccounts:
    """The storage accounts tenants' data lives on, by name, in placement order; the first is the primary.

    The primary keeps the tenants table (the registry) and every tenant whose row names no account: the
    tenants of a deployment from before there were several accounts stay where they are, unrewritten.
    """

    def __init__(self, accounts: Mapping[str, TableStorage]) -> None:
        if not accounts:
            raise ValueError("DataAccounts needs at least the primary account")
        self._accounts = dict(accounts)
        self.primary_name = next(iter(self._accounts))

    @classmethod
    def single(cls, storage: TableStorage, name: str = "primary") -> DataAccounts:
        """One account that is the primary too: a deployment (or a test) with no SCIM_DATA_ACCOUNTS."""
        return cls({name: storage})

    @property
    def primary(self) -> TableStorage:
        return self._accounts[self.primary_name]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._accounts)

    def name_of(self, account: str | None) -> str:
        """The account a tenant row names, the primary for a row that names none."""
        return account or self.primary_name

    def get(self, account: str | None) -> TableStorage:
        """The storage of an account a tenant row names (None or '': the primary); UnknownAccountError if none."""
        storage = self._accounts.get(self.name_of(account))
        if storage is None:
            raise UnknownAccountError(str(account))
        return storage

    def items(self) -> list[tuple[str, TableStorage]]:
        return list(self._accounts.items())

    def close(self) -> None:
        for storage in self._accounts.values():
            storage.close()
