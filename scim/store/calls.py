"""Storage calls counted per SCIM request: what the activity record and the structured log report.

The caller owns the count: ``with counting(counter):`` adds every request TableStorage sends from that context
(each retry too, and the point reads the store runs on its worker threads, which copy the context) to
``counter``, a RoundTripCounter the request context carries, and stops at the end of the block whatever
happens. ``start_counting``/``counted_calls`` are the older form (a count kept in the context itself), kept
as thin wrappers over the same sink until the dispatcher passes its own counter.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from scim.store.rows import RoundTripCounter

_SINK: ContextVar[RoundTripCounter | None] = ContextVar("scim_storage_calls", default=None)


@contextmanager
def counting(counter: RoundTripCounter) -> Iterator[RoundTripCounter]:
    """Count into ``counter`` the storage calls made in this context until the block ends."""
    token = _SINK.set(counter)
    try:
        yield counter
    finally:
        _SINK.reset(token)


def start_counting() -> None:
    """Count the storage calls (retries included) made from here on in this context: one SCIM request."""
    _SINK.set(RoundTripCounter())


def counted_calls() -> int:
    """The calls counted since start_counting in this context (0 if none was started)."""
    counter = _SINK.get()
    return counter.count if counter is not None else 0


def count_call() -> None:
    """TableStorage's raw_request_hook: one request sent, counted by the context's sink if there is one."""
    counter = _SINK.get()
    if counter is not None:
        counter(None)  # RoundTripCounter locks: a request's point reads may run on several threads
