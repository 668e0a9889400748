"""Fixtures for change delivery: a storage of its own (so a publisher never leaks into other tests) and queues."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import QueueClient, TextBase64DecodePolicy

from devhost.azurite import Azurite
from scim.platform.changes import STREAMS, ChangeLog
from scim.platform.delivery import Delivery
from scim.resources.groups import GroupService
from scim.resources.users import UserService
from scim.store import ChangeQueue, ChangeRows, TableStorage


class Platform:
    """The services of one storage, its change log, and a delivery to a queue of its own."""

    def __init__(self, azurite: Azurite, queue: ChangeQueue | None) -> None:
        # Tables of its own: a sweep reads every partition its tables hold, so another test's undelivered
        # records must not be in them.
        prefix = f"changes{uuid.uuid4().hex[:10]}"
        self.storage = TableStorage(connection_string=azurite.connection_string, table_prefix=prefix)
        self.groups = GroupService(self.storage.resources("Groups"), self.storage.resources("Users"))
        self.users = UserService(self.storage.resources("Users"), memberships=self.groups.memberships)
        self.rows = {kind: ChangeRows(self.storage.resources(kind)) for kind in STREAMS}
        self.log = ChangeLog(self.rows)
        self.queue = queue
        self.delivery = self.deliver_to(queue)

    def deliver_to(self, queue: ChangeQueue | None, **options: Any) -> Delivery:
        """A delivery told of every commit from now on (as in a freshly started process)."""
        delivery = Delivery(self.rows, queue, **options)
        for kind in STREAMS:
            delivery.attach(self.storage.resources(kind))
        self.delivery = delivery
        return delivery

    def close(self) -> None:
        self.delivery.flush()  # the background thread marks what it sent before the clients close
        self.storage.close()
        if self.queue is not None:
            self.queue.close()


def queue_name() -> str:
    return f"q-{uuid.uuid4().hex[:20]}"


def receive_all(connection_string: str, name: str) -> list[dict[str, Any]]:
    """Every message now in the queue, in the order the queue hands them out (each received once)."""
    client = QueueClient.from_connection_string(connection_string, name, message_decode_policy=TextBase64DecodePolicy())
    found: list[dict[str, Any]] = []
    with client:
        with contextlib.suppress(ResourceExistsError):
            client.create_queue()
        while True:
            batch = list(client.receive_messages(messages_per_page=32, max_messages=32, visibility_timeout=300))
            if not batch:
                return found
            found += [json.loads(message.content) for message in batch]


@pytest.fixture
def platform(azurite: Azurite) -> Iterator[Platform]:
    """Services whose changes are published to a fresh queue of their own."""
    queue = ChangeQueue(queue_name(), connection_string=azurite.connection_string)
    built = Platform(azurite, queue)
    yield built
    built.close()
