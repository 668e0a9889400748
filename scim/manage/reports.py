"""The management API's reads of what Entra did to a tenant: its status, its activity and its change feed,
the same reports the CLI's `tenant status`, `tenant activity` and `tenant changes` print (the feed's positions
are the CLI's `--cursor` tokens)."""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any

from scim.manage import models
from scim.manage.calls import Answer, Call, Services, bool_query, decode_cursor, encode_cursor, int_query
from scim.manage.problems import ProblemError
from scim.platform.activity_report import custom_values, parse_since
from scim.platform.changes import STREAMS, Change
from scim.platform.doors import door_of
from scim.platform.hints import hint
from scim.store import COUNTER_SHARDS, LEGACY_SEQUENCE, ActivityRecord, FeedCursor
from scim.store import decode_cursor as store_decode
from scim.store import encode_cursor as store_encode

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
        """A page of the tenant's change feed after the cursor, oldest first by time, and the cursor after it.

        The cursor holds each stream's FeedCursor (scim.store.encode_cursor: every counter shard's last local
        number read), so paging with it misses and repeats no record, whichever shard commits when. Each
        stream's page is a per-shard prefix of what follows its cursor, and so is a prefix of their merge:
        the cursor advances over exactly the records answered. Without a cursor, ``after=N`` starts the feed
        at the records numbered above N (a start, then lossless); neither: the oldest record kept.
        """
        services = self._services(call.caller)
        tenant = services.tenants.get(call.tenant).id
        query = call.query
        stream = (query.get("stream") or "").capitalize() or None
        if stream is not None and stream not in STREAMS:
            raise ProblemError(400, "stream is Users or Groups", kind="invalid-query")
        limit = int_query(query, "limit", 100, 1, MAX_CHANGES)
        names = [stream] if stream else list(STREAMS)
        if query.get("cursor"):
            if query.get("after"):
                raise ProblemError(
                    400, "give cursor or after, not both: the cursor holds where the feed is", kind="invalid-query"
                )
            at = _feed_positions(decode_cursor(query.get("cursor")), names)
        else:
            start = numbered_above(int_query(query, "after", 0, 0, 10**12))
            at = {name: dict(start) for name in names}
        log = services.change_log(tenant)
        lists = [log.streams[name].page(tenant, at[name], limit, brief=True)[0] for name in names]
        merged = list(heapq.merge(*lists, key=lambda record: (record.time, record.stream, record.seq)))[:limit]
        for record in merged:
            part, local = record.position
            at[record.stream][part] = max(at[record.stream].get(part, 0), local)
        items = [_change_item(Change.of(record)) for record in merged]
        positions = {name: store_encode(at[name]) for name in names}
        return models.ChangePage(items=items, positions=positions, next=encode_cursor(positions)), 200


def numbered_above(seq: int) -> FeedCursor:
    """The feed position before every record numbered above ``seq``: record_number(shard, local) is
    ``local * COUNTER_SHARDS + shard``, above ``seq`` when ``local > (seq - shard) // COUNTER_SHARDS``; the older
    single sequence numbers its records as they are."""
    start: FeedCursor = {LEGACY_SEQUENCE: seq} if seq > 0 else {}
    for shard in range(COUNTER_SHARDS):
        local = (seq - shard) // COUNTER_SHARDS
        if local > 0:
            start[shard] = local
    return start


def _feed_positions(cursor: dict[str, Any], names: list[str]) -> dict[str, FeedCursor]:
    """Each stream's FeedCursor from an API cursor, which must page the same streams as this request."""
    if sorted(cursor) != sorted(names):
        raise ProblemError(
            400,
            "this cursor pages other streams: send it with the stream parameter of the request that gave it",
            kind="invalid-cursor",
        )
    try:
        return {name: store_decode(str(cursor[name])) for name in names}
    except ValueError as exc:
        raise ProblemError(400, "cursor is not one this API gave out", kind="invalid-cursor") from exc


def _change_item(change: Change) -> models.ChangeItem:
    return models.ChangeItem(
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


def _activity_item(record: ActivityRecord) -> models.ActivityItem:
    door = door_of(record)
    values = custom_values(record)
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
        custom_attributes=values.as_json() if values else None,
        custom_attributes_omitted=values.omitted if values else 0,
    )
