"""Reading a tenant's activity for the operator: status figures, the 24-hour chart, pages of records.

Every figure is a bounded read: the traffic buckets of the last 24 hours (one key range), the counter
rows of users and groups (point reads), and pages of at most `MAX_ACTIVITY_PAGE` records by key range with a
RowKey cursor. Nothing here scans the activity, however many records a tenant has.

One mechanism for the facts of writes: a successful write is a change record (scim.platform.changes),
never an activity record; the activity table holds the answers that are not (refusals and errors) and the
traffic counts. A page merges both, newest first. Its cursor is the last activity key shown, and after a
``#`` the lowest change number shown of each stream (``<key>#<Users seq>.<Groups seq>``): each page reads
at most one page of activity and `limit` changes per stream (two point reads on the first page, one range
query per stream). A userName search reads the newest `NAME_WINDOW` changes of each stream (one range
query each) and orders their names among the activity table's name keys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from scim.platform.activity import WRITE_OPERATIONS
from scim.platform.changes import STREAMS, Change, ChangeLog
from scim.protocol.custom_values import CustomValues, decode
from scim.resources.users import is_active_document
from scim.store import (
    MAX_ACTIVITY_PAGE,
    ActivityPage,
    ActivityRecord,
    ActivityTable,
    ChangeRows,
    DataAccounts,
    ResourceTable,
    TableStorage,
    TrafficBucket,
    activity_key,
    change_suffix,
    decode_cursor,
    encode_cursor,
    is_change_key,
    name_key,
    named_activity_key,
)

CYCLE = timedelta(minutes=40)
"""Entra's provisioning interval for non-gallery apps."""
DAY = timedelta(hours=24)
NAME_WINDOW = 1000
"""How many of the newest changes of each stream a userName search reads (one range query per stream)."""


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
    day_refused: int = 0
    """Requests refused in the last 24 h for want of valid credentials (a wrong or old token, or anyone's)."""
    last_refused: datetime | None = None

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
        changes: ChangeLog | None = None,
    ) -> None:
        self.table = table
        self.changes = changes or ChangeLog({"Users": ChangeRows(users), "Groups": ChangeRows(groups)})
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
        users = self._users.counts(tenant, is_active_document)
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
            day_refused=sum(b.refused for b in buckets if b.start >= now - DAY),
            last_refused=max((b.last_refused for b in buckets if b.last_refused is not None), default=None),
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
        """One page, newest first: all (writes from the change log, answers from the activity), errors only,
        or about one userName (exact, any case)."""
        limit = max(1, min(limit, MAX_ACTIVITY_PAGE))
        earliest = self.clock() - since if since is not None else None
        if errors_only and not user:
            key = (after or "").partition("#")[0] or None
            return self.table.page(tenant, since=earliest, errors_only=True, after=key, limit=limit)
        if not user:
            return self._all(tenant, earliest, after, limit)
        page = self._named(tenant, user, prefix=False, after=after, limit=limit, writes=not errors_only)
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
        return self._named(tenant, prefix, prefix=True, after=after, limit=max(1, min(limit, MAX_ACTIVITY_PAGE)))

    def _all(self, tenant: str, earliest: datetime | None, after: str | None, limit: int) -> ActivityPage:
        key, bounds = _parse_cursor(after)
        page = self.table.page(tenant, since=earliest, after=key or None, limit=limit)
        candidates: list[ActivityRecord] = list(page.records)
        read: dict[str, list[Change]] = {}
        more: dict[str, bool] = {}
        for stream in STREAMS:
            found = self.changes.before(tenant, stream, bounds.get(stream), limit)
            kept = [c for c in found if earliest is None or c.time >= earliest]
            read[stream] = kept
            more[stream] = len(found) == limit and len(kept) == len(found)
            candidates.extend(_record_of(c, activity_key(c.time, change_suffix(c.stream, c.seq))) for c in kept)
        candidates.sort(key=lambda r: r.key)
        shown = candidates[:limit]
        left = candidates[limit:]
        activity_shown = [r for r in shown if not _is_change(r)]
        next_key = activity_shown[-1].key if activity_shown else key
        has_more = bool(left) or (len(activity_shown) == len(page.records) and page.next_key is not None)
        shown_keys = {r.key for r in shown if _is_change(r)}
        new_bounds: dict[str, dict[int, int]] = {}
        for stream in STREAMS:
            # Each sequence (counter shard) goes on below the lowest local number shown of it; one that showed
            # nothing stays where it was read (pinned, as the activity rows are by their key).
            bound = dict(bounds.get(stream, {}))
            lowest_shown: dict[int, int] = {}
            for change in read[stream]:
                part, local = change.position
                if activity_key(change.time, change_suffix(change.stream, change.seq)) in shown_keys:
                    lowest_shown[part] = min(lowest_shown.get(part, local), local)
                elif part not in lowest_shown:
                    bound[part] = min(bound.get(part, local + 1), max(local + 1, bound.get(part, 0)))
            bound.update(lowest_shown)
            new_bounds[stream] = bound
            has_more = has_more or more[stream]
        tokens = "#".join(encode_cursor(new_bounds[stream]) for stream in STREAMS)
        cursor = f"{next_key}#{tokens}" if has_more else None
        return ActivityPage(_without_legacy(shown), cursor)

    def _named(
        self, tenant: str, name: str, *, prefix: bool, after: str | None, limit: int, writes: bool = True
    ) -> ActivityPage:
        """Activity rows about a name (key order: name, then newest first) merged with the matching changes
        among the newest `NAME_WINDOW` of each stream, ordered by the same key."""
        key = (after or "").partition("#")[0] or None
        page = self.table.by_name(tenant, name, prefix=prefix, after=key, limit=limit)
        if not writes:
            return page
        wanted = name_key(name)
        candidates: list[ActivityRecord] = list(page.records)
        for stream in STREAMS:
            for change in self.changes.before(tenant, stream, None, NAME_WINDOW):
                encoded = name_key(change.name or "")
                if not change.name or not (encoded.startswith(wanted) if prefix else encoded == wanted):
                    continue
                record = _record_of(
                    change, named_activity_key(encoded, change.time, change_suffix(change.stream, change.seq))
                )
                if key is None or record.key > key:
                    candidates.append(record)
        candidates.sort(key=lambda r: r.key)
        shown = candidates[:limit]
        has_more = len(candidates) > limit or (page.next_key is not None and all(r in shown for r in page.records))
        return ActivityPage(_without_legacy(shown), shown[-1].key if has_more and shown else None)


