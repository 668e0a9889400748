"""Per-shard writer turns: the writers of one tenant in this process that touch the same counter shard commit
one at a time, while writers on other shards of the tenant go ahead.

Each would otherwise commit against the same cached shard ETag, all but one would fail, read the shards again
and retry. In turn, each commit finds the ETag its predecessor left in the cache and costs one call; writers
in other processes still meet the ETag check and retry. Writers of different resources mostly land on
different shards (scim.store.counters), so 8 writers of one tenant rarely wait for each other.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager

from scim.store.rows import StorageUnavailableError

WRITER_STRIPES = 256
"""A lock per stripe of (tenant, shard): bounded memory whatever the number of tenants."""
WRITER_WAIT_SECONDS = 10.0
"""A writer that cannot have its turn within this time gets a 503 with Retry-After, never a hang."""


class WriterTurns:
    """Striped locks, one turn per (tenant, counter shard) at a time."""

    def __init__(self, stripes: int = WRITER_STRIPES, wait_seconds: float = WRITER_WAIT_SECONDS) -> None:
        self._locks = [threading.Lock() for _ in range(stripes)]
        self._wait = wait_seconds

    @contextmanager
    def turn(self, tenant: str, shards: Iterable[int] = (0,)) -> Iterator[None]:
        """Hold the turns of the tenant's ``shards`` for the block (taken in one order: no deadlock);
        StorageUnavailableError if they do not come in time."""
        stripes = sorted({hash((tenant, shard)) % len(self._locks) for shard in shards})
        with ExitStack() as held:
            for stripe in stripes:
                lock = self._locks[stripe]
                if not lock.acquire(timeout=self._wait):
                    raise StorageUnavailableError("the tenant's writes are queued too deep; retry later")
                held.callback(lock.release)
            yield
