"""How long a Table Storage call may take: bounded retries with backoff and jitter, short timeouts, a call count.

The SDK's defaults retry a call for minutes (10 retries, backoff up to 120 s, the server's Retry-After
honoured as is, 300 s timeouts), far past what Entra waits. Here a call makes at most ``retries + 1``
attempts, each bounded by the connection and read timeouts, with jittered sleeps between them, and the
whole call is cut at ``call_timeout`` seconds; what is still failing then becomes StorageUnavailableError
and a 503 with Retry-After to Entra. The transport is also where tests inject faults (tests/faults.py), so
that the real store code runs under them.
"""

from __future__ import annotations

import random
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from azure.core.pipeline.transport import RequestsTransport


@dataclass(frozen=True)
class RetryBudget:
    """Per storage call. The worst case of one call is about call_timeout seconds (default 15 s)."""

    retries: int = 3
    backoff_seconds: float = 0.4
    """Sleep before retry n (n >= 2) is backoff * 2**(n-1), jittered to between half and all of it."""
    max_sleep_seconds: float = 3.0
    """Caps every sleep, a server's Retry-After included (Table Storage asks for no more than a few seconds)."""
    connection_timeout: float = 3.0
    read_timeout: float = 10.0
    call_timeout: float = 15.0

    def client_options(self) -> dict[str, Any]:
        """Keyword options for TableServiceClient (azure-core's RetryPolicy and transport)."""
        return {
            "retry_total": self.retries,
            "retry_connect": self.retries,
            "retry_read": self.retries,
            "retry_status": self.retries,
            "retry_backoff_factor": self.backoff_seconds,
            "retry_backoff_max": self.max_sleep_seconds,
            "timeout": self.call_timeout,
            "connection_timeout": self.connection_timeout,
            "read_timeout": self.read_timeout,
        }


class BoundedTransport(RequestsTransport):  # type: ignore[misc]  # azure-core's transport is untyped here
    """The SDK's requests transport with every retry sleep jittered and capped."""

    def __init__(self, budget: RetryBudget, **kwargs: Any) -> None:
        super().__init__(connection_timeout=budget.connection_timeout, read_timeout=budget.read_timeout, **kwargs)
        self.budget = budget

    def sleep(self, duration: float) -> None:
        capped = min(duration, self.budget.max_sleep_seconds)
        super().sleep(random.uniform(capped / 2, capped))  # noqa: S311 - jitter, not security


_REQUEST_CALLS: ContextVar[list[int] | None] = ContextVar("scim_storage_calls", default=None)


def start_counting() -> None:
    """Count the storage calls (retries included) made from here on in this context: one SCIM request."""
    _REQUEST_CALLS.set([0])


def counted_calls() -> int:
    counter = _REQUEST_CALLS.get()
    return counter[0] if counter is not None else 0


def count_call() -> None:
    counter = _REQUEST_CALLS.get()
    if counter is not None:
        counter[0] += 1
