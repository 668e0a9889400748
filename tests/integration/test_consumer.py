"""examples/consumer.py through a whole Entra cycle: duplicated, shuffled and reversed deliveries all converge."""

from __future__ import annotations

import random
from typing import Any

from devhost.azurite import Azurite
from examples.consumer import PlatformStore
from tests.conftest import fixture_json
from tests.integration.conftest import Platform, receive_all

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def entra_user(n: int, **extra: Any) -> dict[str, Any]:
    body = fixture_json("entra/create_user_tutorial.json")
    name = f"user{n}@contoso.com"
    return {**body, "userName": name, "externalId": f"ext-{n}", "emails": [{"type": "work", "value": name}], **extra}


def members(*uids: str) -> list[dict[str, str]]:
    return [{"value": uid} for uid in uids]


def entra_cycle(platform: Platform, tenant: str) -> None:
    """What Entra does over an initial and an incremental cycle, through the same services as HTTP."""
    users, groups = platform.users, platform.groups
    uids = [str(users.create(tenant, entra_user(n)).id) for n in range(6)]
    big = users.create(tenant, entra_user(9, title="x" * 60_000))  # its messages carry a reference
    sales = str(groups.create(tenant, {**fixture_json("entra/create_group.json"), "displayName": "Sales"}).id)
    ops = str(groups.create(tenant, {**fixture_json("entra/create_group.json"), "displayName": "Ops"}).id)
    groups.patch(
        tenant,
        sales,
        {"schemas": [PATCH], "Operations": [{"op": "Add", "path": "members", "value": members(*uids[:4])}]},
    )
    groups.patch(
        tenant,
        ops,
        {"schemas": [PATCH], "Operations": [{"op": "Add", "path": "members", "value": members(uids[4], str(big.id))}]},
    )
    users.patch(tenant, uids[0], fixture_json("entra/patch_add_mobile_phone.json"))
    users.patch(tenant, uids[1], fixture_json("entra/patch_disable_default_dialect.json"))
    users.patch(tenant, uids[2], fixture_json("entra/patch_disable_flag_dialect.json"))
    users.patch(
        tenant, uids[2], {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": True}]}
    )
    groups.patch(
        tenant,
        sales,
        {"schemas": [PATCH], "Operations": [{"op": "Remove", "path": "members", "value": members(uids[3])}]},
    )
    groups.patch(
        tenant,
        sales,
        {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": "displayName", "value": "Sales EMEA"}]},
    )
    users.replace(tenant, uids[5], entra_user(5, displayName="Renamed"))
    users.patch(tenant, str(big.id), fixture_json("entra/patch_disable_default_dialect.json"))
    users.delete(tenant, uids[0])  # a member of Sales: leaves it first
    groups.delete(tenant, ops)


Snapshot = tuple[dict[Any, Any], dict[Any, Any], set[Any]]


def scim_store(platform: Platform, tenant: str) -> Snapshot:
    """The SCIM store as the platform should end up holding it: attributes, versions, memberships."""
    found: list[dict[Any, Any]] = []
    for kind, service in (("Users", platform.users), ("Groups", platform.groups)):
        resources = {}
        for stored in platform.storage.resources(kind).scan(tenant):
            version = service.model(stored).meta.version  # type: ignore[attr-defined]
            resources[stored.id] = {**stored.document, "id": stored.id, "version": version}
        found.append(resources)
    memberships = {(gid, uid) for gid in found[1] for uid in platform.groups.memberships.members(tenant, gid)}
    return found[0], found[1], memberships


def platform_store(store: PlatformStore, tenant: str) -> Snapshot:
    def flat(resources: dict[tuple[str, str], dict[str, Any]], stream: str) -> dict[Any, Any]:
        return {
            rid: {**{k: v for k, v in r.items() if k != "meta"}, "version": store.version(tenant, stream, rid)}
            for (_, rid), r in resources.items()
        }

    return flat(store.users, "Users"), flat(store.groups, "Groups"), {(g, u) for _, g, u in store.members}


def test_the_consumer_converges_to_the_scim_store_whatever_the_delivery(
    platform: Platform, azurite: Azurite, tenant: str
) -> None:
    entra_cycle(platform, tenant)
    assert platform.delivery.flush()
    platform.delivery.sweep()
    messages = [m for m in receive_all(azurite.connection_string, platform.queue.name) if m["tenant"] == tenant]  # type: ignore[union-attr]
    assert any("resourceRef" in m for m in messages)
    expected = scim_store(platform, tenant)

    def fetch(ref: dict[str, Any]) -> dict[str, Any] | None:
        """A message too large for the queue: the resource from the change record it names."""
        record = platform.log.records(tenant, ref["stream"], ref["seq"] - 1, 1)[0]
        return {
            **(record.document or {}),
            "id": record.resource_id,
            "meta": {"version": platform.log.read(tenant, ref["seq"] - 1, 1, ref["stream"])[0].version},
        }

    rng = random.Random(2026)
    duplicated = messages + rng.sample(messages, len(messages) // 2) + messages[::3]
    shuffled = duplicated[:]
    rng.shuffle(shuffled)
    for deliveries in (messages, shuffled, list(reversed(duplicated))):
        store = PlatformStore()
        for message in deliveries:
            store.apply(message, fetch)
        assert platform_store(store, tenant) == expected
    assert len(expected[0]) == 6 and len(expected[1]) == 1 and len(expected[2]) == 2
