"""Delivery of change records to the platform's queue: at once after commit, and by a sweep for the rest.

Right after a change commits, its records are handed to a bounded in-process queue and sent by one
background thread, so a SCIM request never waits for the queue; when the queue is slow or down, records
are dropped from memory (never from the change log) and the sweep sends them later. The sweep (a timer
function in Azure, a thread in devhost) sends every record after each partition's watermark, moves the
watermark, and trims records past the retention period that were delivered. A partition has a sequence per
counter shard (scim.store.changes), each with its own watermark: the sweep reads the shards' last numbers in
one range read and reads records only from the sequences that moved. Delivery is at-least-once: a record may
be sent twice (after a crash, or by the thread and the sweep both), never zero times.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from scim.platform.changes import message
from scim.store import (
    COUNTER_SHARDS,
    LEGACY_SEQUENCE,
    ChangeQueue,
    ChangeRecord,
    ChangeRows,
    QueueUnavailableError,
    ResourceTable,
    StorageUnavailableError,
    Watermark,
)

log = logging.getLogger("scim.delivery")

PENDING_LIMIT = 10_000
"""Records waiting in memory for the background thread; beyond it they wait for the sweep."""
PAUSE_SECONDS = 5.0
"""After a failed send the thread sends nothing for this long: an outage costs no timeouts per write."""
SWEEP_PAGE = 500
MARK_SECONDS = 1.0
"""Sent records are marked in the registry at most this often: one merge for a burst of writes, not one each."""


@dataclass
class SweepReport:
    """What one sweep did."""

    published: int = 0
    trimmed: int = 0
    failed: bool = False
    partitions: int = 0
    errors: list[str] = field(default_factory=list)


class Delivery:
    """Sends change records to the queue; ``queue`` None records changes without delivering them."""

    def __init__(
        self,
        streams: Mapping[str, ChangeRows],
        queue: ChangeQueue | None,
        *,
        retention: timedelta = timedelta(days=30),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        send: Callable[[str], None] | None = None,
    ) -> None:
        self.streams = dict(streams)
        self.queue = queue
        self.retention = retention
        self._clock = clock
        self._send = send or (queue.send if queue is not None else None)
        self._pending: deque[tuple[str, ChangeRecord]] = deque()
        self._lock = threading.Condition()
        self._busy = False
        self._thread: threading.Thread | None = None
        self._paused_until = 0.0
        self._marks: dict[tuple[str, str], Watermark] = {}
        self._unmarked: dict[tuple[str, str], list[tuple[int, int]]] = {}
        self._marked_at = 0.0
        self.dropped = 0

    def attach(self, table: ResourceTable) -> None:
        """Be told of every commit of this table (in place of any earlier listener)."""
        table.on_commit = self.on_commit

    # -- at once, after commit ---------------------------------------------------------------------

    def on_commit(self, tenant: str, records: Sequence[ChangeRecord]) -> None:
        """Queue the records for the background thread; never blocks, never raises."""
        if self._send is None or not records:
            return
        with self._lock:
            if time.monotonic() < self._paused_until or len(self._pending) + len(records) > PENDING_LIMIT:
                self.dropped += len(records)
                return
            self._pending.extend((tenant, record) for record in records)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="scim-delivery", daemon=True)
                self._thread.start()
            self._lock.notify()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._pending:
                    if self._unmarked and time.monotonic() - self._marked_at >= MARK_SECONDS:
                        break
                    self._busy = bool(self._unmarked)
                    self._lock.notify_all()
                    if not self._lock.wait(timeout=MARK_SECONDS if self._unmarked else 60) and not self._unmarked:
                        self._thread = None
                        return
                batch = list(self._pending)
                self._pending.clear()
                self._busy = True
            try:
                self._publish(batch)
                if time.monotonic() - self._marked_at >= MARK_SECONDS:
                    self._mark_all()
            except Exception:
                log.exception("change delivery failed; the sweep will deliver")

    def _publish(self, batch: list[tuple[str, ChangeRecord]]) -> None:
        batch.sort(key=lambda item: (item[1].stream, item[0], item[1].seq))
        for tenant, record in batch:
            if time.monotonic() < self._paused_until:
                break  # the queue failed a moment ago: leave the rest to the sweep
            try:
                self._deliver(record)
            except QueueUnavailableError as exc:
                log.warning("change queue unavailable (%s); the sweep will deliver", exc)
                with self._lock:
                    self._paused_until = time.monotonic() + PAUSE_SECONDS
                break
            except Exception:
                log.exception(
                    "change not delivered: stream=%s seq=%d; the sweep will deliver", record.stream, record.seq
                )
                continue
            self._unmarked.setdefault((record.stream, tenant), []).append(record.position)

    def _mark_all(self) -> None:
        unmarked, self._unmarked = self._unmarked, {}
        self._marked_at = time.monotonic()
        for (stream, tenant), seqs in unmarked.items():
            self._mark_sent(stream, tenant, seqs)

    def _deliver(self, record: ChangeRecord) -> None:
        assert self._send is not None
        self._send(message(record))

    def _mark_sent(self, stream: str, tenant: str, positions: list[tuple[int, int]]) -> None:
        rows = self.streams.get(stream)
        if rows is None:
            return
        try:
            mark = rows.mark_sent(tenant, positions, self._marks.get((stream, tenant)))
        except StorageUnavailableError:
            mark = None
        if mark is None:
            self._marks.pop((stream, tenant), None)
        else:
            self._marks[(stream, tenant)] = mark

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until the background thread has sent everything handed to it (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._pending or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(timeout=remaining)
        return True

    # -- the sweep ---------------------------------------------------------------------------------

    def sweep(self) -> SweepReport:
        """Send every record after each partition's watermark, in order, then trim what retention allows."""
        report = SweepReport()
        cutoff = self._clock() - self.retention
        for stream, rows in self.streams.items():
            try:
                marks = rows.watermarks()
            except StorageUnavailableError as exc:
                report.failed = True
                report.errors.append(f"{stream}: {exc}")
                continue
            for found in marks:
                report.partitions += 1
                try:
                    mark = self._sweep_partition(stream, rows, found, report)
                    parts = range(LEGACY_SEQUENCE, COUNTER_SHARDS)
                    if self._send is None:
                        up_to = dict.fromkeys(parts, sys.maxsize)
                    else:
                        up_to = {part: mark.mark(part).published for part in parts}
                    report.trimmed += rows.trim(mark.tenant, cutoff, up_to)
                except QueueUnavailableError as exc:
                    report.failed = True
                    report.errors.append(f"queue: {exc}")
                    return report
                except StorageUnavailableError as exc:
                    report.failed = True
                    report.errors.append(f"{stream}: {exc}")
        return report

    def _sweep_partition(self, stream: str, rows: ChangeRows, mark: Watermark, report: SweepReport) -> Watermark:
        if self._send is None:
            return mark
        lasts = rows.sequences(mark.tenant)
        if any(found.published > lasts.get(part, 0) for part, found in mark.marks.items()):
            # The partition was purged (the tenant deleted) and numbers again from the start: start over.
            mark = rows.reset(mark) or mark
        for part, last in sorted(lasts.items()):
            mark = self._sweep_sequence(stream, rows, mark, report, part=part, last=last)
        return mark

    def _sweep_sequence(
        self, stream: str, rows: ChangeRows, mark: Watermark, report: SweepReport, *, part: int, last: int
    ) -> Watermark:
        while mark.mark(part).published < last:
            records = rows.since(mark.tenant, part, mark.mark(part).published, SWEEP_PAGE)
            if not records:
                return mark
            for record in records:
                if not mark.delivered(record.position):
                    self._deliver(record)
                    report.published += 1
            advanced = rows.mark_sent(mark.tenant, [record.position for record in records], mark)
            self._marks.pop((stream, mark.tenant), None)
            if advanced is None or advanced.mark(part).published <= mark.mark(part).published:
                return mark  # contended: the next sweep goes on from the stored watermark
            mark = advanced
            if len(records) < SWEEP_PAGE:
                return mark
        return mark
