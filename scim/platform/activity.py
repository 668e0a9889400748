"""Recording what Entra did to a tenant: request outcomes, written after the answer, off the request path.

`ActivityRecorder.submit` is all a request pays: it puts a small `Outcome` on a bounded in-process queue
and returns. A daemon thread (started on first use, never at import) turns outcomes into records (every
4xx/5xx: successful writes are the change log's), adds every request to this worker's 5-minute traffic buckets
(refusals of requests without valid credentials apart: counted, never recorded or mixed with the tenant's own
traffic, so a stream of wrong tokens cannot move its figures or push its errors off the page), and
stores both per tenant in one transaction (scim.store.activity). A full queue or a storage failure loses
records, never the request: losses are counted (`lost`), logged as counts with tenant ids only, and
written into the tenant's log as a `lost` record when storage answers again, so the gap shows.

The change log (issue #13) holds the transactional facts of each successful write; this log holds the
answers that are not (refusals, failed writes, errors) and the traffic counts. The operator's views merge
the two (scim.platform.activity_report): one mechanism for the facts of writes, not two.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from scim.protocol.text import log_safe
from scim.store import ActivityRecord, ActivityTable, TrafficBucket, bucket_start

log = logging.getLogger("scim.activity")

WRITE_OPERATIONS = frozenset({"create", "replace", "update", "delete"})
_RESPONSE_PARSE_LIMIT = 256 * 1024
_BUCKETS_KEPT = timedelta(minutes=30)
_NAMES_KEPT = 10_000
_UNAUTHENTICATED_PER_MINUTE = 60
"""Records of other unauthenticated answers (a 503 while checking credentials) per tenant per minute per worker."""


@dataclass(frozen=True)
class Outcome:
    """What the API hands over after answering: cheap to build, turned into a record off the request path."""

    tenant: str
    time: datetime
    operation: str
    """What the request did, as the route table names it per method (create, list, …; the method's name if none)."""
    resource_type: str
    """User, Group, or '' for a route about neither."""
    method: str
    status: int
    latency_ms: float
    authenticated: bool
    resource_id: str = ""
    request_payload: Any = None
    """The request body as the handler parsed it (never parsed again here), or None."""
    response_body: bytes = b""
    change_seq: int | None = None

    @property
    def is_write(self) -> bool:
        return self.operation in WRITE_OPERATIONS

    @property
    def is_refusal(self) -> bool:
        """Refused for want of valid credentials: anyone can cause it, so it is counted apart from the tenant's
        own traffic (figures, last request, recent errors) and keeps no record."""
        return not self.authenticated and self.status == 401

    @property
    def is_recorded(self) -> bool:
        """Only answers that are not writes committed (a successful write's facts are its change record), and
        not refusals."""
        return self.status >= 400 and not self.is_refusal


def _name_attribute(resource_type: str) -> str:
    return "displayName" if resource_type == "Group" else "userName"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def to_record(outcome: Outcome) -> ActivityRecord:
    """The record of an outcome: ids and names from our own answer, else from the request body."""
    operation, resource_type = outcome.operation, outcome.resource_type
    answer: Mapping[str, Any] = {}
    if outcome.response_body and len(outcome.response_body) <= _RESPONSE_PARSE_LIMIT:
        try:
            loaded = json.loads(outcome.response_body)
        except ValueError:
            loaded = None
        answer = loaded if isinstance(loaded, dict) else {}
    sent = outcome.request_payload if isinstance(outcome.request_payload, dict) else {}
    attribute = _name_attribute(resource_type)
    is_error = outcome.status >= 400
    name = "" if is_error else _text(answer.get(attribute))
    name = name or _text(sent.get(attribute))
    resource_id = outcome.resource_id or ("" if is_error else _text(answer.get("id")))
    return ActivityRecord(
        time=outcome.time,
        operation=operation,
        resource_type=resource_type,
        resource_id=resource_id,
        name=name[:256],
        status=outcome.status,
        scim_type=_text(answer.get("scimType")) if is_error else "",
        detail=_text(answer.get("detail")) if is_error else "",
        latency_ms=round(outcome.latency_ms, 1),
        change_seq=outcome.change_seq,
    )


@dataclass
class _Counts:
    requests: int = 0
    errors: int = 0
    writes: int = 0
    last_request: datetime | None = None
    refused: int = 0
    last_refused: datetime | None = None


@dataclass
class _TenantBatch:
    records: list[ActivityRecord] = field(default_factory=list)
    buckets: set[datetime] = field(default_factory=set)


class ActivityRecorder:
    """A bounded queue drained by one daemon thread into the activity table."""

    def __init__(
        self,
        table: ActivityTable,
        *,
        is_registered: Callable[[str], bool] = lambda tenant: True,
        capacity: int = 10_000,
        retention: timedelta = timedelta(days=30),
        prune_every: timedelta = timedelta(hours=1),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        linger_seconds: float = 1.0,
        name_of: Callable[[str, str, str], str] | None = None,
    ) -> None:
        self._table = table
        self._name_of = name_of
        """(tenant, resource type, id) -> the resource's userName or displayName now ('' if none): names a
        refusal whose request carried no name (a PATCH refused at the license cap), off the request path."""
        self.linger_seconds = linger_seconds
        """How long the thread gathers outcomes before it writes: one transaction a second per tenant at most,
        not one per request (which doubled the storage calls and a third of the process's CPU under load)."""
        self._hurry = threading.Event()
        self._is_registered = is_registered
        self._queue: queue.Queue[Outcome] = queue.Queue(maxsize=capacity)
        self.retention = retention
        self._prune_every = prune_every
        self.clock = clock
        self.worker = uuid.uuid4().hex[:12]
        self._counts: dict[tuple[str, datetime], _Counts] = {}
        self._lost_pending: dict[str, int] = {}
        self._refused: dict[tuple[str, datetime], int] = {}
        self._pruned: dict[str, datetime] = {}
        self._names: OrderedDict[tuple[str, str], str] = OrderedDict()
        """Names of ids recently recorded by this worker (bounded), for records that carry only the id."""
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.lost = 0
        """Outcomes this worker could not store since it started (queue full or storage failure)."""
        self.stored = 0

    # -- the request path ------------------------------------------------------------------------

    def submit(self, outcome: Outcome) -> None:
        """Queue an outcome; never blocks, never raises."""
        try:
            self._ensure_thread()
            self._queue.put_nowait(outcome)
        except queue.Full:
            self._lose(outcome.tenant, 1)
        except Exception:  # recording must never fail the request it describes
            self._lose(outcome.tenant, 1)

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, name="scim-activity", daemon=True)
                    self._thread.start()

    def _lose(self, tenant: str, count: int) -> None:
        with self._lock:
            self.lost += count
            if tenant in self._lost_pending or len(self._lost_pending) < 10_000:
                self._lost_pending[tenant] = self._lost_pending.get(tenant, 0) + count

    # -- the background thread -------------------------------------------------------------------

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued outcome is stored or lost (tests, shutdown); False on timeout."""
        deadline = time.monotonic() + timeout
        self._hurry.set()
        with self._queue.all_tasks_done:
            while self._queue.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._queue.all_tasks_done.wait(remaining)
        return True

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            taken = [first]
            until = time.monotonic() + self.linger_seconds
            while len(taken) < 500:
                wait = until - time.monotonic()
                try:
                    if wait <= 0 or self._hurry.is_set():
                        taken.append(self._queue.get_nowait())
                    else:
                        taken.append(self._queue.get(timeout=min(wait, 0.05)))
                except queue.Empty:
                    if wait <= 0 or self._hurry.is_set():
                        break
            if self._queue.empty():
                self._hurry.clear()
            try:
                self._store(taken)
            except Exception as exc:  # the type only: SDK messages may carry row keys, which hold names
                with self._lock:
                    self.lost += len(taken)
                log.warning("activity recorder failed: outcomes=%d error=%s", len(taken), type(exc).__name__)
            finally:
                for _ in taken:
                    self._queue.task_done()

    def _store(self, outcomes: list[Outcome]) -> None:
        batches: dict[str, _TenantBatch] = {}
        known: dict[str, bool] = {}
        for outcome in outcomes:
            if not outcome.authenticated:
                if outcome.tenant not in known:
                    known[outcome.tenant] = self._registered(outcome.tenant)
                if not known[outcome.tenant]:
                    continue  # an unknown tenant name: nothing of it is stored anywhere
            batch = batches.setdefault(outcome.tenant, _TenantBatch())
            start = self._count(outcome)
            if start is not None:
                batch.buckets.add(start)
            if outcome.is_recorded and self._within_refusal_budget(outcome):
                record = self._named(outcome.tenant, to_record(outcome))
                if record.name and record.resource_id:
                    self._names[(outcome.tenant, record.resource_id)] = record.name
                    self._names.move_to_end((outcome.tenant, record.resource_id))
                    while len(self._names) > _NAMES_KEPT:
                        self._names.popitem(last=False)
                batch.records.append(record)
        for tenant, batch in batches.items():
            self._write(tenant, batch)
            self._maybe_prune(tenant)
        self._forget_old_buckets()

    def _registered(self, tenant: str) -> bool:
        try:
            return self._is_registered(tenant)
        except Exception:
            return False

    def _count(self, outcome: Outcome) -> datetime | None:
        start = bucket_start(outcome.time)
        if start < bucket_start(self.clock()) - _BUCKETS_KEPT:
            return None  # a bucket already forgotten: counting from 0 would overwrite its stored row
        counts = self._counts.setdefault((outcome.tenant, start), _Counts())
        if outcome.is_refusal:
            counts.refused += 1
            if counts.last_refused is None or outcome.time > counts.last_refused:
                counts.last_refused = outcome.time
            return start
        counts.requests += 1
        counts.errors += outcome.status >= 400
        counts.writes += outcome.is_write and outcome.status < 400
        if counts.last_request is None or outcome.time > counts.last_request:
            counts.last_request = outcome.time
        return start

    def _within_refusal_budget(self, outcome: Outcome) -> bool:
        if outcome.authenticated:
            return True
        minute = outcome.time.replace(second=0, microsecond=0)
        key = (outcome.tenant, minute)
        used = self._refused.get(key, 0)
        self._refused[key] = used + 1
        return used < _UNAUTHENTICATED_PER_MINUTE

    def _named(self, tenant: str, record: ActivityRecord) -> ActivityRecord:
        """A record without a name (a DELETE, a group PATCH answered 204) gets the name last seen for its id."""
        if record.name or not record.resource_id:
            return record
        known = self._names.get((tenant, record.resource_id))
        if known:
            return ActivityRecord(**{**record.__dict__, "name": known})
        try:
            earlier = self._table.by_id(tenant, record.resource_id, limit=5).records
        except Exception:
            return record
        name = next((r.name for r in earlier if r.name), "")
        if not name and self._name_of is not None and record.resource_type:
            try:
                name = self._name_of(tenant, record.resource_type, record.resource_id)
            except Exception:  # a resource that is gone, or storage down: the record keeps its id
                name = ""
        return ActivityRecord(**{**record.__dict__, "name": name[:256]}) if name else record

    def _write(self, tenant: str, batch: _TenantBatch) -> None:
        with self._lock:
            lost = self._lost_pending.pop(tenant, 0)
        records = list(batch.records)
        if lost:
            records.append(
                ActivityRecord(
                    time=self.clock(),
                    operation="lost",
                    resource_type="",
                    resource_id="",
                    name="",
                    status=0,
                    detail=f"{lost} activity record(s) of this tenant could not be stored (storage or queue)",
                )
            )
        buckets = [
            TrafficBucket(start, self.worker, c.requests, c.errors, c.writes, c.last_request, c.refused, c.last_refused)
            for start in sorted(batch.buckets)
            if (c := self._counts.get((tenant, start))) is not None
        ]
        try:
            self._table.append(tenant, [(record, uuid.uuid4().hex[:8]) for record in records], buckets)
        except Exception as exc:
            # The buckets are written again, whole, with the next request of the tenant.
            self._lose(tenant, len(batch.records) + lost)
            log.warning(
                "activity not stored: tenant=%s records=%d lost_total=%d error=%s",
                log_safe(tenant),
                len(records),
                self.lost,
                type(exc).__name__,
            )
            return
        self.stored += len(records)

    def _maybe_prune(self, tenant: str) -> None:
        now = self.clock()
        last = self._pruned.get(tenant)
        if last is not None and now - last < self._prune_every:
            return
        self._pruned[tenant] = now
        try:
            self._table.prune(tenant, now - self.retention, max_records=500)
        except Exception as exc:
            log.info("activity retention skipped: tenant=%s error=%s", log_safe(tenant), type(exc).__name__)

    def _forget_old_buckets(self) -> None:
        horizon = bucket_start(self.clock()) - _BUCKETS_KEPT
        for key in [key for key in self._counts if key[1] < horizon]:
            del self._counts[key]
        minute = self.clock().replace(second=0, microsecond=0)
        for key in [key for key in self._refused if key[1] < minute]:
            del self._refused[key]
        if len(self._pruned) > 10_000:
            self._pruned.clear()
