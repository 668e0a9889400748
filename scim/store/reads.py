"""Reads of one resource table's tenant partition: point reads, index look-ups, scans and pages.

A mixin of ResourceTable (scim.store.tables), which supplies the client (`client`) and the mapping of
storage errors (`storage_error`); reads never write, so they live apart from the transaction plumbing.
"""

from __future__ import annotations

import contextvars
import itertools
import json
import sys
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.data.tables import TableClient, TableEntity

from scim.store.keys import RESOURCE_END, RESOURCE_PREFIX, resource_key
from scim.store.rows import MAX_DOCUMENT_CHARS, IndexEntry, StoredResource, document_chars, join_document

SCAN_PAGE_SIZE = 100
"""Most rows one storage page of a scan holds (Table Storage's own maximum is 1,000)."""

SCAN_PAGE_CHARS = 4_000_000
"""Characters of documents one storage page of a scan should hold (issue 19: 100 rows near the entity limit
were 100 MB). Table Storage bounds a page by rows only, so the rows asked for are sized from the largest
document the scan has seen: the first page asks for SCAN_PAGE_CHARS // MAX_DOCUMENT_CHARS (10), later ones
for SCAN_PAGE_CHARS // largest (at most SCAN_PAGE_SIZE). A page can hold more only when large rows follow a
run of small ones in id order, and ids are random: a tenant cannot line its large rows up that way."""

