"""The management API's reads of what Entra did to a tenant: its status, its activity and its change log,
the same reports the CLI's `tenant status`, `tenant activity` and `tenant changes` print."""

from __future__ import annotations

import heapq
from collections.abc import Callable

from scim.manage import models
from scim.manage.calls import Answer, Call, Services, bool_query, decode_cursor, encode_cursor, int_query
from scim.manage.problems import ProblemError
from scim.platform.activity_report import parse_since
from scim.platform.changes import STREAMS
from scim.platform.doors import door_of
from scim.platform.hints import hint
from scim.store import ActivityRecord

MAX_PAGE = 200
MAX_CHANGES = 1000


class ReportHandlers:
    """Status, activity and changes of one tenant; `services(caller)` as for every handler."""

    def __init__(self, services: Callable[[str], Services]) -> None:
        self._services = services

    def tenant_status(self, call: Call) -> Answer:
        services = self._services(call.caller)
        row = services.tenants.get(call.tenant)
        status = services.report(row.max_active_users).status(row.id)
        return models.TenantStatus(
            id=row.id,
            last_request=status.last_request,
            last_cycle=models.Counts(requests=status.cycle_requests, errors=status.cycle_errors),
            last24h=models.DayCounts(requests=status.day_requests, errors=status.day_errors, writes=status.day_writes),
            users=models.UserCounts(active=status.active_users, disabled=status.disabled_users, total=status.users),
            groups=status.groups,
            license=models.License(active=status.active_users, limit=status.max_active_users),
            hours=[models.HourCounts(start=h.start, requests=h.requests, errors=h.errors) for h in status.hours],
            refused=models.Refused(last24h=status.day_refused, last=status.last_refused),
        ), 200

    def tenant_activity(self, call: Call) -> Answer:
        services = self._services(call.caller)
        row = services.tenants.get(call.tenant)
        query = call.query
        try:
            since = parse_since(query.get("since"))
        except ValueError as exc:
            raise ProblemError(400, str(exc), kind="invalid-query") from exc
        user = (query.get("userName") or "").strip()[:256] or None
        after = decode_cursor(query.get("cursor")).get("key")
        page = services.report(row.max_active_users).activity(
            row.id,
            since=since,
            errors_only=bool_query(query, "errors"),
            user=user,
            after=str(after) if after else None,
            limit=int_query(query, "limit", 50, 1, MAX_PAGE),
        )
        return models.ActivityPage(
            items=[_activity_item(record) for record in page.records],
            next=encode_cursor({"key": page.next_key}) if page.next_key else None,
        ), 200

    def tenant_changes(self, call: Call) -> Answer:
        services = self._services(call.caller)
        tenant = services.tenants.get(call.tenant).id
        query = call.query
        stream = (query.get("stream") or "").capitalize() or None
        if stream is not None and stream not in STREAMS:
            raise ProblemError(400, "stream is Users or Groups", kind="invalid-query")
        limit = int_query(query, "limit", 100, 1, MAX_CHANGES)
        cursor = decode_cursor(query.get("cursor"))
        after = int_query(query, "after", 0, 0, 10**12)
        names = [stream] if stream else list(STREAMS)
        positions = {
            name: int(cursor.get(name, after)) if str(cursor.get(name, after)).isdigit() else after for name in names
        }
        lists = [services.change_log.read(tenant, positions[name], limit, name) for name in names]
        merged = list(heapq.merge(*lists, key=lambda c: (c.time, c.stream, c.seq)))[:limit]
        for change in merged:
            positions[change.stream] = max(positions[change.stream], change.seq)
        items = [
            models.ChangeItem(
                stream=change.stream,  # type: ignore[arg-type]
                seq=change.seq,
                time=change.time,
                operation=change.operation,
                resource_type=change.resource_type,
                id=change.resource_id,
                name=change.name,
                version=change.version,
                members=list(change.members),
            )
            for change in merged
        ]
        return models.ChangePage(items=items, positions=positions, next=encode_cursor(positions)), 200


def _activity_item(record: ActivityRecord) -> models.ActivityItem:
    door = door_of(record)
    return models.ActivityItem(
        time=record.time,
        operation=record.operation,
        resource_type=record.resource_type,
        id=record.resource_id,
        name=record.name,
        status=record.status or None,
        scim_type=record.scim_type,
        detail=record.detail,
        hint=hint(record),
        door=door.split(" (", 1)[0] if door else None,
        change_seq=record.change_seq,
    )
