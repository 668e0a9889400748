"""The platform's day with the management API, over HTTP through function_app's routes and the local host:
a token from a local HTTPS issuer, a customer tenant created with the example client (examples/manage_client.py),
its answer pasted into an Entra-like client that provisions users, the customer's activity and changes read
back (every change once, none missing), a setup link minted through the API and opened as the customer's admin
would, a token rotation whose old token is refused within the documented bound, hostile tokens refused with
problem details, and every operation of the served OpenAPI document answering on the running host."""

from __future__ import annotations

import html
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import httpx
import pytest

from examples.manage_client import ManageClient, ManageError
from scim import api
from scim.api.scim import ScimApi
from scim.platform.tenants import TenantService
from scim.settings import Settings
from scim.wiring import build_change_log
from tests.entra_cycle import Client, Plan, final_state, run_cycle, user_body
from tests.manage_issuer import PLATFORM_APP, READ, WRITE, LocalIssuer, SigningKey

PROBLEM = "application/problem+json"


@dataclass
class Platform:
    base_url: str
    issuer: LocalIssuer

    @property
    def manage_url(self) -> str:
        return f"{self.base_url}/manage/v1"

    def client(self, **claims: Any) -> ManageClient:
        return ManageClient(self.manage_url, lambda: self.issuer.token(**claims), max_wait=10)


@pytest.fixture(scope="module")
def platform(
    base_url: str, e2e_environ: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Platform]:
    """The served app with the management API pointed at a local issuer (the session's app is put back after)."""
    issuer = LocalIssuer(tmp_path_factory.mktemp("manage-issuer"))
    previous = api._api
    api._api = api.build_api(
        Settings.from_environ({**e2e_environ, **issuer.environ(), "SCIM_MANAGE_REQUESTS_PER_MINUTE": "600"})
    )
    try:
        yield Platform(base_url, issuer)
    finally:
        api._api = previous
        issuer.close()


def own_version(tag: str) -> str:
    """A resource's own version from a GET's tag: a user's tag adds a digest of its groups (README, *ETags and
    `groups`*); the change record carries the version of the write itself."""
    head, _, _ = tag.rstrip('"').partition(".")
    return f'{head}"'


