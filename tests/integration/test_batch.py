"""scim.store.batch sends a transaction the SDK's way in effect: same rows stored, same answers, same errors.

Each case runs the same operations through a plain azure-data-tables client and through one with the lean
envelope, on two tables of the same Azurite, and compares what comes back and what is stored.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from azure.core import MatchConditions
from azure.data.tables import TableClient, TableServiceClient, TableTransactionError, UpdateMode

from devhost.azurite import Azurite
from scim.store.batch import _http_parts, lean_transactions


@pytest.fixture
def clients(azurite: Azurite) -> Iterator[tuple[TableClient, TableClient]]:
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    suffix = uuid.uuid4().hex[:8]
    plain = service.create_table(f"batchsdk{suffix}")
    lean = lean_transactions(service.create_table(f"batchlean{suffix}"))
    yield plain, lean
    service.delete_table(plain.table_name)
    service.delete_table(lean.table_name)
    service.close()


def rows(client: TableClient) -> list[dict[str, Any]]:
    return sorted(({k: v for k, v in e.items()} for e in client.list_entities()), key=lambda e: e["RowKey"])


def outcome(action: Callable[[], Any]) -> Any:
    try:
        result = action()
    except TableTransactionError as exc:
        return (type(exc).__name__, exc.index, str(exc.error_code), exc.status_code, exc.message.split("\n")[0][:2])
    return [sorted(meta) for meta in result]


SEED = [
    {"PartitionKey": "t", "RowKey": "c|count", "Total": 1},
    {"PartitionKey": "t", "RowKey": "r|one", "Document0": "{}"},
]

STALE = "W/\"datetime'2000-01-01T00%3A00%3A00.000Z'\""
CASES: dict[str, list[Any]] = {
    "create, merge, delete": [
        ("create", {"PartitionKey": "t", "RowKey": "r|two", "Document0": '{"userName":"é ✓ \\u2028"}', "N": 7}),
        ("update", {"PartitionKey": "t", "RowKey": "c|count", "Total": 2}, {"mode": UpdateMode.MERGE}),
        ("delete", {"PartitionKey": "t", "RowKey": "r|one"}),
    ],
    "upsert replace": [("upsert", {"PartitionKey": "t", "RowKey": "r|one", "Document0": "x" * 30_000})],
    "already exists (uniqueness)": [
        ("upsert", {"PartitionKey": "t", "RowKey": "r|new"}),
        ("create", {"PartitionKey": "t", "RowKey": "r|one"}),
    ],
    "stale etag (version mismatch)": [
        ("upsert", {"PartitionKey": "t", "RowKey": "r|new"}),
        ("upsert", {"PartitionKey": "t", "RowKey": "r|x"}),
        (
            "update",
            {"PartitionKey": "t", "RowKey": "c|count", "Total": 5},
            {
                "mode": UpdateMode.MERGE,
                "etag": "W/\"datetime'2000-01-01T00%3A00%3A00.000Z'\"",
                "match_condition": MatchConditions.IfNotModified,
            },
        ),
    ],
    "delete of a missing row": [("delete", {"PartitionKey": "t", "RowKey": "r|missing"})],
    "same row twice": [
        ("upsert", {"PartitionKey": "t", "RowKey": "r|one"}),
        ("delete", {"PartitionKey": "t", "RowKey": "r|one"}),
    ],
}


FAILING = {"already exists (uniqueness)", "stale etag (version mismatch)", "delete of a missing row", "same row twice"}


@pytest.mark.parametrize("name", list(CASES))
def test_lean_transaction_answers_and_stores_like_the_sdk(clients: tuple[TableClient, TableClient], name: str) -> None:
    plain, lean = clients
    for client in clients:
        for entity in SEED:
            client.upsert_entity(entity)
    operations = CASES[name]
    expected = outcome(lambda: plain.submit_transaction(operations))
    assert isinstance(expected, tuple) == (name in FAILING), expected
    assert outcome(lambda: lean.submit_transaction(operations)) == expected
    strip = [{k: v for k, v in row.items()} for row in rows(plain)]
    assert [{k: v for k, v in row.items()} for row in rows(lean)] == strip


def test_a_full_transaction_of_100_operations(clients: tuple[TableClient, TableClient]) -> None:
    _, lean = clients
    answers = lean.submit_transaction([("upsert", {"PartitionKey": "t", "RowKey": f"r|{n:03}"}) for n in range(100)])
    assert len(answers) == 100 and all(answer.get("etag") for answer in answers)
    assert len(rows(lean)) == 100


def test_parts_are_read_in_order_with_nested_changesets() -> None:
    body = (
        b"--b\r\nContent-Type: multipart/mixed; boundary=c\r\n\r\n"
        b"--c\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 204 No Content\r\nETag: one\r\n\r\n\r\n"
        b'--c\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 201 Created\r\nETag: two\r\n\r\n{"a": 1}\r\n'
        b"--c--\r\n--b--\r\n"
    )
    parts = _http_parts(body, "multipart/mixed; boundary=b")
    assert [(status, headers["etag"], content) for status, _, headers, content in parts] == [
        (204, "one", b""),
        (201, "two", b'{"a": 1}'),
    ]
