"""Reading a tenant's activity for the operator: status figures, the 24-hour chart, pages of records.

Every figure is a bounded read: the traffic buckets of the last 24 hours (one key range), the counter
rows of users and groups (point reads), and pages of at most `MAX_PAGE` records by key range with a
RowKey cursor. Nothing here scans the activity, however many records a tenant has.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from scim.store import ActivityPage, ActivityTable, ResourceTable, TableStorage, TrafficBucket
from scim.store.activity import MAX_PAGE

CYCLE = timedelta(minutes=40)
"""Entra's provisioning interval for non-gallery apps."""
DAY = timedelta(hours=24)


@dataclass(frozen=True)
class HourBar:
    start: datetime
    requests: int
    errors: int


@dataclass(frozen=True)
class TenantStatus:
    tenant: str
    last_request: datetime | None
    cycle_requests: int
    cycle_errors: int
    day_requests: int
    day_errors: int
    day_writes: int
    users: int
    active_users: int
    groups: int
    max_active_users: int | None
    hours: list[HourBar]

    @property
    def disabled_users(self) -> int:
        return self.users - self.active_users

    @property
    def license_use(self) -> str:
        """e.g. '37 of 50 (74%)', or '37 (no limit)'."""
        if self.max_active_users is None:
            return f"{self.active_users} (no limit)"
        if self.max_active_users == 0:
            return f"{self.active_users} of 0"
        return f"{self.active_users} of {self.max_active_users} ({100 * self.active_users // self.max_active_users}%)"


def parse_since(text: str | None) -> timedelta | None:
    """'90m', '2h', '7d' (or '' for no bound) as a duration; ValueError for anything else."""
    if not text:
        return None
    text = text.strip().lower()
    units = {"m": 60, "h": 3600, "d": 86400}
    if len(text) < 2 or text[-1] not in units or not text[:-1].isdigit() or len(text) > 8:
        raise ValueError("since is a number and a unit: 90m, 2h or 7d")
    return timedelta(seconds=int(text[:-1]) * units[text[-1]])


def sum_buckets(buckets: list[TrafficBucket], since: datetime) -> tuple[int, int, int]:
    chosen = [b for b in buckets if b.start >= since]
    return (sum(b.requests for b in chosen), sum(b.errors for b in chosen), sum(b.writes for b in chosen))


class ActivityReport:
    """The operator's questions about a tenant, answered from the activity and counter rows."""

    def __init__(
        self,
        table: ActivityTable,
        users: ResourceTable,
        groups: ResourceTable,
        *,
        limit_of: Callable[[str], int | None] = lambda tenant: None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.table = table
        self._users = users
        self._groups = groups
        self._limit_of = limit_of
        self.clock = clock

    def status(self, tenant: str) -> TenantStatus:
        now = self.clock()
        buckets = self.table.buckets(tenant, now - DAY)
        cycle_requests, cycle_errors, _ = sum_buckets(buckets, now - CYCLE)
        day_requests, day_errors, day_writes = sum_buckets(buckets, now - DAY)
        last = max((b.last_request for b in buckets if b.last_request is not None), default=None)
        users = self._users.counts(tenant)
        groups = self._groups.counts(tenant)
        return TenantStatus(
            tenant=tenant,
            last_request=last,
            cycle_requests=cycle_requests,
            cycle_errors=cycle_errors,
            day_requests=day_requests,
            day_errors=day_errors,
            day_writes=day_writes,
            users=users.total,
            active_users=users.active,
            groups=groups.total,
            max_active_users=self._limit_of(tenant),
            hours=self.hours(buckets, now),
        )

    @staticmethod
    def hours(buckets: list[TrafficBucket], now: datetime) -> list[HourBar]:
        """24 bars, oldest first; the last is the current (partial) hour."""
        current = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        starts = [current - timedelta(hours=n) for n in range(23, -1, -1)]
        totals = {start: [0, 0] for start in starts}
        for bucket in buckets:
            hour = bucket.start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
            if hour in totals:
                totals[hour][0] += bucket.requests
                totals[hour][1] += bucket.errors
        return [HourBar(start, *totals[start]) for start in starts]

    def activity(
        self,
        tenant: str,
        *,
        since: timedelta | None = None,
        errors_only: bool = False,
        user: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> ActivityPage:
        """One page of records, newest first: all, errors only, or about one userName (exact, any case)."""
        limit = max(1, min(limit, MAX_PAGE))
        earliest = self.clock() - since if since is not None else None
        if not user:
            return self.table.page(tenant, since=earliest, errors_only=errors_only, after=after, limit=limit)
        page = self.table.by_name(tenant, user, after=after, limit=limit)
        records = [
            r
            for r in page.records
            if (earliest is None or r.time >= earliest) and (not errors_only or r.is_error or r.operation == "lost")
        ]
        # By-name rows are newest first: once one is older than `since`, the rest are too.
        ended = earliest is not None and any(r.time < earliest for r in page.records)
        return ActivityPage(records, None if ended else page.next_key)

    def search(self, tenant: str, prefix: str, *, after: str | None = None, limit: int = 50) -> ActivityPage:
        """Records whose userName/displayName starts with `prefix` (any case), grouped by name."""
        return self.table.by_name(tenant, prefix, prefix=True, after=after, limit=min(limit, MAX_PAGE))


def build_activity_report(
    storage: TableStorage, limit_of: Callable[[str], int | None] = lambda tenant: None
) -> ActivityReport:
    """The report over a storage account's activity, users and groups tables."""
    return ActivityReport(
        storage.activity(), storage.resources("Users"), storage.resources("Groups"), limit_of=limit_of
    )
