"""The change log, read by the operator (CLI, activity view) and turned into the platform's queue messages.

Every change to a user, a group or a group's members has a record (scim.store.changes), numbered in the
table partition that holds it (a transaction cannot span two tables): the number (seq) is unique in
(tenant, stream) and grows over the changes of one resource, and of one membership pair. A message carries
the stream and the number, so a consumer keeps the highest seq applied per resource and pair and converges
whatever the order of delivery; docs/change-message.v1.schema.json is the message format. Numbers of
different resources are not in commit order: read the log with a cursor (ChangeLog.page) to miss nothing.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from scim.protocol.versions import version_of
from scim.store import MAX_MESSAGE_BYTES, ChangeRecord, ChangeRows, FeedCursor, encoded_size

MESSAGE_SCHEMA_VERSION = 1
STREAMS = ("Users", "Groups")


def with_names(changes: list[Change], current_name: Callable[[Change], str | None]) -> list[Change]:
    """Changes whose record carries no name (a group PATCH's member-added: its row is not read then) get the
    name another change of the same resource in this list has, else the resource's name now (at most one
    read per resource)."""
    known: dict[tuple[str, str], str | None] = {(c.stream, c.resource_id): c.name for c in changes if c.name}
    named = []
    for change in changes:
        key = (change.stream, change.resource_id)
        if not change.name and key not in known:
            known[key] = current_name(change)
        named.append(change if change.name else replace(change, name=known[key]))
    return named


@dataclass(frozen=True)
class Change:
    """One committed write, as the operator's views show it (no document: that stays in the message)."""

    tenant: str
    stream: str
    seq: int
    time: datetime
    operation: str
    resource_type: str
    resource_id: str
    name: str | None
    """userName or displayName at the time of the change (personal data: never log it)."""
    version: str
    members: tuple[str, ...]
    position: tuple[int, int] = (0, 0)
    """(sequence, local number) of its record (ChangeRecord.position): where to page back from."""
    summary: str | None = None
    """The custom attribute values a user's write set, as its record keeps them (scim.protocol.custom_values)."""

    @classmethod
    def of(cls, record: ChangeRecord) -> Change:
        return cls(
            tenant=record.tenant,
            stream=record.stream,
            seq=record.seq,
            time=record.time,
            operation=record.operation,
            resource_type=record.resource_type,
            resource_id=record.resource_id,
            name=record.name,
            version=version_of(record.version_key),
            members=record.members,
            position=record.position,
            summary=record.summary,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "stream": self.stream,
            "seq": self.seq,
            "time": _iso(self.time),
            "operation": self.operation,
            "resourceType": self.resource_type,
            "id": self.resource_id,
            "name": self.name,
            "version": self.version,
            "members": list(self.members),
        }


class ChangeLog:
    """A tenant's change records in both streams, oldest first: the read API for replay, repair and views."""

    def __init__(self, streams: Mapping[str, ChangeRows]) -> None:
        self.streams = dict(streams)

    def read(self, tenant: str, after: int = 0, limit: int = 100, stream: str | None = None) -> list[Change]:
        """Changes numbered above ``after`` in one stream, or in each stream merged by time."""
        return [Change.of(record) for record in self.read_records(tenant, after, limit, stream)]

    def messages(self, tenant: str, after: int = 0, limit: int = 100, stream: str | None = None) -> list[str]:
        """The same changes as the queue messages they were sent as (for replay into the platform)."""
        return [message(record) for record in self.read_records(tenant, after, limit, stream)]

    def read_records(self, tenant: str, after: int, limit: int, stream: str | None) -> list[ChangeRecord]:
        names = [stream] if stream else list(self.streams)
        unknown = [name for name in names if name not in self.streams]
        if unknown:
            raise ValueError(f"unknown stream {unknown[0]!r}: use one of {', '.join(self.streams)}")
        lists = [self.streams[name].read(tenant, after=after, limit=limit) for name in names]
        merged = heapq.merge(*lists, key=lambda record: (record.time, record.stream, record.seq))
        return list(merged)[:limit]

    def page(
        self, tenant: str, stream: str, cursor: FeedCursor | None = None, limit: int = 100
    ) -> tuple[list[ChangeRecord], FeedCursor]:
        """Up to ``limit`` records of one stream after ``cursor`` (None: the oldest kept), and the cursor to go on
        from: paging with it misses no record (scim.store.encode_cursor makes it a token)."""
        return self.streams[stream].page(tenant, cursor, limit)

    def before(self, tenant: str, stream: str, bounds: Mapping[int, int] | None, limit: int) -> list[Change]:
        """Up to ``limit`` changes of one stream below each sequence's bound (None: from the newest), newest first.

        Each shard's records are numbered without gaps and trimmed from the oldest, so the ``limit`` records below
        a bound are one key range a shard: a range read of the counter rows and one range query a shard. Page
        back with, for each sequence, the lowest local number shown (Change.position).
        """
        return [Change.of(record) for record in self.streams[stream].below(tenant, bounds, limit)]

    def latest(self, tenant: str, limit: int) -> list[Change]:
        """The newest ``limit`` changes of the tenant in both streams, newest first (bounded round trips)."""
        lists = [self.before(tenant, stream, None, limit) for stream in self.streams]
        merged = heapq.merge(*lists, key=lambda change: (change.time, change.stream, change.seq), reverse=True)
        return list(merged)[:limit]

    def records(self, tenant: str, stream: str, after: int, limit: int) -> list[ChangeRecord]:
        """The records themselves (documents included), e.g. to fetch a resource a message refers to."""
        return self.streams[stream].read(tenant, after=after, limit=limit)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def message(record: ChangeRecord) -> str:
    """The queue message for a record: the resource inline when the message fits the queue, else a reference."""
    body: dict[str, Any] = {
        "schemaVersion": MESSAGE_SCHEMA_VERSION,
        "tenant": record.tenant,
        "stream": record.stream,
        "seq": record.seq,
        "time": _iso(record.time),
        "operation": record.operation,
        "resourceType": record.resource_type,
        "id": record.resource_id,
        "version": version_of(record.version_key),
    }
    if record.members:
        body["members"] = list(record.members)
    if record.document is None:
        return _dump(body)
    meta = {
        "resourceType": record.resource_type,
        "created": _iso(record.created or record.time),
        "lastModified": _iso(record.time),
        "version": body["version"],
    }
    text = _dump({**body, "resource": {**record.document, "id": record.resource_id, "meta": meta}})
    if encoded_size(text) <= MAX_MESSAGE_BYTES:
        return text
    body["resourceRef"] = {
        "location": f"/scim/v2/{record.tenant}/{record.stream}/{record.resource_id}",
        "stream": record.stream,
        "seq": record.seq,
    }
    return _dump(body)


def _dump(body: dict[str, Any]) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))
