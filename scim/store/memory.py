"""An in-memory twin of Table Storage for fast service tests and benchmarks; never the product, `make run`, e2e or
integration tests.

It replaces the one thing below the store's code, the table client: every ResourceTable, Memberships, ChangeRows,
ActivityTable and TenantTable method runs unchanged on it, so the rows written, the answers read and the errors
raised are the store's own. What the twin must get right is what Table Storage does with a call, and that is
what tests/contract/ proves against Azurite for both: rows in (PartitionKey, RowKey) order, ETags checked on
conditional writes, an entity-group transaction applied whole or not at all with the failing operation's
index and error code, pages of at most ``results_per_page`` rows with a continuation, and one counted round
trip per call (per page of a query), as TableStorage.round_trips counts them.

Only the filters the store sends are understood (``PartitionKey``/``RowKey`` compared with ``eq``, ``gt``,
``ge``, ``lt``, ``le`` to @-parameters, joined by ``and``); anything else is a ValueError, never a wrong answer.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.core.paging import ItemPaged
from azure.data.tables import EdmType, EntityProperty, TableEntity, TableTransactionError, UpdateMode

from scim.store.account import TableStorage
from scim.store.azure import RetryBudget
from scim.store.calls import count_call
from scim.store.memory_rows import Overlay, Stored, TableRows
from scim.store.rows import RoundTripCounter

_TRANSACTION_LIMIT = 100
_INT32 = range(-(2**31), 2**31)
_COMPARE: dict[str, Callable[[str, str], bool]] = {
    "eq": lambda a, b: a == b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
}

_Stored = Stored


@dataclass(frozen=True)
class _Bounds:
    """What of a filter narrows the keys to visit: its partition, and its RowKey range."""

    partition: str | None = None
    low: str = ""
    low_inclusive: bool = True
    high: str | None = None
    high_inclusive: bool = True

    def above(self, row_key: str) -> bool:
        """Is the key past the range's upper end?"""
        if self.high is None:
            return False
        return row_key > self.high or (row_key == self.high and not self.high_inclusive)


def _bounds(query: str, params: Mapping[str, Any]) -> _Bounds:
    bounds = _Bounds()
    for clause in query.split(" and "):
        field, op, value = clause.split()
        wanted = str(params[value[1:]])
        if field == "PartitionKey" and op == "eq":
            bounds = replace(bounds, partition=wanted)
        elif field == "RowKey" and op in ("gt", "ge", "eq") and wanted >= bounds.low:
            bounds = replace(bounds, low=wanted, low_inclusive=op != "gt")
        if field == "RowKey" and op in ("lt", "le", "eq") and (bounds.high is None or wanted <= bounds.high):
            bounds = replace(bounds, high=wanted, high_inclusive=op != "lt")
    return bounds


def _filter(query: str, params: Mapping[str, Any]) -> Callable[[str, str], bool]:
    """The predicate on (PartitionKey, RowKey) an OData filter of the shape the store sends stands for."""
    tests: list[Callable[[str, str], bool]] = []
    for clause in query.split(" and "):
        field, op, value = clause.split()
        if field not in ("PartitionKey", "RowKey") or op not in _COMPARE or not value.startswith("@"):
            raise ValueError(f"the in-memory store does not understand the filter {clause!r}")
        tests.append(_clause(field == "PartitionKey", _COMPARE[op], str(params[value[1:]])))
    return lambda pk, rk: all(test(pk, rk) for test in tests)


def _clause(on_partition: bool, compare: Callable[[str, str], bool], wanted: str) -> Callable[[str, str], bool]:
    return lambda pk, rk: compare(pk if on_partition else rk, wanted)


def _stored_value(value: Any) -> Any:
    """A property as Table Storage gives it back: datetimes in UTC, large ints as Int64."""
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int) and not isinstance(value, bool) and value not in _INT32:
        return EntityProperty(value, EdmType.INT64)
    return value


