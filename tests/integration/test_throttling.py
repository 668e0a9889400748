"""Throttling (429/503 from Table Storage): bounded retries with jittered backoff inside the SDK, then a SCIM
503 with Retry-After to Entra; a throttle that clears in time is invisible to Entra."""

from __future__ import annotations

import time
import uuid

import pytest

from devhost.azurite import Azurite
from scim.store import RetryBudget, TableStorage
from tests.entra_cycle import Client, in_process_api, user_body
from tests.faults import FaultTransport

BUDGET = RetryBudget(retries=3, backoff_seconds=0.05, max_sleep_seconds=0.2, call_timeout=5.0)


class SleepRecorder(FaultTransport):
    """Records the pauses the retry policy takes (it sleeps with time.sleep)."""

    def __init__(self) -> None:
        super().__init__(BUDGET)
        self.slept: list[float] = []


@pytest.fixture(autouse=True)
def record_sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    real = time.sleep

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        real(seconds)

    monkeypatch.setattr(time, "sleep", sleep)  # the retry policy sleeps through the time module
    return slept


@pytest.fixture
def setup(azurite: Azurite) -> tuple[SleepRecorder, Client, str]:
    transport = SleepRecorder()
    storage = TableStorage(connection_string=azurite.connection_string, table_prefix="throttle", transport=transport)
    client = Client(in_process_api(storage), f"t-{uuid.uuid4().hex[:16]}")
    status, user = client.call("users_collection", "POST", body=user_body(1, "throttled"))
    assert status == 201
    return transport, client, str(user["id"])


@pytest.mark.parametrize("kind", ["503", "429"])
def test_persistent_throttling_is_retried_a_bounded_number_of_times_then_503(
    setup: tuple[SleepRecorder, Client, str], kind: str, record_sleeps: list[float]
) -> None:
    transport, client, uid = setup
    transport.reset_counts()
    transport.kind = kind
    transport.should_fail = lambda n: True
    started = time.perf_counter()
    status, body = client.call("user_item", "GET", uid)
    assert status == 503 and body["status"] == "503"
    assert transport.sent == BUDGET.retries + 1  # one point read: the first attempt and three retries
    assert time.perf_counter() - started < BUDGET.call_timeout
    # A pause before each retry: growing, jittered to between half and all of the backoff, capped.
    assert len(record_sleeps) == BUDGET.retries
    for n, pause in enumerate(record_sleeps):
        wanted = min(BUDGET.backoff_seconds * 2**n, BUDGET.max_sleep_seconds)
        assert wanted / 2 <= pause <= wanted


def test_a_throttle_that_clears_is_invisible_to_entra(setup: tuple[SleepRecorder, Client, str]) -> None:
    transport, client, uid = setup
    transport.fail_nth(1, "429")
    status, body = client.call("user_item", "GET", uid)
    assert status == 200 and body["id"] == uid
    assert transport.injected == 1  # absorbed by one retry


def test_the_retry_after_entra_sees_on_a_storage_503(setup: tuple[SleepRecorder, Client, str]) -> None:
    from scim.http import Request
    from tests.entra_cycle import TOKEN

    transport, client, uid = setup
    transport.should_fail = lambda n: True
    transport.kind = "503"
    request = Request.build(
        "GET",
        f"http://h/scim/v2/{client.tenant}/Users/{uid}",
        route_params={"tenant": client.tenant, "id": uid},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    response = client.api.user_item(request)
    assert response.status == 503 and int(response.headers["Retry-After"]) >= 1
