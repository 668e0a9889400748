"""How a platform applies the scim-changes queue to its own store: idempotent, and right in any order.

The queue delivers each change at least once and in no guaranteed order. Every message carries
(tenant, stream, seq): seq is unique in a tenant's stream (Users, or Groups with memberships) and higher
for each later change of the same resource or membership. So the platform keeps, for every user, group
and membership, the seq of the last change it applied, and applies a message only if its seq is newer.
A duplicate or a late older message then changes nothing, and a deleted resource keeps its seq as a
tombstone, so a late "updated" cannot bring it back.
Whatever the order of delivery, once every message has arrived the platform's store equals the SCIM store.

Run it against `make run` (Ctrl-C stops):

    .venv/bin/python examples/consumer.py \
        --connection-string "$(python -c 'from devhost.azurite import connection_string; \
print(connection_string("127.0.0.1", 10002, 10001))')"

The message format is docs/change-message.v1.schema.json.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
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


def consume(connection_string: str, queue_name: str, store: PlatformStore, *, idle_exit: float | None = None) -> None:
    """Receive, apply, delete: a message is deleted only after it was applied (at-least-once on our side too)."""
    from azure.storage.queue import QueueClient, TextBase64DecodePolicy

    queue = QueueClient.from_connection_string(
        connection_string, queue_name, message_decode_policy=TextBase64DecodePolicy()
    )
    idle_since = time.monotonic()
    while idle_exit is None or time.monotonic() - idle_since < idle_exit:
        batch = list(queue.receive_messages(messages_per_page=32, max_messages=32, visibility_timeout=60))
        if not batch:
            time.sleep(1)
            continue
        idle_since = time.monotonic()
        for received in batch:
            message = json.loads(received.content)
            try:
                store.apply(message)
            except LookupError:
                continue  # not deleted: the queue delivers it again after the visibility timeout
            queue.delete_message(received)
            print(message["tenant"], message["stream"], message["seq"], message["operation"], message["id"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connection-string", required=True)
    parser.add_argument("--queue", default="scim-changes")
    args = parser.parse_args()
    store = PlatformStore()
    try:
        consume(args.connection_string, args.queue, store)
    except KeyboardInterrupt:
        print(f"{len(store.users)} users, {len(store.groups)} groups, {len(store.members)} memberships")


if __name__ == "__main__":
    main()
