"""How a platform applies the scim-changes queues to its own store: idempotent, and right in any order.

Each data account of the deployment has its own changes queue (SCIM_CHANGES_QUEUE on that account), holding
the changes of the tenants placed on it; the platform reads all of them, here one after another in turn.
Reading several queues interleaves their messages arbitrarily, and that is safe for the same reason any order
from one queue is: the queue delivers each change at least once and in no guaranteed order, and every message
carries (tenant, stream, seq): seq is unique in a tenant's stream (Users, or Groups with memberships) and
higher for each later change of the same resource or membership. A tenant's messages are all on one queue
(its account's), and messages of different tenants never touch the same resource. So the platform keeps,
for every user, group and membership, the seq of the last change it applied, and applies a message only if
its seq is newer. A duplicate or a late older message then changes nothing, and a deleted resource keeps its
seq as a tombstone, so a late "updated" cannot bring it back.
Whatever the order of delivery, once every message has arrived the platform's store equals the SCIM store.

Run it against `make run` (Ctrl-C stops):

    .venv/bin/python examples/consumer.py \
        --connection-string "$(python -c 'from devhost.azurite import connection_string; \
print(connection_string("127.0.0.1", 10002, 10001))')"

Against Azure, name every account's queue (azd's SCIM_CHANGES_QUEUE_URLS output lists them, comma-separated);
the platform's identity needs Storage Queue Data Message Processor on each:

    .venv/bin/python examples/consumer.py --queue-url https://stdata<token>.queue.core.windows.net/scim-changes \
        --queue-url https://stdata2<token>.queue.core.windows.net/scim-changes

`--connection-string` and `--queue-url` may each be given several times, one per data account.
The message format is docs/change-message.v1.schema.json.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

MEMBER_OPERATIONS = ("member-added", "member-removed")

Fetch = Callable[[dict[str, Any]], dict[str, Any] | None]
"""Given a message's resourceRef, the resource as SCIM JSON (for a message whose resource did not fit)."""


@dataclass
class PlatformStore:
    """The platform's own copy: users and groups by (tenant, id), memberships as (tenant, group, user)."""

    users: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    groups: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    members: set[tuple[str, str, str]] = field(default_factory=set)
    applied: dict[tuple[str, str, str], int] = field(default_factory=dict)
    """(tenant, stream, resource id) -> seq of the last change applied to it; kept after a delete (tombstone)."""
    pairs: dict[tuple[str, str, str], int] = field(default_factory=dict)
    """(tenant, group id, user id) -> seq of the last membership change applied to the pair."""
    versions: dict[tuple[str, str, str], tuple[int, str]] = field(default_factory=dict)
    """(tenant, stream, id) -> (seq, meta.version) of the newest change seen: a membership change moves a
    group's version too, without touching its attributes."""

    def version(self, tenant: str, stream: str, resource_id: str) -> str | None:
        found = self.versions.get((tenant, stream, resource_id))
        return found[1] if found else None

    def apply(self, message: dict[str, Any], fetch: Fetch | None = None) -> bool:
        """Apply one message; False if it was a duplicate or older than what is already applied."""
        tenant, stream, seq = message["tenant"], message["stream"], int(message["seq"])
        key = (tenant, stream, message["id"])
        if seq > self.versions.get(key, (0, ""))[0]:
            self.versions[key] = (seq, message["version"])
        if message["operation"] in MEMBER_OPERATIONS:
            changed = False
            for user_id in message["members"]:
                pair = (tenant, message["id"], user_id)
                if seq <= self.pairs.get(pair, 0):
                    continue
                self.pairs[pair] = seq
                if message["operation"] == "member-added":
                    self.members.add(pair)
                else:
                    self.members.discard(pair)
                changed = True
            return changed
        if seq <= self.applied.get(key, 0):
            return False
        resources = self.users if message["resourceType"] == "User" else self.groups
        if message["operation"] == "deleted":
            resources.pop((tenant, message["id"]), None)
        else:
            resource = message.get("resource")
            if resource is None and fetch is not None:
                resource = fetch(message["resourceRef"])
            if resource is None:
                raise LookupError(f"cannot fetch {message['resourceRef']['location']} now; retry the message later")
            resources[(tenant, message["id"])] = resource
        self.applied[key] = seq
        return True


def open_queues(
    connection_strings: Sequence[str], queue_name: str, queue_urls: Sequence[str] = (), credential: Any = None
) -> list[Any]:
    """A client for each data account's changes queue: by connection string (Azurite) and `queue_name`, or by
    the queue's URL with an Entra credential (DefaultAzureCredential unless given)."""
    from azure.storage.queue import QueueClient, TextBase64DecodePolicy

    decode = TextBase64DecodePolicy()
    queues = [
        QueueClient.from_connection_string(text, queue_name, message_decode_policy=decode)
        for text in connection_strings
    ]
    if queue_urls:
        if credential is None:
            from azure.identity import DefaultAzureCredential

            credential = DefaultAzureCredential()
        queues += [
            QueueClient.from_queue_url(url, credential=credential, message_decode_policy=decode) for url in queue_urls
        ]
    if not queues:
        raise ValueError("name at least one queue: a connection string or a queue URL per data account")
    return queues


def consume(queues: Sequence[Any], store: PlatformStore, *, idle_exit: float | None = None, echo: bool = True) -> None:
    """Receive, apply, delete, from every queue in turn: a message is deleted only after it was applied
    (at-least-once on our side too). Messages of several queues interleave in any order: see the docstring."""
    idle_since = time.monotonic()
    while idle_exit is None or time.monotonic() - idle_since < idle_exit:
        received_any = False
        for queue in queues:
            batch = list(queue.receive_messages(messages_per_page=32, max_messages=32, visibility_timeout=60))
            received_any = received_any or bool(batch)
            for received in batch:
                message = json.loads(received.content)
                try:
                    store.apply(message)
                except LookupError:
                    continue  # not deleted: the queue delivers it again after the visibility timeout
                queue.delete_message(received)
                if echo:
                    print(message["tenant"], message["stream"], message["seq"], message["operation"], message["id"])
        if received_any:
            idle_since = time.monotonic()
        else:
            time.sleep(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connection-string", action="append", default=[], help="one per data account (Azurite)")
    parser.add_argument("--queue-url", action="append", default=[], help="one per data account (Azure)")
    parser.add_argument("--queue", default="scim-changes", help="the queue's name with --connection-string")
    args = parser.parse_args()
    if not (args.connection_string or args.queue_url):
        parser.error("give --connection-string or --queue-url, once per data account")
    store = PlatformStore()
    queues = open_queues(args.connection_string, args.queue, args.queue_url)
    try:
        consume(queues, store)
    except KeyboardInterrupt:
        print(f"{len(store.users)} users, {len(store.groups)} groups, {len(store.members)} memberships")
    finally:
        for queue in queues:
            queue.close()


if __name__ == "__main__":
    main()
