"""POST /Bulk: each operation is its single request, row for row, storage call for call, activity entry for entry."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from scim.platform.activity import Outcome
from scim.store import TableStorage, is_counter_key, is_record_key
from tests.conftest import partition_rows
from tests.entra_cycle import in_process_api
from tests.service.bulk_requests import (
    GROUP,
    PATCH,
    call,
    job,
    post_user,
    send,
    user,
)


def test_the_same_rows_and_storage_calls_as_the_single_requests(storage: TableStorage) -> None:
    """Each operation goes through its single request's services: one tenant gets the requests one by one,
    another the same requests in one bulk; the stored rows (but ids and times) and the storage calls match."""
    api = in_process_api(storage)
    singles, bulked, warm = (f"t-{uuid.uuid4().hex[:16]}" for _ in range(3))
    names = ["p@contoso.test", "q@contoso.test"]
    # Once per process, not per request: the tables are created on first use. Paid here, so neither side does.
    call(api, warm, "POST", "/Groups", {"schemas": [GROUP], "displayName": "warm-up"})
    call(api, warm, "POST", "/Users", user("warm@contoso.test"))

    before = storage.round_trips.count
    ids = [call(api, singles, "POST", "/Users", user(name))[1]["id"] for name in names]
    group = call(
        api, singles, "POST", "/Groups", {"schemas": [GROUP], "displayName": "G", "members": [{"value": ids[0]}]}
    )
    add = {"schemas": [PATCH], "Operations": [{"op": "add", "path": "members", "value": [{"value": ids[1]}]}]}
    call(api, singles, "PATCH", f"/Groups/{group[1]['id']}", add)
    single_calls = storage.round_trips.count - before

    before = storage.round_trips.count
    status, body = send(
        api,
        bulked,
        job(
            post_user("p", names[0]),
            post_user("q", names[1]),
            {
                "method": "POST",
                "path": "/Groups",
                "bulkId": "g",
                "data": {"schemas": [GROUP], "displayName": "G", "members": [{"value": "bulkId:p"}]},
            },
            {
                "method": "PATCH",
                "path": "/Groups/bulkId:g",
                "data": {
                    "schemas": [PATCH],
                    "Operations": [{"op": "add", "path": "members", "value": [{"value": "bulkId:q"}]}],
                },
            },
        ),
    )
    bulk_calls = storage.round_trips.count - before
    assert status == 200 and [r["status"] for r in body["Operations"]] == ["201", "201", "201", "204"]
    assert bulk_calls == single_calls

    def shape(tenant: str) -> list[tuple[str, int]]:
        # Counter shards are left out: how many a partition has depends on which shards its random ids hash to.
        kinds = [
            (kind, sum(not is_counter_key(str(r["RowKey"])) for r in partition_rows(storage, kind, tenant)))
            for kind in ("Users", "Groups")
        ]
        changes = [
            (kind, sum(is_record_key(str(r["RowKey"])) for r in partition_rows(storage, kind, tenant)))
            for kind in ("Users", "Groups")
        ]
        return kinds + changes

    assert shape(bulked) == shape(singles)


class Recorder:
    """Collects what ScimApi hands the activity recorder."""

    def __init__(self) -> None:
        self.outcomes: list[Outcome] = []

    @staticmethod
    def clock() -> datetime:
        return datetime.now(UTC)

    def submit(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)


def test_each_operation_is_an_activity_entry_of_its_own(storage: TableStorage, tenant: str) -> None:
    api = in_process_api(storage)
    recorder = Recorder()
    api.activity = recorder  # type: ignore[assignment]
    status, _ = send(api, tenant, job(post_user("a", "act@contoso.test"), post_user("b", "act@contoso.test")))
    assert status == 200
    seen = [(o.operation, o.resource_type, o.method, o.status, o.authenticated) for o in recorder.outcomes]
    assert seen == [
        ("create", "User", "POST", 201, True),
        ("create", "User", "POST", 409, True),
        ("bulk", "", "POST", 200, True),
    ]
    refused = recorder.outcomes[1]
    assert isinstance(refused.request_payload, dict) and refused.request_payload["userName"] == "act@contoso.test"
