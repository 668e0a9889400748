"""A bounded read-through cache for values keyed by request input: tenant records and secret values.

Every cache whose key comes from a request must be bounded in size and in time, must not hold a lock
across the load (a slow backend would stall every other key), and must not let a burst of requests for
one key turn into a burst of backend calls. This one:

- keeps at most ``max_entries`` keys (least recently used evicted first);
- serves a value for ``ttl`` seconds, then loads it again;
- lets a caller ask for a reload (``reload=True``, e.g. after a token mismatch) at most once per
  ``min_reload`` seconds per key;
- runs at most one load per key at a time: concurrent callers wait for that load's outcome;
- after a *transient* failure keeps serving the last value for at most ``grace`` seconds past its ttl;
  any other failure drops the value at once;
- remembers a failure for ``min_reload`` seconds, so an outage costs one backend call per key per
  ``min_reload``, not one per request.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass
class _Entry(Generic[V]):
    value: V | None
    has_value: bool
    loaded_at: float
    """When the value was loaded (meaningless without a value)."""
    next_load_at: float
    """Earliest time a reload may start: rate-limits forced reloads and retries after a failure."""
    failure: BaseException | None = None
    """The last transient failure, re-raised while no value is held and no reload is due."""


class _Flight(Generic[V]):
    """One load in progress; callers for the same key wait on it instead of loading again."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: V | None = None
        self.error: BaseException | None = None


class ReadThroughCache(Generic[K, V]):
    """Values loaded on demand, bounded in number and age; see the module docstring for the rules."""

    def __init__(
        self,
        load: Callable[[K], V],
        *,
        ttl: float,
        max_entries: int,
        min_reload: float,
        grace: float = 0.0,
        transient: tuple[type[BaseException], ...] = (),
        wait_timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._load = load
        self._ttl = ttl
        self._max_entries = max_entries
        self._min_reload = min_reload
        self._grace = grace
        self._transient = transient
        self._wait_timeout = wait_timeout
        self._clock = clock
        self._entries: OrderedDict[K, _Entry[V]] = OrderedDict()
        self._flights: dict[K, _Flight[V]] = {}
        self._lock = threading.Lock()  # guards the two dicts only; never held during a load

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K, *, reload: bool = False) -> V:
        """The value for key: cached if fresh enough, else loaded (once, whoever else is asking)."""
        with self._lock:
            now = self._clock()
            entry = self._entries.get(key)
            if entry is not None and entry.has_value and now - entry.loaded_at > self._ttl + self._grace:
                del self._entries[key]  # too old to serve even during an outage
                entry = None
            if entry is not None:
                self._entries.move_to_end(key)
                fresh = entry.has_value and now - entry.loaded_at < self._ttl
                if now < entry.next_load_at:
                    # No load is due: serve what is held (fresh, stale inside the grace period, or the failure).
                    if entry.has_value:
                        return entry.value  # type: ignore[return-value]
                    assert entry.failure is not None
                    raise entry.failure
                if fresh and not reload:
                    return entry.value  # type: ignore[return-value]
            flight = self._flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self._flights[key] = _Flight()
        if not leader:
            return self._wait(flight)
        try:
            value = self._load(key)
        except BaseException as exc:
            return self._failed(key, flight, exc)
        with self._lock:
            if self._flights.get(key) is flight:  # not invalidated while it ran: its value is current
                now = self._clock()
                self._store(key, _Entry(value, True, now, now + self._min_reload))
                del self._flights[key]
        flight.value = value
        flight.done.set()
        return value

    def invalidate(self, key: K) -> None:
        """Forget the key (its value changed): the next get loads it, even if a load had already started
        (that load's outcome is then not kept)."""
        with self._lock:
            self._entries.pop(key, None)
            self._flights.pop(key, None)

    def _wait(self, flight: _Flight[V]) -> V:
        if not flight.done.wait(self._wait_timeout):
            raise TimeoutError("a load for this key is still running")
        if flight.error is not None:
            raise flight.error
        return flight.value  # type: ignore[return-value]

    def _failed(self, key: K, flight: _Flight[V], exc: BaseException) -> V:
        with self._lock:
            now = self._clock()
            entry = self._entries.get(key)
            if self._flights.get(key) is not flight:  # invalidated while it ran: keep nothing of it
                flight.error = exc
                flight.done.set()
                raise exc
            del self._flights[key]
            servable = entry is not None and entry.has_value and now - entry.loaded_at <= self._ttl + self._grace
            if isinstance(exc, self._transient) and entry is not None and servable:
                entry.next_load_at = now + self._min_reload
                flight.value = entry.value
                flight.done.set()
                return entry.value  # type: ignore[return-value]
            # No value to fall back on, or a failure that must take effect at once (access revoked):
            # remember it, so the backend is asked again once per min_reload, not once per request.
            self._store(key, _Entry(None, False, now, now + self._min_reload, exc))
        flight.error = exc
        flight.done.set()
        raise exc

    def _store(self, key: K, entry: _Entry[V]) -> None:
        self._entries[key] = entry
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
