"""Repeated failed client authentications slow a client id down, whether or not the id exists.

Per worker process and per client id: the first `free` failures inside `window` seconds cost nothing;
each further failure closes the id for twice as long as the last (from `base_delay`, at most `max_delay`
seconds), and while it is closed the token endpoint answers 429 with Retry-After without looking at the
secret. Unknown ids are counted exactly like real ones, so the limiter says nothing about existence.
At most `max_entries` ids are remembered (least recently failed dropped first).
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Failures:
    count: int
    first_at: float
    closed_until: float


class FailedClientLogins:
    """Counts failed client authentications per client id and says how long an id must wait."""

    def __init__(
        self,
        *,
        free: int = 5,
        window: float = 300.0,
        base_delay: float = 1.0,
        max_delay: float = 60.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._free = free
        self._window = window
        self._base = base_delay
        self._max = max_delay
        self._max_entries = max_entries
        self._clock = clock
        self._ids: OrderedDict[bytes, _Failures] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, client_id: str) -> int:
        """Whole seconds this id must wait before its secret is checked again; 0 if it may try now."""
        with self._lock:
            found = self._ids.get(_key(client_id))
            if found is None:
                return 0
            wait = found.closed_until - self._clock()
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, client_id: str) -> None:
        key = _key(client_id)
        with self._lock:
            now = self._clock()
            found = self._ids.get(key)
            if found is None or now - found.first_at > self._window:
                found = _Failures(0, now, 0.0)
            found.count += 1
            over = found.count - self._free
            if over > 0:
                found.closed_until = now + min(self._max, self._base * 2 ** min(over - 1, 32))
            self._ids[key] = found
            self._ids.move_to_end(key)
            while len(self._ids) > self._max_entries:
                self._ids.popitem(last=False)

    def succeeded(self, client_id: str) -> None:
        with self._lock:
            self._ids.pop(_key(client_id), None)


def _key(client_id: str) -> bytes:
    # A digest: a client id is attacker-chosen text of any length.
    return hashlib.sha256(client_id.encode("utf-8", "surrogatepass")).digest()
