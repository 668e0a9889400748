"""Per-tenant writer turns: the writers of one tenant in this process commit one at a time.

Each would otherwise commit against the same cached counter ETag, all but one would fail, read the counter
again and retry (8 concurrent writers averaged ~8 storage calls a write, bench/compare.py). In turn, each
commit finds the ETag its predecessor left in the cache and costs one call; writers in other processes still
meet the ETag check and retry.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from scim.store.rows import StorageUnavailableError

WRITER_STRIPES = 64
"""A lock per stripe of tenants: bounded memory whatever the number of tenants."""
WRITER_WAIT_SECONDS = 10.0
"""A writer that cannot have its turn within this time gets a 503 with Retry-After, never a hang."""


class WriterTurns:
    """Striped locks, one turn per tenant at a time."""

    def __init__(self, stripes: int = WRITER_STRIPES, wait_seconds: float = WRITER_WAIT_SECONDS) -> None:
        self._locks = [threading.Lock() for _ in range(stripes)]
        self._wait = wait_seconds

    @contextmanager
    def turn(self, tenant: str) -> Iterator[None]:
        """Hold the tenant's turn for the block; StorageUnavailableError if it does not come in time."""
        lock = self._locks[hash(tenant) % len(self._locks)]
        if not lock.acquire(timeout=self._wait):
            raise StorageUnavailableError("the tenant's writes are queued too deep; retry later")
        try:
            yield
        finally:
            lock.release()