class HttpEntra(Client):
    """tests.entra_cycle's Entra, sending its requests over HTTP to a Tenant URL with a Secret Token."""

    def __init__(self, tenant_url: str, token: str) -> None:
        super().__init__(api=cast(ScimApi, None), tenant=tenant_url.rsplit("/", 1)[-1])
        self.http = httpx.Client(
            base_url=tenant_url,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
            timeout=20,
        )

    def call(
        self, route: str, method: str, rid: str | None = None, body: Any = None, query: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        path = "/Users" if route.startswith("user") else "/Groups"
        if rid is not None:
            path += f"/{rid}"
        response = self.http.request(method, path, json=body, params=query)
        self.statuses[response.status_code] += 1
        return response.status_code, response.json() if response.content else None


def test_the_platform_creates_a_customer_tenant_that_entra_provisions_into(
    platform: Platform, tenants: TenantService
) -> None:
    client = platform.client()
    key = str(uuid.uuid4())
    created = client.create_tenant("fabrikam", display_name="Fabrikam", max_active_users=10, idempotency_key=key)
    tenant_url, token = created["tenant"]["tenantUrl"], created["secretToken"]
    assert tenant_url == f"{platform.base_url}/scim/v2/fabrikam" and token
    # The backend's retry after a lost answer: the same tenant, no second token.
    again = client.create_tenant("fabrikam", display_name="Fabrikam", max_active_users=10, idempotency_key=key)
    assert again["replayed"] is True and again["secretToken"] is None

    # The customer pastes both into Entra; Entra tests the connection and runs a cycle.
    entra = HttpEntra(tenant_url, token)
    assert entra.find("users_collection", "userName", "nobody@contoso.test") is None
    plan = Plan(users=4, groups=1, prefix="fab")
    assert run_cycle(entra, plan) == 0
    assert final_state(entra) == plan.expected()

    # The customer's plan allows what is active now: one more user is refused, and the platform sees why.
    assert client.set_limit("fabrikam", 2)["maxActiveUsers"] == 2
    deadline = time.monotonic() + 10
    late = user_body(99, "late")
    while (status := entra.call("users_collection", "POST", body=late)[0]) == 201 and time.monotonic() < deadline:
        entra.call("user_item", "DELETE", entra.find("users_collection", "userName", late["userName"]))
        time.sleep(0.5)
    assert status == 403
    api.get_api().activity.flush()  # type: ignore[union-attr]
    about_her = list(client.activity("fabrikam", user_name=late["userName"], errors=True))
    assert about_her and about_her[0]["status"] == 403 and "limit" in about_her[0]["hint"]
    doors = {(i["operation"], i["door"]) for i in client.activity("fabrikam") if i["resourceType"] == "Tenant"}
    assert doors >= {
        ("tenant-created", f"manage-api:{PLATFORM_APP}"),
        ("tenant-limit-set", f"manage-api:{PLATFORM_APP}"),
    }
    status_now = client.status("fabrikam")
    assert status_now["users"]["active"] == 2 and status_now["license"]["limit"] == 2

    # Changes after a cursor, a page at a time: every committed write once, none missing (the store's own
    # records), and each resource's last change carries the version a GET answers now.
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = client.changes("fabrikam", cursor, limit=3)
        items += page["items"]
        cursor = page["next"]
        if not page["items"]:
            break
    keys = [(i["stream"], i["seq"]) for i in items]
    assert len(keys) == len(set(keys))
    stored = build_change_log(tenants.storage_of("fabrikam")).read("fabrikam", 0, 10_000)
    assert set(keys) == {(c.stream, c.seq) for c in stored}
    assert sum(s == "Users" for s, _ in keys) >= 6 and sum(s == "Groups" for s, _ in keys) >= 3
    last: dict[tuple[str, str], dict[str, Any]] = {}
    for item in items:  # numbers grow over the changes of one resource
        if item["seq"] > last.get((item["stream"], item["id"]), {"seq": -1})["seq"]:
            last[(item["stream"], item["id"])] = item
    live = [item for item in last.values() if item["operation"] != "deleted"]
    assert live
    for item in live:
        status, resource = entra.call("user_item" if item["stream"] == "Users" else "group_item", "GET", item["id"])
        assert status == 200 and own_version(resource["meta"]["version"]) == item["version"], item
    fab0 = entra.find("users_collection", "userName", "fab0@contoso.test")
    entra.call(
        "user_item",
        "PATCH",
        fab0,
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "displayName", "value": "Renamed"}],
        },
    )
    newer = client.changes("fabrikam", cursor)["items"]
    assert [(i["stream"], i["id"], i["operation"]) for i in newer] == [("Users", fab0, "updated")]
    assert newer[0]["version"] == own_version(entra.call("user_item", "GET", fab0)[1]["meta"]["version"])

    # The customer asks for a new token: both work until the old one is retired, then only the new one.
    rotated = client.rotate_token("fabrikam")
    fresh = HttpEntra(tenant_url, rotated["secretToken"])
    started = time.monotonic()
    while fresh.call("users_collection", "GET")[0] != 200:  # at once, or within the bound on a worker that
        assert time.monotonic() - started < rotated["effectiveWithinSeconds"] + 5  # re-read the store just before
        time.sleep(0.2)
    assert entra.call("users_collection", "GET")[0] == 200
    retired = client.retire_token("fabrikam")
    bound = retired["effectiveWithinSeconds"]
    started = time.monotonic()
    while entra.call("users_collection", "GET")[0] != 401:
        assert time.monotonic() - started < bound + 5, "the retired token was still accepted past the bound"
        time.sleep(0.2)
    assert fresh.call("users_collection", "GET")[0] == 200


