"""Where a new tenant's data goes: the placement rule over the deployment's data accounts, stated to the operator.

The rule is "fewest tenants": a new tenant goes to the account that holds the fewest tenants now, ties going
to the account listed first (the primary, then SCIM_DATA_ACCOUNTS in order). It reads the tenants table only,
so it costs one query at `tenant create`, never a request's time. The operator overrides it with
`scim-admin tenant create --account NAME`; a tenant never moves once placed (its rows stay where it was put).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from scim.store import TenantRow

RULE = "fewest tenants, ties to the account listed first"


@dataclass(frozen=True)
class AccountLoad:
    """One data account and the tenants it holds."""

    name: str
    tenants: int
    primary: bool


@dataclass(frozen=True)
class Placement:
    """Where a tenant goes and why, in words the operator reads."""

    account: str
    reason: str


def account_loads(names: Sequence[str], rows: Iterable[TenantRow]) -> list[AccountLoad]:
    """Tenants per configured account, in placement order; a row naming no account counts on the primary."""
    primary = names[0]
    counts = Counter(row.account or primary for row in rows)
    return [AccountLoad(name, counts.get(name, 0), name == primary) for name in names]


def place(loads: Sequence[AccountLoad], chosen: str | None = None) -> Placement:
    """The account for a new tenant: `chosen` if the operator named one (it must be configured), else the rule."""
    if chosen is not None:
        if all(load.name != chosen for load in loads):
            known = ", ".join(load.name for load in loads)
            raise ValueError(f"there is no data account {chosen!r} in this deployment; its accounts: {known}")
        return Placement(chosen, "chosen by the operator (--account)")
    best = min(loads, key=lambda load: load.tenants)  # min keeps the first of equals: the listed order
    if len(loads) == 1:
        return Placement(best.name, "the deployment's only data account")
    others = ", ".join(f"{load.name} {load.tenants}" for load in loads if load is not best)
    return Placement(best.name, f"{RULE}: {best.name} holds {best.tenants} (others: {others})")
