"""POST /Bulk (RFC 7644 §3.7) through ScimApi on the in-memory store: the job, its limits and its failures."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from scim2_models import BulkResponse, Context, Group, User

from scim.api import discovery
from scim.api.bulk import BulkRun
from scim.api.scim import ScimApi
from scim.http import Request
from scim.resources.users import UserService
from scim.store import StorageUnavailableError, TableStorage
from tests.conftest import partition_rows
from tests.entra_cycle import TOKEN, in_process_api
from tests.service.bulk_requests import (
    BULK,
    ERROR,
    GROUP,
    PATCH,
    USER,
    call,
    job,
    post_user,
    resources,
    send,
    user,
)


@pytest.fixture
def api(storage: TableStorage) -> ScimApi:
    return in_process_api(storage)


def test_an_operation_that_fails_in_the_middle_undoes_nothing_and_stops_nothing(
    api: ScimApi, storage: TableStorage, tenant: str
) -> None:
    status, body = send(
        api,
        tenant,
        job(
            post_user("a", "ann@contoso.test"),
            post_user("b", "ANN@contoso.test"),  # the same userName: 409 uniqueness
            post_user("c", "cid@contoso.test"),
        ),
    )
    assert status == 200
    first, failed, third = body["Operations"]
    assert (first["status"], failed["status"], third["status"]) == ("201", "409", "201")
    assert "location" not in failed and "version" not in failed  # §3.7.3: a failed POST has no location
    assert failed["response"]["schemas"] == [ERROR]
    assert failed["response"]["status"] == "409" and failed["response"]["scimType"] == "uniqueness"
    stored = sorted(json.loads(row["Document0"])["userName"] for row in resources(storage, "Users", tenant))
    assert stored == ["ann@contoso.test", "cid@contoso.test"]


def test_fail_on_errors_stops_after_that_many_errors(api: ScimApi, storage: TableStorage, tenant: str) -> None:
    status, body = send(
        api,
        tenant,
        job(
            post_user("ok", "ok@contoso.test"),
            {"method": "POST", "path": "/Users", "bulkId": "bad", "data": {"schemas": [USER]}},  # no userName: 400
            {"method": "DELETE", "path": "/Users/" + "0" * 32},  # 404
            post_user("never", "never@contoso.test"),
            failOnErrors=2,
        ),
    )
    assert status == 200
    assert [r["status"] for r in body["Operations"]] == ["201", "400", "404"]
    assert body["Operations"][2]["response"]["status"] == "404"
    names = [json.loads(row["Document0"])["userName"] for row in resources(storage, "Users", tenant)]
    assert names == ["ok@contoso.test"]  # the fourth operation never ran

    status, body = send(
        api, tenant, job(post_user("x", "x@contoso.test"), post_user("y", "y@contoso.test"), failOnErrors=1)
    )
    assert [r["status"] for r in body["Operations"]] == ["201", "201"]  # no error: every operation runs


def test_without_fail_on_errors_every_operation_runs(api: ScimApi, tenant: str) -> None:
    missing = "0" * 32
    status, body = send(
        api,
        tenant,
        job(
            {"method": "DELETE", "path": f"/Users/{missing}"},
            {"method": "PUT", "path": f"/Groups/{missing}", "data": {"schemas": [GROUP], "displayName": "G"}},
            post_user("z", "z@contoso.test"),
        ),
    )
    assert status == 200
    assert [r["status"] for r in body["Operations"]] == ["404", "404", "201"]
    assert body["Operations"][0]["location"] == f"http://localhost/scim/v2/{tenant}/Users/{missing}"


def test_more_operations_than_max_operations_is_413_and_stores_nothing(storage: TableStorage, tenant: str) -> None:
    api = in_process_api(storage)
    api.settings = replace(api.settings, bulk_max_operations=2)
    status, body = send(api, tenant, job(*(post_user(f"u{n}", f"u{n}@contoso.test") for n in range(3))))
    assert status == 413
    assert body["schemas"] == [ERROR] and body["status"] == "413" and "scimType" not in body
    assert "maxOperations is 2" in body["detail"]
    assert partition_rows(storage, "Users", tenant) == []
    status, _ = send(api, tenant, job(*(post_user(f"u{n}", f"u{n}@contoso.test") for n in range(2))))
    assert status == 200  # at the limit is fine


def test_a_body_larger_than_max_payload_size_is_413_and_stores_nothing(storage: TableStorage, tenant: str) -> None:
    api = in_process_api(storage)
    api.settings = replace(api.settings, max_body_bytes=2_000)
    operations = [post_user(f"u{n}", f"u{n}@contoso.test") for n in range(20)]
    raw = json.dumps(job(*operations)).encode()
    assert len(raw) > 2_000
    status, body = send(api, tenant, None, raw=raw)
    assert status == 413 and "scimType" not in body
    assert body["detail"] == "The size of the bulk operation exceeds the maxPayloadSize (2000)"  # RFC 7644 §3.7.4
    assert partition_rows(storage, "Users", tenant) == []


def test_the_license_cap_holds_inside_a_bulk_request(storage: TableStorage, tenant: str) -> None:
    api = in_process_api(storage, active_limit=1)
    status, body = send(
        api,
        tenant,
        job(
            post_user("first", "first@contoso.test"),
            post_user("second", "second@contoso.test"),
            post_user("inactive", "off@contoso.test", active=False),
        ),
    )
    assert status == 200
    results = body["Operations"]
    assert [r["status"] for r in results] == ["201", "403", "201"]
    assert "License limit reached" in results[1]["response"]["detail"]
    stored = sorted(json.loads(row["Document0"])["userName"] for row in resources(storage, "Users", tenant))
    assert stored == ["first@contoso.test", "off@contoso.test"]


def test_a_wrong_token_is_401_and_nothing_runs(api: ScimApi, storage: TableStorage, tenant: str) -> None:
    status, body = send(api, tenant, job(post_user("a", "a@contoso.test")), token="wrong-token-" + "x" * 40)
    assert status == 401 and body["schemas"] == [ERROR]
    assert partition_rows(storage, "Users", tenant) == []


@pytest.mark.parametrize(
    ("body", "scim_type", "detail"),
    [
        ([], "invalidSyntax", "JSON object"),
        ({"Operations": [post_user("a", "a@contoso.test")]}, "invalidSyntax", BULK),
        ({"schemas": [USER], "Operations": [post_user("a", "a@contoso.test")]}, "invalidSyntax", BULK),
        ({"schemas": [BULK]}, "invalidSyntax", "Operations"),
        ({"schemas": [BULK], "Operations": []}, "invalidSyntax", "Operations"),
        ({"schemas": [BULK], "Operations": ["POST /Users"]}, "invalidSyntax", "Operations[0]"),
        (job(post_user("a", "a@contoso.test"), post_user("a", "b@contoso.test")), "invalidSyntax", "twice"),
        (job(post_user("a", "a@contoso.test"), failOnErrors="1"), "invalidSyntax", "failOnErrors"),
        (job(post_user("a", "a@contoso.test"), failOnErrors=0), "invalidValue", "failOnErrors"),
    ],
)
def test_a_malformed_bulk_request_is_400_and_runs_nothing(
    api: ScimApi, storage: TableStorage, tenant: str, body: Any, scim_type: str, detail: str
) -> None:
    status, answer = send(api, tenant, body)
    assert status == 400
    assert answer["scimType"] == scim_type and detail in answer["detail"]
    assert partition_rows(storage, "Users", tenant) == []


def test_an_operation_of_the_wrong_shape_fails_alone(api: ScimApi, tenant: str) -> None:
    status, body = send(
        api,
        tenant,
        job(
            {"method": "GET", "path": "/Users"},
            {"method": "POST", "path": "/Users", "data": user("nobulk@contoso.test")},
            {"method": "PUT", "path": "/Users/" + "0" * 32},
            {"method": "POST", "path": "/Schemas", "bulkId": "s", "data": {}},
            {"method": "POST", "path": "/Users/" + "0" * 32, "bulkId": "p", "data": user("p@contoso.test")},
            post_user("fine", "fine@contoso.test"),
        ),
    )
    assert status == 200
    results = body["Operations"]
    assert [r["status"] for r in results] == ["400", "400", "400", "404", "405", "201"]
    assert [r["response"].get("scimType") for r in results[:3]] == ["invalidSyntax"] * 3
    assert "bulkId" in results[1]["response"]["detail"] and "data" in results[2]["response"]["detail"]


def test_version_is_if_match(api: ScimApi, tenant: str) -> None:
    _, created, headers = call(api, tenant, "POST", "/Users", user("v@contoso.test"))
    uid, old = created["id"], headers["ETag"]
    rename = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName", "value": "Vee"}]}
    status, body = send(
        api,
        tenant,
        job(
            {"method": "PATCH", "path": f"/Users/{uid}", "version": old, "data": rename},
            {"method": "PUT", "path": f"/Users/{uid}", "version": old, "data": user("v@contoso.test")},  # stale
            {"method": "DELETE", "path": f"/Users/{uid}", "version": old},  # stale
        ),
    )
    assert status == 200
    patched, stale_put, stale_delete = body["Operations"]
    assert patched["status"] == "200" and patched["version"] != old
    assert stale_put["status"] == "412" and stale_delete["status"] == "412"
    assert stale_put["location"].endswith(f"/Users/{uid}")
    _, now, headers = call(api, tenant, "GET", f"/Users/{uid}")
    assert now["displayName"] == "Vee" and headers["ETag"] == patched["version"]
    status, body = send(api, tenant, job({"method": "DELETE", "path": f"/Users/{uid}", "version": patched["version"]}))
    assert body["Operations"] == [
        {"location": f"http://localhost/scim/v2/{tenant}/Users/{uid}", "method": "DELETE", "status": "204"}
    ]
    assert call(api, tenant, "GET", f"/Users/{uid}")[0] == 404


def test_an_unexpected_failure_in_one_operation_is_that_operations_answer(
    api: ScimApi, storage: TableStorage, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = UserService.create
    failures = iter([RuntimeError("bug"), None, StorageUnavailableError("down")])

    def flaky(self: UserService, *args: Any, **kwargs: Any) -> Any:
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real(self, *args, **kwargs)

    monkeypatch.setattr(UserService, "create", flaky)
    operations = [post_user(name, f"{name}@contoso.test") for name in ("bug", "fine", "down", "after")]
    status, body = send(api, tenant, job(*operations, {"method": "DELETE", "path": "/Users/" + "0" * 32}))
    assert status == 200  # never a 500 for the bulk request
    bug, fine, down, after, delete = body["Operations"]
    assert bug["status"] == "500"
    assert bug["response"]["detail"] == "The server failed to process the request; it has been logged"
    assert fine["status"] == "201"
    assert down["status"] == "503"
    # Storage did not answer: the rest is not run (each would wait as long), and says so.
    for skipped in (after, delete):
        assert skipped["status"] == "503" and skipped["response"]["detail"].startswith(
            "Not run: storage did not answer"
        )
    assert delete["location"].endswith("/Users/" + "0" * 32)
    names = [json.loads(row["Document0"])["userName"] for row in resources(storage, "Users", tenant)]
    assert names == ["fine@contoso.test"]
    BulkResponse[User | Group].model_validate(body, scim_ctx=Context.BULK_RESPONSE)


def test_no_operation_starts_once_the_time_budget_is_spent(
    api: ScimApi, storage: TableStorage, tenant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticks = iter([0.0, 0.0, 1.0, 500.0, 500.0])  # the deadline, then the time before each operation
    monkeypatch.setattr(BulkRun, "clock", staticmethod(lambda: next(ticks)))
    status, body = send(api, tenant, job(*(post_user(n, f"{n}@contoso.test") for n in ("one", "two", "three"))))
    assert status == 200
    assert [r["status"] for r in body["Operations"]] == ["201", "201", "503"]
    assert body["Operations"][2]["response"]["detail"].startswith("Not run: its time (120 s) ran out")
    assert len(resources(storage, "Users", tenant)) == 2


def test_the_time_budget_leaves_the_last_operation_room_inside_the_function_timeout() -> None:
    host = json.loads((Path(__file__).resolve().parents[2] / "host.json").read_text())
    hours, minutes, seconds = (int(part) for part in host["functionTimeout"].split(":"))
    # The operation that starts just before the budget ends may take a few storage calls of 15 s at most.
    assert BulkRun.time_budget + 4 * 15 < hours * 3600 + minutes * 60 + seconds


def test_service_provider_config_publishes_the_limits_it_enforces(storage: TableStorage, tenant: str) -> None:
    api = in_process_api(storage)
    api.settings = replace(api.settings, bulk_max_operations=7, max_body_bytes=5_000)
    request = Request.build(
        "GET",
        f"http://localhost/scim/v2/{tenant}/ServiceProviderConfig",
        route_params={"tenant": tenant},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    config = json.loads(discovery.service_provider_config(api, request).body)
    assert config["bulk"] == {"supported": True, "maxOperations": 7, "maxPayloadSize": 5000}
    status, body = send(api, tenant, job(*(post_user(f"u{n}", f"u{n}@contoso.test") for n in range(8))))
    assert status == 413 and "maxOperations is 7" in body["detail"]