def test_the_platform_mints_a_setup_link_that_the_customers_admin_opens(platform: Platform) -> None:
    client = platform.client()
    client.create_tenant("northwind", idempotency_key=str(uuid.uuid4()))
    link = client.create_setup_link("northwind", expires_in="1h")
    url = link["url"]
    assert url.startswith(f"{platform.base_url}/setup/northwind/") and link["state"] == "ready"
    with httpx.Client(timeout=20) as http:
        shown = http.get(url)  # what a mail scanner does: the page, and nothing revealed
        assert shown.status_code == 200 and 'id="reveal-form"' in shown.text and 'id="secret-token"' not in shown.text
        cross_site = http.post(url, headers={"Sec-Fetch-Site": "cross-site"})
        assert cross_site.status_code == 403
        revealed = http.post(url, headers={"Sec-Fetch-Site": "same-origin"})
        assert revealed.status_code == 200
        found = re.search(r'<code id="secret-token">([^<]+)</code>', revealed.text)
        assert found is not None
        token = html.unescape(found.group(1))
        second = http.post(url, headers={"Sec-Fetch-Site": "same-origin"})
        assert second.status_code == 200 and 'id="revealed-note"' in second.text and token not in second.text

    entra = HttpEntra(f"{platform.base_url}/scim/v2/northwind", token)
    started = time.monotonic()
    while entra.call("users_collection", "GET")[0] != 200:  # a new token: at once, or within the bound
        assert time.monotonic() - started < 35
        time.sleep(0.2)
    assert [(i["linkId"], i["state"]) for i in client.setup_links("northwind")] == [(link["linkId"], "revealed")]
    api.get_api().activity.flush()  # type: ignore[union-attr]
    events = {
        (i["operation"], i["detail"].split(";")[0])
        for i in client.activity("northwind")
        if i["resourceType"] == "SetupLink"
    }
    assert events == {
        ("setup-link created", f"by manage-api:{PLATFORM_APP}"),
        ("setup-link opened", "by the setup page"),
    }
    assert client.revoke_setup_link("northwind", link["linkId"])["revoked"] == [link["linkId"]]
    with httpx.Client(timeout=20) as http:
        gone = http.get(url)
        assert gone.status_code != 200 and "revoked" in gone.text
    assert entra.call("users_collection", "GET")[0] == 200  # a revealed token stays: Entra uses it


def test_hostile_tokens_are_refused_with_problem_details(platform: Platform) -> None:
    issuer = platform.issuer
    cases = {
        "forged": (issuer.forged(), 401),
        "expired": (issuer.token(iat=1_000_000, nbf=1_000_000, exp=1_000_600), 401),
        "wrong audience": (issuer.token(aud="api://another-api"), 401),
        "unknown key": (issuer.token(key=SigningKey()), 401),
        "alg none": (issuer.alg_none(), 401),
        "hs256 with the public key": (issuer.hs256_with_public_key(), 401),
        "wrong role": (issuer.token(roles=[READ]), 403),
        "no role": (issuer.token(roles=["Something.Else"]), 403),
    }
    with httpx.Client(base_url=platform.manage_url, timeout=20) as http:
        for name, (token, status) in cases.items():
            answer = http.post(
                "/tenants",
                json={"id": "mallory"},
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())},
            )
            assert answer.status_code == status, name
            assert answer.headers["content-type"] == PROBLEM, name
            problem = answer.json()
            assert problem["status"] == status and problem["detail"], name
            assert "WWW-Authenticate" in answer.headers, name
        assert http.get("/tenants/mallory", headers={"Authorization": f"Bearer {issuer.token()}"}).status_code == 404
    with pytest.raises(ManageError) as refused:
        platform.client(roles=[READ]).create_tenant("mallory")
    assert refused.value.status == 403 and refused.value.kind == "role-missing"


def test_every_operation_of_the_served_document_answers_on_the_running_host(platform: Platform) -> None:
    with httpx.Client(base_url=platform.manage_url, timeout=20) as http:
        document = http.get("/openapi.json")
        assert document.status_code == 200
        paths = document.json()["paths"]
        token = platform.issuer.token(roles=[READ, WRITE])
        answered = 0
        for path, item in paths.items():
            for method in item:
                answer = http.request(
                    method.upper(),
                    path.replace("{tenantId}", "route-check-nobody").replace("{linkId}", "0123456789ab"),
                    content=b'{"id": "NOT VALID"}' if method in ("post", "put") else None,
                    headers={
                        "Authorization": f"Bearer {token}",
                        "Idempotency-Key": str(uuid.uuid4()),
                        "Content-Type": "application/json",
                    },
                )
                assert answer.status_code != 405, (method, path)
                if answer.status_code == 404:
                    assert answer.json()["type"].endswith(":tenant-not-found"), (method, path, answer.text)
                answered += 1
        assert answered == sum(len(item) for item in paths.values()) >= 14
        undocumented = http.get("/tenants/x/nothing", headers={"Authorization": f"Bearer {token}"})
        assert undocumented.status_code == 404 and undocumented.json()["type"].endswith(":no-such-route")
