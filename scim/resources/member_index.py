"""Repair of a tenant's member index (scim.store.user_entries), run by `scim-admin tenant reindex`.

The index agrees with the Users table by the order of their writes; what a crash or an older version leaves
behind, this puts right, and it is safe to run while Entra provisions:
- a user without an entry (stored before the index existed, or whose delete stopped after its first step) is
  entered, as its first membership would have entered it;
- an entry older than ORPHAN_GRACE whose user does not exist (a create that failed after its first step, whose
  entry could not be taken back) is removed, with any membership of that id;
- a membership of an id that is neither a user nor entered (written by a version before the index, racing a
  delete) is removed, as the user's delete would have removed it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from scim.resources.base import ReindexReport
from scim.store import USER_ENTRY_ORPHAN_GRACE, Memberships, ResourceTable, membership_of


def repair_member_index(users: ResourceTable, memberships: Memberships, tenant: str) -> ReindexReport:
    """Bring the tenant's member index in line with its users; ``moved`` counts the rows written or removed."""
    report = ReindexReport()
    user_ids = {stored.id for stored in users.scan(tenant)}
    report.resources = len(user_ids)
    entered = dict(memberships.users.registered(tenant))
    missing = sorted(user_ids - entered.keys())
    if missing:
        memberships.users.register(tenant, missing)
        report.moved += len(missing)
    now = datetime.now(UTC)
    for uid, written in sorted(entered.items()):
        if uid not in user_ids and now - written > USER_ENTRY_ORPHAN_GRACE and users.get(tenant, uid) is None:
            memberships.users.unregister(tenant, uid)
            memberships.forget_user(tenant, uid, now)
            report.moved += 1
    strays = {
        pair[2]
        for row in memberships.table.rows(tenant)
        if (pair := membership_of(str(row["RowKey"]))) is not None and pair[2] not in user_ids
    }
    for uid in sorted(strays - entered.keys()):
        if users.get(tenant, uid) is None:
            memberships.forget_user(tenant, uid, now)
            report.moved += 1
    return report
