"""Repeated failed client authentications slow the failing caller down, never the client with the right secret.

The token endpoint checks the secret first, in constant time, and a correct secret always gets its token:
this limiter is consulted only after a failure, so nobody can lock a tenant's real client out by sending
wrong secrets for its id. Failures are counted per (client id, request source) and per worker process:
the first `free` failures inside `window` seconds cost nothing; each further one closes that pair for
twice as long as the last (from `base_delay`, at most `max_delay` seconds), and a failure while it is
closed is answered 429 with Retry-After instead of 401. Unknown ids are counted exactly like real ones,
so the limiter says nothing about existence. At most `max_entries` pairs are remembered (least recently
failed dropped first). A success clears nothing: the real client may share its address with the caller
that keeps failing (a NAT), and its own failures age out of the window. With 256-bit secrets guessing is
no threat; this tells a misconfigured or hostile caller to back off, and keeps it out of others' way.
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
    """Counts failed client authentications per client id and source; says how long a failing pair must wait."""

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
        self._pairs: OrderedDict[bytes, _Failures] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, client_id: str, source: str = "") -> int:
        """Whole seconds this pair is closed for; 0 if it is open."""
        with self._lock:
            found = self._pairs.get(_key(client_id, source))
            if found is None:
                return 0
            wait = found.closed_until - self._clock()
        return math.ceil(wait) if wait > 0 else 0

    def failed(self, client_id: str, source: str = "") -> int:
        """Count one failure of the pair. 0 if the pair was open: answer a plain failure (401); else it came while
        the pair was told to wait: answer 429 with the whole seconds returned, the wait from now."""
        key = _key(client_id, source)
        with self._lock:
            now = self._clock()
            found = self._pairs.get(key)
            if found is None or now - found.first_at > self._window:
                found = _Failures(0, now, 0.0)
            closed = found.closed_until - now
            found.count += 1
            over = found.count - self._free
            if over > 0:
                found.closed_until = max(found.closed_until, now + min(self._max, self._base * 2 ** min(over - 1, 32)))
            self._pairs[key] = found
            self._pairs.move_to_end(key)
            while len(self._pairs) > self._max_entries:
                self._pairs.popitem(last=False)
            wait = found.closed_until - now
        return math.ceil(wait) if closed > 0 else 0


def _key(client_id: str, source: str) -> bytes:
    # A digest: a client id is attacker-chosen text of any length. The NUL cannot occur in a source address.
    return hashlib.sha256(f"{source}\x00{client_id}".encode("utf-8", "surrogatepass")).digest()
