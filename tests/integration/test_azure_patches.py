"""scim.store.azure's patches hold for the SDK installed: the pinned versions, the private names they use, and
the lean $batch envelope sending a transaction the SDK's way in effect: same rows stored, same answers, same errors.

Each case runs the same operations through a plain azure-data-tables client and through one with the lean
envelope, on two tables of the same Azurite, and compares what comes back and what is stored.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from importlib.metadata import version
from typing import Any

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, TableServiceClient, TableTransactionError, UpdateMode

from devhost.azurite import Azurite
from scim.store import COUNTER_ROW_KEY, KeepAliveTransport, RetryBudget, RoundTripCounter, TableStorage, counting
from scim.store.azure import PATCHED_FOR, http_parts, install_retry_policy, lean_transactions


@pytest.mark.parametrize("package", sorted(PATCHED_FOR))
def test_the_installed_sdk_is_the_one_the_patches_were_written_for(package: str) -> None:
    installed = version(package)
    assert installed == PATCHED_FOR[package], (
        f"{package} {installed} is installed; scim.store.azure patches private parts of {PATCHED_FOR[package]}:"
        " re-read azure/batch.py and azure/transport.py against the new SDK, then update PATCHED_FOR"
    )


def test_the_private_names_the_patches_use_are_there() -> None:
    from azure.data.tables import _error, _policies

    assert callable(_error._decode_error) and callable(_error._validate_tablename_error)
    assert issubclass(_error.RequestTooLargeError, Exception)
    assert isinstance(_policies.TablesRetryPolicy, type)
    client = TableClient.from_connection_string(
        "DefaultEndpointsProtocol=http;AccountName=a;AccountKey=YQ==;TableEndpoint=http://127.0.0.1:1/a", "t"
    )
    assert callable(client._batch_send) and client._primary_hostname and client._client is not None
    service = TableServiceClient.from_connection_string(
        "DefaultEndpointsProtocol=http;AccountName=a;AccountKey=YQ==;TableEndpoint=http://127.0.0.1:1/a"
    )
    install_retry_policy(service, RetryBudget())  # raises if the SDK's retry policy is no longer in its list


def test_storage_clients_are_built_with_the_patches(azurite: Azurite) -> None:
    storage = TableStorage(connection_string=azurite.connection_string)
    client = storage.table_client(storage.table_name("Users"))
    assert client._batch_send.__func__.__module__ == "scim.store.azure.batch"
    policies = {type(policy).__name__ for policy in storage._service._policies}
    assert "JitteredRetryPolicy" in policies and "SharedKeyCredentialPolicy" in policies
    assert not policies & {"HttpLoggingPolicy", "DistributedTracingPolicy", "NetworkTraceLoggingPolicy"}
    storage.close()


def test_every_storage_call_goes_through_the_keep_alive_transport_and_is_counted(azurite: Azurite) -> None:
    """Without a transport given, TableStorage sends on KeepAliveTransport: 30 calls (a table create, point reads,
    a range query, a transaction, a miss) on one reused connection, each counted once by scim.store.counting."""
    storage = TableStorage(connection_string=azurite.connection_string, table_prefix=f"ka{uuid.uuid4().hex[:8]}")
    client = storage.table_client(storage.table_name("Users"))
    transport = client._client._client._pipeline._transport._transport  # the table client's wrapper of the service's
    assert type(transport) is KeepAliveTransport
    calls = RoundTripCounter()
    with counting(calls):
        storage._service.create_table(client.table_name)
        client.submit_transaction(
            [("upsert", {"PartitionKey": "t", "RowKey": f"r|{n}", "Document0": "é"}) for n in range(3)]
        )
        for n in range(25):
            assert client.get_entity("t", f"r|{n % 3}")["Document0"] == "é"
        assert len(list(client.query_entities("PartitionKey eq 't'"))) == 3
        with pytest.raises(ResourceNotFoundError):
            client.get_entity("t", "r|missing")
        storage._service.delete_table(client.table_name)
    assert calls.count == 30
    assert transport.pool.opened == 1  # keep-alive: one connection for every call made one at a time
    storage.close()


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
    {"PartitionKey": "t", "RowKey": COUNTER_ROW_KEY, "Total": 1},
    {"PartitionKey": "t", "RowKey": "r|one", "Document0": "{}"},
]

STALE = "W/\"datetime'2000-01-01T00%3A00%3A00.000Z'\""
CASES: dict[str, list[Any]] = {
    "create, merge, delete": [
        ("create", {"PartitionKey": "t", "RowKey": "r|two", "Document0": '{"userName":"é ✓ \\u2028"}', "N": 7}),
        ("update", {"PartitionKey": "t", "RowKey": COUNTER_ROW_KEY, "Total": 2}, {"mode": UpdateMode.MERGE}),
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
            {"PartitionKey": "t", "RowKey": COUNTER_ROW_KEY, "Total": 5},
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
    parts = http_parts(body, "multipart/mixed; boundary=b")
    assert [(status, headers["etag"], content) for status, _, headers, content in parts] == [
        (204, "one", b""),
        (201, "two", b'{"a": 1}'),
    ]
