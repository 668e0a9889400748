"""A SCIM write over HTTP reaches the scim-changes queue of the local stack, in the documented format."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import jsonschema

from devhost.azurite import Azurite
from scim import api
from tests.conftest import fixture_json
from tests.integration.conftest import receive_all

SCHEMA = json.loads((Path(__file__).parents[2] / "docs" / "change-message.v1.schema.json").read_text())


def test_a_created_then_disabled_user_reaches_the_queue(client: httpx.Client, azurite: Azurite) -> None:
    created = client.post(
        "/Users", json=fixture_json("entra/create_user_tutorial.json") | {"userName": "q@contoso.com"}
    )
    assert created.status_code == 201
    uid = created.json()["id"]
    disabled = client.patch(f"/Users/{uid}", json=fixture_json("entra/patch_disable_default_dialect.json"))
    assert disabled.status_code == 200
    delivery = api.get_api().delivery
    assert delivery is not None and delivery.flush()
    # The queue does not keep order: each message's seq does.
    mine = sorted(
        (m for m in receive_all(azurite.connection_string, "scim-changes") if m["id"] == uid), key=lambda m: m["seq"]
    )
    for message in mine:
        jsonschema.validate(message, SCHEMA)
    assert [(m["operation"], m["version"]) for m in mine] == [
        ("created", created.headers["etag"]),
        ("disabled", disabled.headers["etag"]),
    ]
    assert mine[1]["resource"]["active"] is False