class MemoryTableClient:
    """One table held in memory, answering the TableClient calls the store makes as Table Storage does."""

    def __init__(self, table_name: str, hook: Callable[[Any], None], lock: threading.RLock) -> None:
        self.table_name = table_name
        self._hook = hook
        self._lock = lock
        self._rows = TableRows()
        self._versions = itertools.count(1)

    # -- plumbing -----------------------------------------------------------------------------------

    def _sent(self, kwargs: Mapping[str, Any]) -> None:
        """One round trip, told to the per-call hook if given (it replaces the client's, as in azure-core)."""
        hook = kwargs.get("raw_request_hook") or self._hook
        hook(None)

    def _etag(self, now: datetime) -> str:
        return f"W/\"datetime'{now.isoformat()}'-{next(self._versions)}\""

    @staticmethod
    def _entity(stored: _Stored, select: Iterable[str] | None = None) -> TableEntity:
        props, etag, timestamp = stored
        entity = TableEntity()
        wanted = set(select) if select is not None else None
        entity.update({k: v for k, v in props.items() if wanted is None or k in wanted})
        entity._metadata = {"etag": etag, "timestamp": timestamp}
        return entity

    def _write(self, rows: Overlay, entity: Mapping[str, Any], base: Mapping[str, Any]) -> str:
        now = datetime.now(UTC)
        props = {**base, **{k: _stored_value(v) for k, v in entity.items() if v is not None}}
        etag = self._etag(now)
        rows[(str(entity["PartitionKey"]), str(entity["RowKey"]))] = (props, etag, now)
        return etag

    @staticmethod
    def _key(entity: Mapping[str, Any]) -> tuple[str, str]:
        return str(entity["PartitionKey"]), str(entity["RowKey"])

    @staticmethod
    def _check_etag(current: _Stored, options: Mapping[str, Any]) -> bool:
        if options.get("match_condition") != MatchConditions.IfNotModified:
            return True
        etag = options.get("etag")
        return etag is None or etag == current[1]

    def _apply(self, rows: Overlay, kind: str, entity: Mapping[str, Any], options: Any) -> str:
        """One write on ``rows``; the error code Table Storage answers with, raised as a KeyError-free tuple."""
        key = self._key(entity)
        current = rows.get(key)
        kind = str(getattr(kind, "value", kind)).lower()
        mode = options.get("mode", UpdateMode.MERGE)
        merge = str(getattr(mode, "value", mode)).lower() == "merge"
        if kind == "create":
            if current is not None:
                raise _Refused("EntityAlreadyExists", 409)
            return self._write(rows, entity, {})
        if kind == "upsert":
            return self._write(rows, entity, current[0] if current is not None and merge else {})
        if kind == "update":
            if current is None:
                raise _Refused("ResourceNotFound", 404)
            if not self._check_etag(current, options):
                raise _Refused("UpdateConditionNotSatisfied", 412)
            return self._write(rows, entity, current[0] if merge else {})
        if kind == "delete":
            if current is None:
                raise _Refused("ResourceNotFound", 404)
            if not self._check_etag(current, options):
                raise _Refused("UpdateConditionNotSatisfied", 412)
            del rows[key]
            return ""
        raise ValueError(f"unknown transaction operation {kind!r}")

    # -- the TableClient calls the store makes ---------------------------------------------------------

    def create_table(self, **kwargs: Any) -> None:
        self._sent(kwargs)

    def get_entity(self, partition_key: str, row_key: str, *, select: list[str] | None = None, **kwargs: Any) -> Any:
        self._sent(kwargs)
        with self._lock:
            stored = self._rows.get((partition_key, row_key))  # O(1)
        if stored is None:
            raise _error(ResourceNotFoundError, "ResourceNotFound", 404)
        return self._entity(stored, select)

    def query_entities(
        self,
        query_filter: str,
        *,
        parameters: Mapping[str, Any] | None = None,
        results_per_page: int | None = None,
        select: list[str] | None = None,
        **kwargs: Any,
    ) -> ItemPaged[TableEntity]:
        matches = _filter(query_filter, parameters or {})
        bounds = _bounds(query_filter, parameters or {})
        size = min(results_per_page or 1000, 1000)

        def page(token: tuple[str, str] | None) -> tuple[tuple[str, str] | None, list[TableEntity]]:
            self._sent(kwargs)
            with self._lock:
                chosen = list(itertools.islice(self._keys(bounds, matches, token), size + 1))
                found = [self._entity(stored, select) for key in chosen[:size] if (stored := self._rows.get(key))]
            return (chosen[size - 1] if len(chosen) > size else None), found

        return ItemPaged(page, lambda answer: (answer[0], iter(answer[1])))

    def _keys(
        self, bounds: _Bounds, matches: Callable[[str, str], bool], after: tuple[str, str] | None
    ) -> Iterator[tuple[str, str]]:
        """The matching keys in order after ``after``, visiting only the filter's partition and RowKey range."""
        for key in self._rows.scan(bounds.partition, bounds.low, bounds.low_inclusive, after):
            if bounds.high is not None and (
                key[1] > bounds.high or (key[1] == bounds.high and not bounds.high_inclusive)
            ):
                if bounds.partition is not None:
                    return
                continue
            if matches(*key):
                yield key

    def list_entities(self, **kwargs: Any) -> ItemPaged[TableEntity]:
        return self.query_entities("RowKey ge @lo", parameters={"lo": ""}, **kwargs)

    def create_entity(self, entity: Mapping[str, Any], **kwargs: Any) -> dict[str, Any]:
        return self._single("create", entity, kwargs)

    def upsert_entity(self, entity: Mapping[str, Any], mode: UpdateMode = UpdateMode.MERGE, **kwargs: Any) -> Any:
        return self._single("upsert", entity, {**kwargs, "mode": mode})

    def update_entity(self, entity: Mapping[str, Any], mode: UpdateMode = UpdateMode.MERGE, **kwargs: Any) -> Any:
        return self._single("update", entity, {**kwargs, "mode": mode})

    def delete_entity(self, partition_key: str, row_key: str, **kwargs: Any) -> None:
        try:
            self._single("delete", {"PartitionKey": partition_key, "RowKey": row_key}, kwargs)
        except ResourceNotFoundError:
            return  # the SDK answers a missing row's delete with nothing

    def _single(self, kind: str, entity: Mapping[str, Any], options: Mapping[str, Any]) -> dict[str, Any]:
        self._sent(options)
        with self._lock:
            rows = Overlay(self._rows)
            try:
                etag = self._apply(rows, kind, entity, options)
                rows.commit()
            except _Refused as refused:
                kinds = {409: ResourceExistsError, 404: ResourceNotFoundError, 412: ResourceModifiedError}
                raise _error(kinds[refused.status], refused.code, refused.status) from None
        return {"etag": etag}

    def submit_transaction(self, operations: Iterable[Any], **kwargs: Any) -> list[dict[str, Any]]:
        """All operations or none; the first one refused names its index and error code, as Table Storage does."""
        ops = list(operations)
        if len({str(op[1]["PartitionKey"]) for op in ops}) > 1:
            raise ValueError("Partition Keys in the batch must all be the same.")
        self._sent(kwargs)
        if len(ops) > _TRANSACTION_LIMIT:
            raise _error(TableTransactionError, "InvalidInput", 400, index=0)
        with self._lock:
            rows = Overlay(self._rows)  # the table itself is untouched until every operation has succeeded
            answers = []
            for index, (kind, entity, *more) in enumerate(ops):
                try:
                    etag = self._apply(rows, kind, entity, more[0] if more else {})
                except _Refused as refused:
                    raise _error(TableTransactionError, refused.code, refused.status, index=index) from None
                answers.append({"etag": etag} if etag else {})
            rows.commit()
        return answers

    def close(self) -> None:
        pass


class _Refused(Exception):
    def __init__(self, code: str, status: int) -> None:
        super().__init__(code)
        self.code = code
        self.status = status


def _error(kind: Any, code: str, status: int, **extra: Any) -> Any:
    message = f"{extra['index']}:{code}" if "index" in extra else code
    exc = kind(message=message, **extra)
    exc.error_code = code
    exc.status_code = status
    return exc


class MemoryStorage(TableStorage):
    """TableStorage with its tables in this process's memory: same API, same rows, no Azurite."""

    def __init__(self, *, table_prefix: str = "scim") -> None:
        self.round_trips = RoundTripCounter()
        self.retry = RetryBudget()
        self._clients: dict[str, MemoryTableClient] = {}
        self._rows_lock = threading.RLock()
        self._init_tables(table_prefix)

    def table_client(self, name: str) -> Any:
        with self._rows_lock:
            client = self._clients.get(name)
            if client is None:
                client = self._clients[name] = MemoryTableClient(name, self._sent, self._rows_lock)
            return client

    def _sent(self, request: Any) -> None:
        self.round_trips(request)
        count_call()

    def close(self) -> None:
        pass
