"""The bad-input corpus (tests/fixtures/bad_input/*.json), over HTTP through the real app: every case gets the
SCIM answer its data file expects (status, scimType; totalResults for an injection that is a valid filter),
is never a 500, and stores nothing.

A case: id, method, path (under the tenant's base; {user} and {group} name existing resources), status,
scimType, and at most one body (``body`` text with {uniq}; ``body_parts`` text and {"hex"} bytes;
``body_gen`` a generated one), optional ``body_encoding``, ``query`` / ``query_gen``, ``headers`` (null
removes one) / ``header_gen``, and ``totalResults``. ``host_answers``: the HTTP host refuses the request
before the app sees it (headers past its limit: 431 from the devhost here, from the Functions host in
Azure), so only the status is checked.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from scim.platform.tenants import TenantService
from tests.e2e.conftest import TOKEN

CORPUS = Path(__file__).parent.parent / "fixtures" / "bad_input"
CASES = [case for path in sorted(CORPUS.glob("*.json")) for case in json.loads(path.read_text(encoding="utf-8"))]
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def test_the_corpus_is_large_and_ids_are_unique() -> None:
    assert len(CASES) >= 150
    assert len({case["id"] for case in CASES}) == len(CASES)


def _user(**extra: Any) -> dict[str, Any]:
    name = f"corpus-{uuid.uuid4().hex[:10]}@contoso.com"
    return {"schemas": [USER], "userName": name, "emails": [{"type": "work", "value": name}], **extra}


def _generated_body(spec: dict[str, Any]) -> bytes:
    kind = spec["kind"]
    if kind == "nested":
        return (spec["open"] * spec["depth"] + spec["close"] * spec["depth"]).encode()
    if kind == "nested_value":
        inner = spec["open"] * spec["depth"] + spec["close"] * spec["depth"]
        return json.dumps(_user()).encode()[:-1] + b', "x-deep": ' + inner.encode() + b"}"
    if kind == "repeat":
        return (spec["text"] * spec["times"]).encode()
    if kind == "big_user":
        return json.dumps(_user(displayName="x" * spec["bytes"])).encode()
    if kind == "big_group":
        return json.dumps({"schemas": [GROUP], "displayName": "x" * spec["bytes"]}).encode()
    if kind == "big_patch":
        ops = [{"op": "replace", "path": "displayName", "value": "x" * spec["bytes"]}]
        return json.dumps({"schemas": [PATCH], "Operations": ops}).encode()
    if kind == "big_search":
        return json.dumps({"schemas": [SEARCH], "filter": 'userName eq "' + "x" * spec["bytes"] + '"'}).encode()
    if kind == "many_ops":
        ops = [{"op": "replace", "path": "displayName", "value": str(n)} for n in range(spec["ops"])]
        return json.dumps({"schemas": [PATCH], "Operations": ops}, separators=(",", ":")).encode()
    if kind == "many_members":
        value = [{"value": uuid.uuid4().hex} for _ in range(spec["members"])]
        ops = [{"op": "add", "path": "members", "value": value}]
        return json.dumps({"schemas": [PATCH], "Operations": ops}, separators=(",", ":")).encode()
    if kind == "search_or_chain":
        flt = " or ".join(f'userName eq "u{n}"' for n in range(spec["terms"]))
        return json.dumps({"schemas": [SEARCH], "filter": flt}).encode()
    raise ValueError(f"unknown body generator {kind}")


def _generated_filter(spec: dict[str, Any]) -> str:
    if spec["kind"] == "or_chain":
        return " or ".join(f'userName eq "u{n}"' for n in range(spec["terms"]))
    if spec["kind"] == "long_value":
        return 'userName eq "' + "x" * spec["chars"] + '"'
    if spec["kind"] == "parens":
        return "(" * spec["depth"] + 'userName eq "x"' + ")" * spec["depth"]
    raise ValueError(f"unknown filter generator {spec['kind']}")


def request_parts(case: dict[str, Any], ids: dict[str, str]) -> tuple[str, dict[str, str], bytes, dict[str, str]]:
    uniq = uuid.uuid4().hex[:10]
    path = case["path"].format(**ids) if "{" in case["path"] else case["path"]
    body = b""
    if "body" in case:
        body = case["body"].replace("{uniq}", uniq).encode(case.get("body_encoding", "utf-8"))
    elif "body_parts" in case:
        body = b"".join(
            bytes.fromhex(part["hex"]) if isinstance(part, dict) else part.replace("{uniq}", uniq).encode()
            for part in case["body_parts"]
        )
    elif "body_gen" in case:
        body = _generated_body(case["body_gen"])
    query = dict(case.get("query") or {})
    query |= {name: _generated_filter(spec) for name, spec in (case.get("query_gen") or {}).items()}
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/scim+json"}
    for name, value in (case.get("headers") or {}).items():
        if value is None:
            headers.pop(name, None)
        else:
            headers[name] = value
    for name, size in (case.get("header_gen") or {}).items():
        if name == "many":
            headers |= {f"X-Many-{n}": "v" * 100 for n in range(size)}
        else:
            headers[name] = ("Bearer " if name == "Authorization" else "") + "a" * size
    return path, query, body, headers


@pytest.fixture(scope="module")
def ids(client_module: httpx.Client) -> dict[str, str]:
    user = client_module.post("/Users", json=_user())
    group = client_module.post("/Groups", json={"schemas": [GROUP], "displayName": f"corpus-{uuid.uuid4().hex[:8]}"})
    assert user.status_code == 201 and group.status_code == 201, (user.text, group.text)
    return {"user": user.json()["id"], "group": group.json()["id"]}


@pytest.fixture(scope="module")
def client_module(base_url: str) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/scim+json"}
    with httpx.Client(base_url=f"{base_url}/scim/v2/acme", headers=headers, timeout=30) as http:
        yield http


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_bad_input_gets_its_scim_error_and_stores_nothing(
    case: dict[str, Any], client_module: httpx.Client, ids: dict[str, str], tenants: TenantService
) -> None:
    path, query, body, headers = request_parts(case, ids)
    before = tenants.usage("acme")
    url = str(client_module.base_url).rstrip("/") + path
    request = client_module.build_request(case["method"], url, params=query, content=body)
    request.headers.clear()
    request.headers.update({"Content-Length": str(len(body))} if body else {})
    request.headers.update(headers)
    request.headers["Host"] = client_module.base_url.netloc.decode()
    response = client_module.send(request)
    assert response.status_code != 500, response.text
    assert response.status_code == case["status"], response.text[:500]
    if case["status"] >= 400 and not case.get("host_answers"):
        assert response.headers["content-type"].startswith("application/scim+json"), response.headers
        error = response.json()
        assert error["schemas"] == [ERROR] and error["status"] == str(case["status"])
        assert error.get("scimType") == case["scimType"], error
    if "totalResults" in case:
        assert response.json()["totalResults"] == case["totalResults"]
    assert tenants.usage("acme") == before
    stored = client_module.get(f"/Users/{ids['user']}")
    assert stored.status_code == 200
