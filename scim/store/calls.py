"""Storage calls counted per SCIM request: what the activity record and the structured log report.

A request's handler starts a count (``start_counting``); every request TableStorage sends (each retry too)
adds one to the count of the context it is sent from (``count_call``, from the SDK's raw_request_hook).
"""

from __future__ import annotations

import threading
from contextvars import ContextVar

_REQUEST_CALLS: ContextVar[list[int] | None] = ContextVar("scim_storage_calls", default=None)


def start_counting() -> None:
    """Count the storage calls (retries included) made from here on in this context: one SCIM request."""
    _REQUEST_CALLS.set([0])


def counted_calls() -> int:
    counter = _REQUEST_CALLS.get()
    return counter[0] if counter is not None else 0


_COUNT_LOCK = threading.Lock()


def count_call() -> None:
    counter = _REQUEST_CALLS.get()
    if counter is not None:
        with _COUNT_LOCK:  # a request's point reads may run on several threads (scim.store.reads.existing_keys)
            counter[0] += 1
