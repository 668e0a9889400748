"""One ScimApi per data account, and the choice among them by the tenant's row: each request's storage is its
tenant's account, read through the tenant directory (cached and bounded, as authentication reads it anyway)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Generic, Protocol, TypeVar

from scim.platform.delivery import Delivery, SweepReport
from scim.platform.tenants import TenantDirectory


class AccountApi(Protocol):
    """What routing needs of an account's API (scim.api.scim.ScimApi): its delivery, for the sweep."""

    @property
    def delivery(self) -> Delivery | None: ...


Api = TypeVar("Api", bound=AccountApi)


class AccountApis(Generic[Api]):
    """The per-account APIs (scim.api.scim.ScimApi) of one deployment; the primary's answers requests of unknown
    or malformed tenants (with the same 401 as ever), and holds the operator pages and the token endpoint."""

    def __init__(self, directory: TenantDirectory, apis: Mapping[str, Api], primary: str) -> None:
        self._directory = directory
        self._apis = dict(apis)
        self.primary = primary

    def for_tenant(self, tenant: str) -> Api | None:
        """The API on the tenant's data account; None if its row names an account this deployment lacks
        (never the primary instead: a tenant's data must not be written to an account that is not its own).

        With one account this reads nothing. With several, the tenant's row is read here through the directory
        authentication reads it from (one point read per tenant per SCIM_TENANT_CACHE_SECONDS, shared)."""
        if len(self._apis) == 1:
            return self._apis[self.primary]
        record = self._directory.lookup(tenant) if tenant else None
        name = (record.account if record is not None else None) or self.primary
        return self._apis.get(name)

    def all(self) -> list[tuple[str, Api]]:
        return list(self._apis.items())

    def sweep(self) -> SweepReport:
        """Every account's delivery sweep, one after another, in one report (the errors name the account)."""
        total = SweepReport()
        for name, api in self._apis.items():
            if api.delivery is None:
                continue
            report = api.delivery.sweep()
            total.published += report.published
            total.trimmed += report.trimmed
            total.partitions += report.partitions
            total.failed = total.failed or report.failed
            total.errors += [f"{name}: {error}" for error in report.errors]
        return total
