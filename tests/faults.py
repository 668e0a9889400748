"""Storage faults injected at the azure-core transport: the real store code runs, only the wire fails.

FaultTransport is the store's own transport (scim.store.KeepAliveTransport) with faults added, so every
request the product sends passes through the same code here.

FaultTransport fails chosen storage requests (counted from 1, retries included) in one of four ways:
- ``timeout``: the request reaches Azurite and is applied, then the response is lost (read timeout) — the
  hardest case, a write that happened but looks failed;
- ``reset``:   the connection is reset before the request is sent (nothing applied);
- ``500`` / ``503``: Table Storage answers an error status without applying anything (503 = ServerBusy,
  the throttling answer).
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable
from typing import Any

from azure.core.exceptions import ServiceRequestError, ServiceResponseTimeoutError

from scim.store import KeepAliveTransport, RetryBudget

FAULT_KINDS = ("timeout", "reset", "500", "503")
NO_RETRY = RetryBudget(retries=0, backoff_seconds=0.0, max_sleep_seconds=0.0, call_timeout=10.0)
"""Every injected fault reaches the store code (nothing absorbed by the SDK's retry): the harshest case."""
FAST_RETRY = RetryBudget(retries=3, backoff_seconds=0.01, max_sleep_seconds=0.05, call_timeout=10.0)


def _status_body(status: int) -> tuple[str, bytes]:
    reason = "Server Busy" if status == 503 else "Internal Server Error"
    code = "ServerBusy" if status == 503 else "InternalError"
    body = json.dumps({"odata.error": {"code": code, "message": {"lang": "en-US", "value": "injected"}}}).encode()
    return reason, body


class FaultTransport(KeepAliveTransport):
    """Fails the requests ``should_fail(n)`` picks (n counts every request sent, from 1) with ``kind``."""

    def __init__(self, budget: RetryBudget = NO_RETRY, **kwargs: Any) -> None:
        super().__init__(connection_timeout=budget.connection_timeout, read_timeout=budget.read_timeout, **kwargs)
        self.budget = budget
        self._lock = threading.Lock()
        self.sent = 0
        self.injected = 0
        self.kind = "503"
        self.should_fail: Callable[[int], bool] = lambda n: False
        self._rng = random.Random(0)

    def fail_nth(self, n: int, kind: str) -> None:
        self.reset_counts()
        self.kind = kind
        self.should_fail = lambda k: k == n

    def fail_randomly(self, rate: float, seed: int, kinds: tuple[str, ...] = FAULT_KINDS) -> None:
        rng = random.Random(seed)
        self._rng = rng
        self.kind = "random"
        self.should_fail = lambda _k: rng.random() < rate
        self._kinds = kinds

    def healthy(self) -> None:
        self.should_fail = lambda n: False

    def reset_counts(self) -> None:
        with self._lock:
            self.sent = 0
            self.injected = 0

    def send(self, request: Any, **kwargs: Any) -> Any:
        with self._lock:
            self.sent += 1
            fail = self.should_fail(self.sent)
            kind = self.kind if self.kind != "random" else self._rng.choice(self._kinds)
            if fail:
                self.injected += 1
        if not fail:
            return super().send(request, **kwargs)
        if kind == "reset":
            raise ServiceRequestError("injected: connection reset by peer")
        if kind == "timeout":
            super().send(request, **kwargs)  # applied by the server; the answer never arrives
            raise ServiceResponseTimeoutError("injected: read timed out")
        status = int(kind)
        reason, body = _status_body(status)
        headers = [("Content-Type", "application/json;odata=minimalmetadata"), ("Content-Length", str(len(body)))]
        return self.answer(request, status, reason, headers, body)
