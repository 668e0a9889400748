"""Delivery to the queue against Azurite: the message format, a queue outage, a crash, order over 1,000 changes."""

from __future__ import annotations

import json
import random
import socket
import statistics
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from devhost.azurite import Azurite, AzuriteService, free_port
from scim.store import ChangeQueue
from tests.conftest import fixture_json
from tests.integration.conftest import Platform, receive_all

SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "change-message.v1.schema.json").read_text())
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def user_body(name: str, **extra: Any) -> dict[str, Any]:
    return {"schemas": [USER], "userName": name, "emails": [{"type": "work", "value": name}], **extra}


def check(messages: list[dict[str, Any]]) -> None:
    validator = jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker())
    for message in messages:
        validator.validate(message)


def test_every_change_reaches_the_queue_as_a_message_the_schema_accepts(
    platform: Platform, azurite: Azurite, tenant: str
) -> None:
    users, groups = platform.users, platform.groups
    ada = users.create(tenant, fixture_json("entra/create_user_tutorial.json"))
    uid = str(ada.id)
    users.patch(tenant, uid, fixture_json("entra/patch_disable_flag_dialect.json"))
    big = users.create(tenant, user_body("big@contoso.com", title="x" * 60_000))  # over the 64 KiB of a message
    gid = str(groups.create(tenant, {**fixture_json("entra/create_group.json"), "members": [{"value": uid}]}).id)
    users.delete(tenant, uid)
    assert platform.delivery.flush()

    received = receive_all(azurite.connection_string, platform.queue.name)  # type: ignore[union-attr]
    check(received)
    # The queue does not keep order (README, Platform delivery): each message carries its stream and seq,
    # which give the order, so compare them as a set and read each message by its (stream, seq).
    messages = {(m["stream"], m["seq"]): m for m in received}
    assert len(messages) == len(received)  # each change once
    log = {(c.stream, c.resource_id, c.operation): c.seq for c in platform.log.read(tenant)}
    assert {key: m["operation"] for key, m in messages.items()} == {(s, n): op for (s, _, op), n in log.items()}
    assert sorted(log) == sorted(
        [
            ("Users", uid, "created"),
            ("Users", uid, "disabled"),
            ("Users", str(big.id), "created"),
            ("Groups", gid, "created"),
            ("Groups", gid, "member-added"),
            ("Groups", gid, "member-removed"),
            ("Users", uid, "deleted"),
        ]
    )
    first = messages["Users", log["Users", uid, "created"]]
    assert first["tenant"] == tenant and first["id"] == uid and first["version"] == ada.meta.version  # type: ignore[union-attr]
    assert first["resource"]["userName"] == ada.user_name and first["resource"]["meta"]["resourceType"] == "User"
    assert messages["Users", log["Users", uid, "disabled"]]["resource"]["active"] is False
    big_seq = log["Users", str(big.id), "created"]
    assert "resource" not in messages["Users", big_seq]
    ref = {"location": f"/scim/v2/{tenant}/Users/{big.id}", "stream": "Users", "seq": big_seq}
    assert messages["Users", big_seq]["resourceRef"] == ref
    added = messages["Groups", log["Groups", gid, "member-added"]]
    assert added["members"] == [uid] and added["id"] == gid
    gone = messages["Users", log["Users", uid, "deleted"]]
    assert "resource" not in gone and "resourceRef" not in gone
    # Delivered records moved the watermark, so a sweep finds nothing left to send.
    assert platform.delivery.sweep().published == 0


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A port that accepts connections and never answers: a queue service that hangs."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        yield int(sock.getsockname()[1])


