"""The activity table (`<prefix>Activity`): what Entra asked of a tenant and what we answered, newest first.

One partition per tenant (PartitionKey = tenant, like the user rows, so deleting a tenant's partition
deletes its activity). Row kinds, by RowKey prefix:

- ``a|<inverted time>|<suffix>``              the record; newest first, so a time range is a key range
- ``e|<inverted time>|<suffix>``              a copy of each 4xx/5xx record: "errors only" is a key range too
- ``n|<encoded userName>|<inverted time>|…``  a copy per record with a userName or displayName: search by
                                              name (exact or prefix) is a key range, never a scan
- ``i|<id>|<inverted time>|<suffix>``         a copy per record about one of our resource ids (uuid hex)
- ``t|<yyyymmddHHMM>|<worker>``               requests, errors and writes in one 5-minute bucket, as counted
                                              by one worker process (no two writers share a row: no ETags),
                                              and apart from them the refusals of requests without valid
                                              credentials (anyone can send those: they never move the
                                              tenant's own figures)

A record and its copies are written in one entity-group transaction. Retention deletes the oldest ``a|``
rows (a key range at the end of the partition, never the recent rows) and, from their properties, the
copies that go with them. Names are stored lower-cased and percent-encoded in keys (``/``, ``#``, ``?``,
``\\``, ``|``, ``~``, control and non-ASCII characters), so no user data breaks a key and prefixes still
sort together. Deleting a tenant empties its partition (scim.store.tenants.purge_partition). Only
scim.store imports azure.data.tables.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import AzureError, HttpResponseError, ResourceExistsError
from azure.data.tables import TableClient, TableEntity, TransactionOperation

from scim.store.keys import ACTIVITY, BUCKETS, ERRORS, IDS, NAMES, activity_stamp, bucket_key, inverted, name_key
from scim.store.rows import RoundTripCounter, storage_failure

_TRANSACTION_LIMIT = 100
_MAX_DETAIL = 1000
BUCKET_MINUTES = 5
MAX_PAGE = 200


def bucket_start(moment: datetime) -> datetime:
    """The start of the 5-minute bucket holding this moment (UTC)."""
    moment = moment.astimezone(UTC)
    return moment.replace(minute=moment.minute - moment.minute % BUCKET_MINUTES, second=0, microsecond=0)


def _is_our_id(value: str) -> bool:
    return len(value) == 32 and all(c in "0123456789abcdef" for c in value)


@dataclass(frozen=True)
class ActivityRecord:
    """One request outcome: a write (any status) or an error answer."""

    time: datetime
    operation: str
    """create, replace, update (PATCH), delete, get, list, search, or lost (records this worker could not store)."""
    resource_type: str
    resource_id: str
    name: str
    """The userName (users) or displayName (groups) the request was about, if known."""
    status: int
    scim_type: str = ""
    detail: str = ""
    latency_ms: float = 0.0
    change_seq: int | None = None
    """The change log's sequence number of a successful write, where the service reports one."""
    key: str = ""
    """The record's RowKey (``a|…``) once stored: the cursor for the next page."""
    summary: str | None = None
    """Of a change shown among the answers: its record's summary (the custom attribute values a user's write set,
    scim.protocol.custom_values); never stored in the activity table."""

    @property
    def is_error(self) -> bool:
        return self.status >= 400


@dataclass(frozen=True)
class TrafficBucket:
    """One worker's counts for one 5-minute bucket; readers add up the workers."""

    start: datetime
    worker: str
    requests: int = 0
    errors: int = 0
    writes: int = 0
    last_request: datetime | None = None
    refused: int = 0
    """Requests refused 401 for want of valid credentials: counted apart, never in requests or errors."""
    last_refused: datetime | None = None


@dataclass(frozen=True)
class ActivityPage:
    records: list[ActivityRecord]
    next_key: str | None
    """Pass as ``after`` to read the next page; None on the last page."""