_FIRST_SCAN_PAGE = max(1, SCAN_PAGE_CHARS // MAX_DOCUMENT_CHARS)
T = TypeVar("T")

POINT_READ_THREADS = 8
"""Point reads of one existence check in flight at once (a 100-member PATCH: 100 reads, ~13 waits deep)."""

POINT_READ_POOL_THREADS = 32
"""Threads of the process-wide pool those reads run on: four checks at full speed, and a fifth still finds
the queue short, because no check ever queues more than POINT_READ_THREADS reads (issue 19: one tenant's
3,000-member group queued 3,000 reads ahead of every other tenant's, which waited 10 s)."""

_point_reads: ThreadPoolExecutor | None = None
_point_reads_lock = threading.Lock()


def _pool() -> ThreadPoolExecutor:
    global _point_reads
    if _point_reads is None:
        with _point_reads_lock:
            if _point_reads is None:
                _point_reads = ThreadPoolExecutor(POINT_READ_POOL_THREADS, thread_name_prefix="scim-point-read")
    return _point_reads


def _in_window(read: Callable[[str], T], keys: list[str]) -> Generator[tuple[str, T], None, None]:
    """(key, read(key)) in the order given, with at most POINT_READ_THREADS of this call's reads in flight.

    A sliding window: the next read is submitted when the oldest has answered, so one call never queues
    more than its window in the shared pool, and any other request's reads find a thread within one read.
    Reads not yet started when the caller stops listening are cancelled.
    """
    if len(keys) <= 1:
        yield from ((key, read(key)) for key in keys)
        return
    pool = _pool()
    window: deque[tuple[str, Future[T]]] = deque()
    try:
        for key in keys:
            if len(window) >= POINT_READ_THREADS:
                oldest, answer = window.popleft()
                yield oldest, answer.result()
            ctx = contextvars.copy_context()  # each read counts in this request's storage calls
            window.append((key, pool.submit(ctx.run, read, key)))
        while window:
            oldest, answer = window.popleft()
            yield oldest, answer.result()
    finally:
        for _key, pending in window:
            pending.cancel()


class PartitionReads:
    """The read half of ResourceTable."""

    def client(self) -> TableClient:
        """The SDK client of the table (for scim.store's own modules: nothing outside the package sees it)."""
        raise NotImplementedError

    def storage_error(self, exc: Exception) -> Exception:
        """The store's error for an SDK error (StorageUnavailableError, StorageAccessDeniedError), else itself."""
        raise NotImplementedError

    def query(
        self, query: str, params: dict[str, Any], *, page: int = 1000, select: list[str] | None = None
    ) -> Iterator[TableEntity]:
        """Rows matching an OData filter with @-parameters (never values spliced in), a page at a time."""
        try:
            yield from self.client().query_entities(query, parameters=params, results_per_page=page, select=select)
        except AzureError as exc:
            raise self.storage_error(exc) from exc

    def key_range(
        self, tenant: str, prefix: str, *, select: list[str] | None = None, page: int = 1000
    ) -> Iterator[TableEntity]:
        """The tenant's rows whose RowKey starts with ``prefix`` (ending in ``|``), in RowKey order."""
        yield from self.query(
            "PartitionKey eq @pk and RowKey gt @lo and RowKey lt @hi",
            {"pk": tenant, "lo": prefix, "hi": prefix[:-1] + "}"},
            page=page,
            select=select,
        )

    def rows(self, tenant: str) -> Iterator[dict[str, Any]]:
        """Every row of the tenant's partition, raw, in RowKey order, a page at a time: for the consistency
        check (scim.platform.invariants) and tests that assert what is stored, never for serving a request."""
        for row in self.query("PartitionKey eq @pk", {"pk": tenant}):
            yield dict(row)

    @staticmethod
    def _to_stored(entity: TableEntity) -> StoredResource:
        return StoredResource(
            id=str(entity["RowKey"])[len(RESOURCE_PREFIX) :],
            document=join_document(entity),
            created=entity["Created"],
            last_modified=entity["LastModified"],
            etag=str(entity.metadata["etag"]),
            index_row_keys=tuple(json.loads(entity.get("IndexRows") or "[]")),
            seq=int(entity["Seq"]) if entity.get("Seq") else None,
            chars=document_chars(entity),
        )

    # -- reads --------------------------------------------------------------------------------

    def get(self, tenant: str, resource_id: str) -> StoredResource | None:
        """One point read."""
        try:
            entity = self.client().get_entity(tenant, resource_key(resource_id))
        except ResourceNotFoundError:
            return None
        except AzureError as exc:
            raise self.storage_error(exc) from exc
        return self._to_stored(entity)

    def find_ids(self, tenant: str, entry: IndexEntry) -> list[str]:
        """Ids holding an index value: one point read (unique) or one range query (non-unique)."""
        try:
            if entry.unique:
                try:
                    row = self.client().get_entity(tenant, entry.value_prefix(), select=["ResourceId"])
                except ResourceNotFoundError:
                    return []
                return [str(row["ResourceId"])]
            prefix = entry.value_prefix()
            rows = self.client().query_entities(
                "PartitionKey eq @pk and RowKey gt @lo and RowKey lt @hi",
                parameters={"pk": tenant, "lo": prefix + "|", "hi": prefix + "}"},
                select=["ResourceId"],
            )
            return [str(row["ResourceId"]) for row in rows]
        except AzureError as exc:
            raise self.storage_error(exc) from exc

    def existing_keys(self, tenant: str, row_keys: Iterable[str]) -> set[str]:
        """Which of these row keys exist in the tenant's partition: one point read per key, 8 in flight.

        Point reads, not one query of OR-ed row keys: Table Storage runs `RowKey eq a or RowKey eq b` as a scan
        of the whole partition (only a single key or a key range is an index seek), so its cost would grow with
        the tenant, not with the number of keys asked about.
        """
        return {key for key, found in self._each_exists(tenant, sorted(set(row_keys))) if found}

    def first_missing_id(self, tenant: str, resource_ids: Iterable[str]) -> str | None:
        """The first of these ids (in order) that is not a resource of the tenant, or None if all are.

        Reads stop once the answer is known: a list of made-up ids costs one window of reads, not one each.
        """
        wanted = sorted(set(resource_ids))
        for key, found in self._each_exists(tenant, [resource_key(rid) for rid in wanted]):
            if not found:
                return key[len(RESOURCE_PREFIX) :]
        return None

    def get_each(
        self, tenant: str, resource_ids: list[str]
    ) -> Generator[tuple[str, StoredResource | None], None, None]:
        """(id, resource or None) for each id in the order given: point reads, 8 in flight (see _in_window)."""
        return _in_window(lambda rid: self.get(tenant, rid), resource_ids)

    def _each_exists(self, tenant: str, keys: list[str]) -> Iterator[tuple[str, bool]]:
        return _in_window(lambda key: self._exists(tenant, key), keys)

    def _exists(self, tenant: str, row_key: str) -> bool:
        try:
            self.client().get_entity(tenant, row_key, select=["RowKey"])
        except ResourceNotFoundError:
            return False
        except AzureError as exc:
            raise self.storage_error(exc) from exc
        return True

    def scan(
        self, tenant: str, *, after: str | None = None, page_size: int = SCAN_PAGE_SIZE
    ) -> Iterator[StoredResource]:
        """The tenant's resources in id order, a storage page at a time, each page bounded by rows and size.

        One round trip a page; the rows asked for shrink once large documents are seen (SCAN_PAGE_CHARS).
        """
        rows_wanted = min(page_size, _FIRST_SCAN_PAGE)
        largest = 0
        try:
            while True:
                pages = (
                    self.client()
                    .query_entities(
                        "PartitionKey eq @pk and RowKey gt @lo and RowKey lt @hi",
                        parameters={"pk": tenant, "lo": resource_key(after or ""), "hi": RESOURCE_END},
                        results_per_page=rows_wanted,
                    )
                    .by_page()
                )
                page = next(pages, None)
                if page is None:
                    return
                for entity in page:
                    row = self._to_stored(entity)
                    largest = max(largest, row.chars)
                    after = row.id
                    yield row
                if getattr(pages, "continuation_token", None) is None:  # a PageIterator, typed as an Iterator
                    return
                rows_wanted = max(1, min(page_size, SCAN_PAGE_CHARS // max(largest, 1)))
        except AzureError as exc:
            raise self.storage_error(exc) from exc

    def page(self, tenant: str, start_index: int, count: int, max_chars: int) -> list[StoredResource]:
        """Resources start_index..start_index+count-1 (1-based, id order): only those documents are read.

        Rows before the page are skipped by reading their keys alone (1,000 a round trip). The page ends
        early, after the row that takes it past max_chars (at least one row): RFC 7644 §3.4.2.4 lets a page
        hold fewer than count, and the client asks for the next from startIndex + itemsPerPage.
        """
        if count <= 0:
            return []
        after: str | None = None
        skip = max(start_index, 1) - 1
        try:
            if skip:
                keys = self.client().query_entities(
                    "PartitionKey eq @pk and RowKey gt @lo and RowKey lt @hi",
                    parameters={"pk": tenant, "lo": RESOURCE_PREFIX, "hi": RESOURCE_END},
                    select=["RowKey"],
                    results_per_page=1000,
                )
                last = next(itertools.islice(keys, min(skip, sys.maxsize) - 1, None), None)
                if last is None:
                    return []
                after = str(last["RowKey"])[len(RESOURCE_PREFIX) :]
        except AzureError as exc:
            raise self.storage_error(exc) from exc
        return list(within_chars(self.scan(tenant, after=after, page_size=min(count, 1000)), count, max_chars))


def within_chars(rows: Iterable[StoredResource], count: int, max_chars: int) -> Iterator[StoredResource]:
    """At most count rows, ending with the one that takes their documents past max_chars (never fewer than one)."""
    held = 0
    for taken, row in enumerate(rows):
        if taken >= count or (taken and held >= max_chars):
            return
        held += row.chars
        yield row