def write_ms(platform: Platform, tenant: str, prefix: str, count: int) -> list[float]:
    samples = []
    for n in range(count):
        started = time.perf_counter()
        user = platform.users.create(tenant, user_body(f"{prefix}{n}@contoso.com"))
        platform.users.patch(tenant, str(user.id), fixture_json("entra/patch_disable_default_dialect.json"))
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def test_a_queue_outage_fails_and_slows_no_write_and_all_is_delivered_after(
    platform: Platform, azurite: Azurite, tenant: str, black_hole: int
) -> None:
    # The queue hangs (accepts, never answers) and then is down (refuses): writes go on as before. Medians
    # of 15 writes each; measured up to three times, so one burst of load on a shared machine cannot fail it.
    port = black_hole
    hanging = ChangeQueue("scim-changes", connection_string=connection_string(azurite, port))
    ratios = []
    for attempt in range(3):
        platform.deliver_to(None)
        baseline = write_ms(platform, tenant, f"base{attempt}-", 15)
        platform.deliver_to(hanging)
        during = write_ms(platform, tenant, f"hang{attempt}-", 15)
        ratios.append((statistics.median(during), statistics.median(baseline) * 1.5 + 5))
        if ratios[-1][0] < ratios[-1][1]:
            break
    assert ratios[-1][0] < ratios[-1][1], ratios
    changes = 2 * 30 * len(ratios)
    # Recovery: a queue service answers at last; the sweep delivers every change, baseline included.
    down_port = free_port()
    with AzuriteService("queue", down_port):
        recovered = ChangeQueue("scim-changes", connection_string=connection_string(azurite, down_port))
        delivery = platform.deliver_to(recovered)
        report = delivery.sweep()
        messages = receive_all(connection_string(azurite, down_port), "scim-changes")
    assert not report.failed
    seqs = sorted({m["seq"] for m in messages if m["tenant"] == tenant})
    assert len(seqs) == changes and seqs == [c.seq for c in platform.log.read(tenant, limit=changes + 1)]


def connection_string(azurite: Azurite, queue_port: int) -> str:
    return azurite.connection_string.split("QueueEndpoint=")[0] + (
        f"QueueEndpoint=http://127.0.0.1:{queue_port}/devstoreaccount1;"
    )


def test_a_crash_between_commit_and_publish_is_delivered_by_the_sweep(
    platform: Platform, azurite: Azurite, tenant: str
) -> None:
    def crash(text: str) -> None:
        raise RuntimeError("the process died after the commit, before the publish")

    platform.delivery._send = crash  # every publish dies; the writes have committed
    uid = str(platform.users.create(tenant, user_body("ada@contoso.com")).id)
    platform.users.patch(tenant, uid, fixture_json("entra/patch_disable_default_dialect.json"))
    platform.delivery.flush()
    assert receive_all(azurite.connection_string, platform.queue.name) == []  # type: ignore[union-attr]

    # A new process: its sweep finds the partition by the registry row and delivers from the watermark.
    restarted = platform.deliver_to(platform.queue)
    assert restarted.sweep().published == 2
    messages = receive_all(azurite.connection_string, platform.queue.name)  # type: ignore[union-attr]
    check(messages)
    in_order = sorted(messages, key=lambda m: m["seq"])  # the queue does not keep order; seq does
    assert [(m["operation"], m["id"]) for m in in_order] == [("created", uid), ("disabled", uid)]
    assert restarted.sweep().published == 0


def test_a_thousand_changes_arrive_in_sequence_order_none_missing(platform: Platform, azurite: Azurite) -> None:
    """20 tenants written at once, 50 changes each; 3% of publishes lost, 3% doubled, then one sweep."""
    rng = random.Random(13)
    queue = platform.queue
    assert queue is not None
    tenants = [f"t-{uuid.uuid4().hex[:12]}" for _ in range(20)]

    def flaky(text: str) -> None:
        roll = rng.random()
        if roll < 0.03:
            raise RuntimeError("lost between commit and publish")
        queue.send(text)
        if roll > 0.97:
            queue.send(text)  # a duplicate, as after a retried send

    def provision(tenant: str) -> None:
        ids = [str(platform.users.create(tenant, user_body(f"u{n}@contoso.com")).id) for n in range(40)]
        for uid in ids[:10]:
            platform.users.patch(tenant, uid, fixture_json("entra/patch_disable_default_dialect.json"))

    platform.delivery._send = flaky
    with ThreadPoolExecutor(max_workers=len(tenants)) as pool:
        list(pool.map(provision, tenants))
    assert platform.delivery.flush(30)
    platform.delivery._send = queue.send  # the sweep, in the timer function, sends what was lost
    assert 0 < platform.delivery.sweep().published < 100  # only what was lost: the rest is marked sent

    messages = receive_all(azurite.connection_string, queue.name)
    assert len(messages) > 1000  # with duplicates: the flaky publisher's and the sweep's
    for tenant in tenants:
        first_seen: dict[int, dict[str, Any]] = {}
        for message in messages:
            if message["tenant"] == tenant:
                first_seen.setdefault(message["seq"], message)
        log = platform.log.read(tenant, stream="Users", limit=100)
        assert len(log) == 50 and sorted(first_seen) == [c.seq for c in log]
        in_order = [first_seen[seq] for seq in sorted(first_seen)]
        assert [(m["seq"], m["operation"], m["id"]) for m in in_order] == [
            (c.seq, c.operation, c.resource_id) for c in log
        ]
