"""Per-caller request rate of the management API: a token bucket per caller, per worker, bounded in size.

A caller is the calling application's id once its token is verified; a request refused before that is
counted under its address (the last X-Forwarded-For entry, as the front end appends it), so a stream of bad
tokens is slowed down too. Past the rate the answer is 429 with Retry-After: the seconds until a request
would be allowed again.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable


class RateLimiter:
    """`per_minute` requests a minute per key, in bursts of up to `per_minute` (a full bucket)."""

    def __init__(self, per_minute: int, *, max_keys: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self._rate = per_minute / 60.0
        self._max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> int | None:
        """Count one request of `key`: None if allowed, else the whole seconds to wait (Retry-After)."""
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.pop(key, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - at) * self._rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                wait = None
            else:
                self._buckets[key] = (tokens, now)
                wait = max(1, math.ceil((1.0 - tokens) / self._rate))
            while len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
            return wait
