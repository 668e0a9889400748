"""Hostile input over HTTP (issues #6, #15): a SCIM 400/413/415 for each, never a 500, nothing stored, one log line."""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

import httpx
import pytest

from tests.e2e.test_users_http import assert_scim_error, count_users, new_user


def create(client: httpx.Client) -> dict[str, Any]:
    response = client.post("/Users", json=new_user())
    assert response.status_code == 201, response.text
    return dict(response.json())


def user_body(**extra: Any) -> bytes:
    return json.dumps(new_user(**extra)).encode()


@pytest.mark.parametrize(
    "content",
    [
        b"[" * 30_000 + b"]" * 30_000,  # was a RecursionError and a 500
        user_body(displayName="\ud800"),  # was stored, then every read of the user answered 500
        user_body(**{"\udc00": "x"}),
        user_body()[:-1] + b', "userName": "someone-else@contoso.com"}',
        user_body()[:-1] + b', "displayName": NaN}',
        user_body()[:-1] + b', "x\\u0000": 1}',
        user_body()[:-1] + b', "displayName": "\xff"}',
    ],
    ids=["deep", "surrogate-value", "surrogate-key", "duplicate-key", "nan", "control-in-key", "not-utf8"],
)
def test_hostile_bodies_are_400_invalid_syntax_and_store_nothing(client: httpx.Client, content: bytes) -> None:
    before = count_users(client)
    assert_scim_error(client.post("/Users", content=content), 400, "invalidSyntax")
    assert count_users(client) == before


def test_the_quadratic_bodies_of_issue_19_are_answered_at_once(client: httpx.Client) -> None:
    # Each took 6 s of CPU (and stalled every other request of the process) before the body scan was linear.
    before = count_users(client)
    started = time.perf_counter()
    unterminated = ("[" * 65 + '"' + '\\"' * 20000).encode()
    assert_scim_error(client.post("/Users", content=unterminated), 400, "invalidSyntax")
    assert count_users(client) == before
    name = '\\ud800"' + '\\"' * 16_000  # backslashes and quotes: text, with no surrogate once decoded
    created = client.post("/Users", content=user_body(userName=name))
    assert time.perf_counter() - started < 3
    assert created.status_code == 201, created.text[:300]
    assert client.get(f"/Users/{created.json()['id']}").json()["userName"] == name


def test_media_types(client: httpx.Client) -> None:
    assert_scim_error(client.post("/Users", content=user_body(), headers={"Content-Type": "text/plain"}), 415)
    assert client.post("/Users", content=user_body(), headers={"Content-Type": "application/json"}).status_code == 201
    # A UTF-8 byte order mark is ignored (RFC 8259 §8.1 allows it; some Windows clients send one).
    assert client.post("/Users", content=b"\xef\xbb\xbf" + user_body()).status_code == 201


def test_patch_path_with_an_escaped_lone_surrogate_is_400_and_the_user_stays_readable(client: httpx.Client) -> None:
    # The body is text (the escape is escaped); the path's quoted value decodes to a lone surrogate.
    user = create(client)
    patch = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "add", "path": 'emails[type eq "\\ud800"].value', "value": "x@contoso.com"}],
    }
    assert_scim_error(client.patch(f"/Users/{user['id']}", json=patch), 400, "invalidPath")
    assert client.get(f"/Users/{user['id']}").status_code == 200
    assert client.get("/Users", params={"count": "1000"}).status_code == 200


@pytest.mark.parametrize(
    ("query", "scim_type"),
    [
        ('filter=userName+eq+"%5Cud800"', "invalidFilter"),  # \ud800 in the filter's JSON string: was a 500
        ('filter=externalId+eq+"%5Cudc00x"', "invalidFilter"),
        ('filter=userName+eq+"a%01b"', "invalidFilter"),
        ("attributes=userName%0A", "invalidSyntax"),
    ],
)
def test_hostile_query_strings_are_400(client: httpx.Client, query: str, scim_type: str) -> None:
    assert_scim_error(client.get(f"/Users?{query}"), 400, scim_type)


def test_control_characters_in_an_id_are_400(client: httpx.Client) -> None:
    assert_scim_error(client.get("/Users/abc%0Adef"), 400, "invalidSyntax")
    assert_scim_error(client.delete("/Users/abc%00"), 400, "invalidSyntax")


def test_a_forged_newline_in_the_id_stays_on_one_log_line(base_url: str, caplog: pytest.LogCaptureFixture) -> None:
    forged = "x%0Ascim GET user tenant=acme id=forged status=200 ms=0.1"
    marker = uuid.uuid4().hex
    caplog.set_level(logging.INFO, logger="scim")
    # Unauthenticated, and with a forged tenant too: both are logged before any check passes.
    response = httpx.get(f"{base_url}/scim/v2/acme{marker}%0Afake/Users/{forged}", timeout=10)
    assert response.status_code in (401, 404)
    lines = [line for record in caplog.records if record.name == "scim" for line in record.getMessage().splitlines()]
    mine = [line for line in lines if marker in line]
    assert len(mine) == 1, lines
    assert "id=forged" not in "\n".join(lines)


def test_a_forged_host_header_does_not_reach_location(client: httpx.Client, base_url: str) -> None:
    response = client.post("/Users", json=new_user(), headers={"Host": "evil.example"})
    assert response.status_code == 201
    assert response.headers["location"].startswith(f"{base_url}/scim/v2/acme/Users/")
    assert response.json()["meta"]["location"] == response.headers["location"]


@pytest.mark.parametrize("sort", [{}, {"sortBy": "userName"}])
def test_a_huge_start_index_is_an_empty_page_not_a_500(client: httpx.Client, sort: dict[str, str]) -> None:
    # Issue 19: islice raised ValueError past sys.maxsize (a 500); with sortBy the whole partition was loaded.
    create(client)
    response = client.get("/Users", params={"startIndex": "99999999999999999999999", "count": "1000", **sort})
    assert response.status_code == 200, response.text
    assert response.json()["itemsPerPage"] == 0 and response.json()["totalResults"] >= 1
    search = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "startIndex": 10**19, **sort}
    for path in ("/Users/.search", "/.search"):
        found = client.post(path, json=search)
        assert found.status_code == 200, found.text
        assert found.json()["itemsPerPage"] == 0