class ActivityTable:
    """Reads and writes of the activity table; every read is one bounded key range."""

    def __init__(self, client: TableClient) -> None:
        self._client = client
        self._ready = False
        self._lock = threading.Lock()
        self.round_trips = RoundTripCounter()
        """Requests of this table alone: they never count in TableStorage.round_trips, so a benchmark of
        a SCIM operation is not charged with the activity written in the background after it."""

    def _table(self) -> TableClient:
        if not self._ready:
            with self._lock:
                if not self._ready:
                    try:
                        self._client.create_table(raw_request_hook=self.round_trips)
                    except ResourceExistsError:
                        pass
                    except HttpResponseError as exc:
                        if exc.status_code != 403:  # in Azure the infrastructure creates the table
                            raise
                    self._ready = True
        return self._client

    # -- writes ----------------------------------------------------------------------------------

    @staticmethod
    def _entities(tenant: str, record: ActivityRecord, suffix: str) -> list[dict[str, Any]]:
        stamp = activity_stamp(record.time, suffix)
        props: dict[str, Any] = {
            "PartitionKey": tenant,
            "Time": record.time,
            "Op": record.operation,
            "Type": record.resource_type,
            "ResId": record.resource_id,
            "Name": record.name,
            "Status": record.status,
            "ScimType": record.scim_type,
            "Detail": record.detail[:_MAX_DETAIL],
            "LatencyMs": float(record.latency_ms),
            "Main": f"{ACTIVITY}|{stamp}",
        }
        if record.change_seq is not None:
            props["ChangeSeq"] = record.change_seq
        keys = [f"{ACTIVITY}|{stamp}"]
        if record.is_error:
            keys.append(f"{ERRORS}|{stamp}")
        if record.name:
            props["NameKey"] = name_key(record.name)
            keys.append(f"{NAMES}|{props['NameKey']}|{stamp}")
        if _is_our_id(record.resource_id):
            keys.append(f"{IDS}|{record.resource_id}|{stamp}")
        return [{**props, "RowKey": key} for key in keys]

    def append(
        self, tenant: str, records: Sequence[tuple[ActivityRecord, str]], buckets: Sequence[TrafficBucket] = ()
    ) -> None:
        """Store records (each with a unique suffix) and upsert bucket rows, in as few transactions as fit."""
        operations: list[tuple[TransactionOperation, dict[str, Any]]] = [
            (TransactionOperation.UPSERT, self._bucket_entity(tenant, bucket)) for bucket in buckets
        ]
        groups: list[list[tuple[TransactionOperation, dict[str, Any]]]] = []
        for record, suffix in records:
            groups.append([(TransactionOperation.UPSERT, e) for e in self._entities(tenant, record, suffix)])
        batch: list[tuple[TransactionOperation, dict[str, Any]]] = []
        for group in [[op] for op in operations] + groups:
            if len(batch) + len(group) > _TRANSACTION_LIMIT:
                self._submit(batch)
                batch = []
            batch += group
        if batch:
            self._submit(batch)

    def _submit(self, batch: list[tuple[TransactionOperation, dict[str, Any]]]) -> None:
        try:
            self._table().submit_transaction(batch, raw_request_hook=self.round_trips)
        except AzureError as exc:
            raise storage_failure(exc, self._client.table_name) from exc

    @staticmethod
    def _bucket_entity(tenant: str, bucket: TrafficBucket) -> dict[str, Any]:
        entity: dict[str, Any] = {
            "PartitionKey": tenant,
            "RowKey": f"{bucket_key(bucket.start)}|{bucket.worker}",
            "Start": bucket.start,
            "Requests": bucket.requests,
            "Errors": bucket.errors,
            "Writes": bucket.writes,
        }
        if bucket.last_request is not None:
            entity["LastRequest"] = bucket.last_request
        if bucket.refused:
            entity["Refused"] = bucket.refused
        if bucket.last_refused is not None:
            entity["LastRefused"] = bucket.last_refused
        return entity

    # -- reads -----------------------------------------------------------------------------------

    def _query(
        self, tenant: str, low: str, high: str, limit: int, select: list[str] | None = None
    ) -> list[TableEntity]:
        """The first `limit` rows with low < RowKey < high: one round trip (limit <= 1000)."""
        try:
            pages = (
                self._table()
                .query_entities(
                    "PartitionKey eq @pk and RowKey gt @lo and RowKey lt @hi",
                    parameters={"pk": tenant, "lo": low, "hi": high},
                    results_per_page=limit,
                    select=select,
                    raw_request_hook=self.round_trips,
                )
                .by_page()
            )
            return list(next(pages, []))[:limit]
        except AzureError as exc:
            raise storage_failure(exc, self._client.table_name) from exc

    @staticmethod
    def _record(entity: TableEntity) -> ActivityRecord:
        seq = entity.get("ChangeSeq")
        return ActivityRecord(
            time=entity["Time"],
            operation=str(entity.get("Op") or ""),
            resource_type=str(entity.get("Type") or ""),
            resource_id=str(entity.get("ResId") or ""),
            name=str(entity.get("Name") or ""),
            status=int(entity.get("Status") or 0),
            scim_type=str(entity.get("ScimType") or ""),
            detail=str(entity.get("Detail") or ""),
            latency_ms=float(entity.get("LatencyMs") or 0.0),
            change_seq=int(seq) if seq is not None else None,
            key=str(entity["RowKey"]),
        )

    def _page(self, tenant: str, low: str, high: str, limit: int) -> ActivityPage:
        limit = max(1, min(limit, MAX_PAGE))
        # One row more than asked tells whether a next page exists, in the same round trip.
        rows = self._query(tenant, low, high, limit + 1)
        records = [self._record(row) for row in rows[:limit]]
        return ActivityPage(records, records[-1].key if len(rows) > limit else None)

    def page(
        self,
        tenant: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        errors_only: bool = False,
        after: str | None = None,
        limit: int = 50,
    ) -> ActivityPage:
        """Records newest first between since and until; `after` continues from a previous page's next_key."""
        kind = ERRORS if errors_only else ACTIVITY
        low = f"{kind}|{inverted(until)}" if until else f"{kind}|"
        if after and after.startswith(f"{kind}|") and after > low:
            low = after
        high = f"{kind}|{inverted(since)}~" if since else f"{kind}|~"
        return self._page(tenant, low, high, limit)

    def by_name(
        self, tenant: str, name: str, *, prefix: bool = False, after: str | None = None, limit: int = 50
    ) -> ActivityPage:
        """Records about a userName/displayName (case-insensitive): exactly, or every name starting with it."""
        encoded = name_key(name)
        start = f"{NAMES}|{encoded}" if prefix else f"{NAMES}|{encoded}|"
        low = after if after and after.startswith(start) else start
        return self._page(tenant, low, f"{start}~", limit)

    def by_id(self, tenant: str, resource_id: str, *, after: str | None = None, limit: int = 50) -> ActivityPage:
        """Records about one of our resource ids, newest first."""
        if not _is_our_id(resource_id):
            return ActivityPage([], None)
        start = f"{IDS}|{resource_id}|"
        low = after if after and after.startswith(start) else start
        return self._page(tenant, low, f"{start}~", limit)

    def buckets(self, tenant: str, since: datetime) -> list[TrafficBucket]:
        """Every worker's bucket rows from `since` on (288 a day per worker: one round trip for a day)."""
        low = f"{bucket_key(bucket_start(since))}"
        rows: list[TableEntity] = []
        try:
            query = self._table().query_entities(
                "PartitionKey eq @pk and RowKey ge @lo and RowKey lt @hi",
                parameters={"pk": tenant, "lo": low, "hi": f"{BUCKETS}|~"},
                results_per_page=1000,
                raw_request_hook=self.round_trips,
            )
            rows = list(query)
        except AzureError as exc:
            raise storage_failure(exc, self._client.table_name) from exc
        return [
            TrafficBucket(
                start=row["Start"],
                worker=str(row["RowKey"]).rsplit("|", 1)[-1],
                requests=int(row.get("Requests") or 0),
                errors=int(row.get("Errors") or 0),
                writes=int(row.get("Writes") or 0),
                last_request=row.get("LastRequest"),
                refused=int(row.get("Refused") or 0),
                last_refused=row.get("LastRefused"),
            )
            for row in rows
        ]

    # -- retention and deletion ------------------------------------------------------------------

    def prune(self, tenant: str, before: datetime, *, max_records: int = 1000) -> int:
        """Delete up to max_records records older than `before` with their copies, and old buckets.

        Reads only the old end of the partition (a key range), never the recent rows; returns the
        records deleted (call again while it returns max_records).
        """
        old = self._query(
            tenant,
            f"{ACTIVITY}|{inverted(before)}~",
            f"{ACTIVITY}|~",
            min(max_records, 1000),
            ["RowKey", "NameKey", "ResId", "Status"],
        )
        deletes: list[str] = []
        for row in old:
            main = str(row["RowKey"])
            stamp = main[2:]
            keys = [main]
            if int(row.get("Status") or 0) >= 400:
                keys.append(f"{ERRORS}|{stamp}")
            if row.get("NameKey"):
                keys.append(f"{NAMES}|{row['NameKey']}|{stamp}")
            if _is_our_id(str(row.get("ResId") or "")):
                keys.append(f"{IDS}|{row['ResId']}|{stamp}")
            deletes += keys
        stale = self._query(tenant, f"{BUCKETS}|", bucket_key(bucket_start(before)), 1000, ["RowKey"])
        deletes += [str(row["RowKey"]) for row in stale]
        self._delete(tenant, deletes)
        return len(old)

    def _delete(self, tenant: str, keys: Iterable[str]) -> None:
        batch: list[tuple[TransactionOperation, dict[str, Any]]] = []
        for key in keys:
            batch.append((TransactionOperation.DELETE, {"PartitionKey": tenant, "RowKey": key}))
            if len(batch) == _TRANSACTION_LIMIT:
                self._submit(batch)
                batch = []
        if batch:
            self._submit(batch)