def build_activity_report(
    storage: TableStorage | DataAccounts,
    limit_of: Callable[[str], int | None] = lambda tenant: None,
    account_of: Callable[[str], str | None] = lambda tenant: None,
) -> ActivityReport:
    """The report over a storage account's activity, users and groups tables; over several accounts, each
    tenant's questions are answered on the account `account_of` names (its tenant row's; None: the primary)."""
    if isinstance(storage, DataAccounts):
        reports = {name: build_activity_report(account, limit_of) for name, account in storage.items()}
        if len(reports) == 1:
            return reports[storage.primary_name]
        return AccountsActivityReport(storage, reports, account_of)
    return ActivityReport(
        storage.activity(), storage.resources("Users"), storage.resources("Groups"), limit_of=limit_of
    )


class AccountsActivityReport(ActivityReport):
    """The operator's questions about a tenant, asked of the report on the tenant's own data account."""

    def __init__(
        self,
        accounts: DataAccounts,
        reports: dict[str, ActivityReport],
        account_of: Callable[[str], str | None],
    ) -> None:
        primary = reports[accounts.primary_name]
        super().__init__(primary.table, primary._users, primary._groups, limit_of=primary._limit_of)
        self._accounts = accounts
        self._reports = reports
        self._account_of = account_of

    def _of(self, tenant: str) -> ActivityReport:
        account = self._accounts.name_of(self._account_of(tenant))
        self._accounts.get(account)  # UnknownAccountError for an account the settings do not list
        return self._reports[account]

    def status(self, tenant: str) -> TenantStatus:
        return self._of(tenant).status(tenant)

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
        return self._of(tenant).activity(
            tenant, since=since, errors_only=errors_only, user=user, after=after, limit=limit
        )

    def search(self, tenant: str, prefix: str, *, after: str | None = None, limit: int = 50) -> ActivityPage:
        return self._of(tenant).search(tenant, prefix, after=after, limit=limit)


def custom_values(record: ActivityRecord) -> CustomValues | None:
    """The tenant's declared custom attributes a user's write shown in the view set (from its change record's
    summary, read with the brief record: no extra read); None for any other record."""
    return decode(record.summary)


def _without_legacy(records: list[ActivityRecord]) -> list[ActivityRecord]:
    """Leave out activity records of successful writes stored before the change log was their one home (they
    age out with the activity retention): the change record of the same write is shown instead."""
    return [r for r in records if _is_change(r) or not (200 <= r.status < 300 and r.operation in WRITE_OPERATIONS)]


def _is_change(record: ActivityRecord) -> bool:
    return is_change_key(record.key)


def _suffix(stream: str, record: ActivityRecord) -> str:
    return change_suffix(stream, record.change_seq or 0)


def _record_of(change: Change, key: str) -> ActivityRecord:
    """A change as a row of the operator's views: the write that committed (no status: the answer is not kept)."""
    return ActivityRecord(
        time=change.time,
        operation=change.operation,
        resource_type=change.resource_type,
        resource_id=change.resource_id,
        name=change.name or "",
        status=0,
        change_seq=change.seq,
        key=key,
        summary=change.summary,
    )


def _parse_cursor(after: str | None) -> tuple[str, dict[str, dict[int, int]]]:
    """'<activity key>#<Users bounds>#<Groups bounds>' -> the key and each stream's bounds, a local number per
    sequence (scim.store.encode_cursor); anything else: from the newest."""
    key, _, rest = (after or "").partition("#")
    parts = rest.split("#")
    if len(parts) != len(STREAMS):
        return key, {}
    try:
        return key, {stream: decode_cursor(p) for stream, p in zip(STREAMS, parts, strict=True)}
    except ValueError:
        return key, {}
