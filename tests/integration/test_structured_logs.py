"""One JSON line per SCIM request, with what an operator queries on — and never a token or personal data,
even while storage fails."""

from __future__ import annotations

import json
import logging
import uuid

import pytest

from devhost.azurite import Azurite
from scim.store import TableStorage
from tests.entra_cycle import TOKEN, Client, Plan, in_process_api, run_cycle, user_body
from tests.faults import FAST_RETRY, FaultTransport

FIELDS = {"event", "tenant", "operation", "method", "resourceId", "status", "latencyMs", "storageCalls"}


def test_a_cycle_with_storage_failures_logs_json_lines_without_secrets_or_personal_data(
    azurite: Azurite, caplog: pytest.LogCaptureFixture
) -> None:
    # As scim.wiring.build_storage does: the SDK's HTTP logging prints request URLs at INFO.
    logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)
    caplog.set_level(logging.DEBUG)
    transport = FaultTransport(FAST_RETRY)
    storage = TableStorage(connection_string=azurite.connection_string, table_prefix="logs", transport=transport)
    client = Client(in_process_api(storage), f"t-{uuid.uuid4().hex[:16]}")
    plan = Plan(users=4, groups=2, prefix="secretive")
    for cycle in range(2):
        transport.fail_randomly(0.3, seed=cycle)
        run_cycle(client, plan)
    transport.healthy()
    run_cycle(client, plan)
    storage.close()
    assert client.statuses[503] > 0  # failures did reach Entra, and were logged

    text = "\n".join(record.getMessage() for record in caplog.records)
    secrets = [TOKEN, "Bearer"]
    for n in range(plan.users):
        body = user_body(n, plan.prefix)
        secrets += [body["userName"], body["displayName"], body["emails"][0]["value"], body["name"]["familyName"]]
    secrets += [f"G{plan.prefix}{g}" for g in range(plan.groups)]
    leaked = [secret for secret in secrets if secret.lower() in text.lower()]
    assert not leaked, leaked
    assert "@" not in text

    requests = [json.loads(r.getMessage()) for r in caplog.records if r.name == "scim"]
    assert len(requests) == sum(client.statuses.values())
    for line in requests:
        assert line.keys() >= FIELDS, line
        assert line["event"] == "scim.request" and line["tenant"] == client.tenant
        assert isinstance(line["latencyMs"], float) and line["storageCalls"] >= 1
    failed = [line for line in requests if line["status"] == 503]
    assert failed and all(line.get("error", "StorageUnavailableError") == "StorageUnavailableError" for line in failed)
    assert {line["operation"] for line in requests} >= {"users", "user", "groups", "group"}
