"""The management API's rules through its front door, on the in-memory store: idempotent creates that never
show a secret twice, problem details, roles, per-caller rates, cursor paging, the CLI's rules (two valid
tokens at most), the door of each change in the activity, and no secret in any log line or other answer."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from scim.http import Request, Response
from scim.manage import ManageApi, build_manage_api
from scim.manage.calls import encode_cursor
from scim.manage.entra import IssuerKeys, https_fetcher
from scim.manage.idempotency import LEASE_SECONDS, fingerprint
from scim.platform.changes import ChangeLog
from scim.platform.tenants import TenantService
from scim.protocol.extensions import declare
from scim.resources.groups import GroupService
from scim.resources.users import UserService
from scim.secrets import LocalSecretStore, token_verifier
from scim.settings import Settings
from scim.store import ChangeRows, DataAccounts, IdempotencyRow, IdempotencyTable, MemoryStorage
from tests.manage_issuer import AUDIENCE, PLATFORM_APP, READ, WRITE, LocalIssuer

BASE = "https://scim.example.net"
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalIssuer]:
    local = LocalIssuer(tmp_path_factory.mktemp("issuer"))
    yield local
    local.close()


def build(
    issuer: LocalIssuer,
    tmp_path: Path,
    *,
    per_minute: int = 1000,
    storage: MemoryStorage | DataAccounts | None = None,
) -> ManageApi:
    settings = Settings(
        manage_issuer=issuer.issuer,
        manage_audiences=(AUDIENCE,),
        manage_requests_per_minute=per_minute,
        public_base_url=BASE,
        local_secrets_path=tmp_path / "secrets.json",
    )
    keys = IssuerKeys(issuer.issuer, https_fetcher(issuer.ca_bundle))
    return build_manage_api(
        settings,
        storage or MemoryStorage(table_prefix="m"),
        secrets=LocalSecretStore(tmp_path / "secrets.json"),
        keys=keys,
    )


@pytest.fixture
def manage(issuer: LocalIssuer, tmp_path: Path) -> ManageApi:
    return build(issuer, tmp_path)


@pytest.fixture
def token(issuer: LocalIssuer) -> str:
    return issuer.token(roles=[WRITE])


def send(
    manage: ManageApi,
    method: str,
    path: str,
    token: str | None,
    body: Any = None,
    *,
    key: str | None = None,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    if key is not None:
        sent["Idempotency-Key"] = key
    raw = json.dumps(body).encode() if body is not None else b""
    if body is not None:
        sent.setdefault("Content-Type", "application/json")
    request = Request.build(
        method, f"{BASE}/manage/v1/{path}", route_params={"path": path}, query=query or {}, headers=sent, body=raw
    )
    return manage.handle(request)


def data(response: Response) -> Any:
    return json.loads(response.body)


def problem(response: Response, status: int, kind: str | None = None) -> dict[str, Any]:
    assert response.status == status, response.body
    assert response.headers["Content-Type"] == PROBLEM
    body = data(response)
    assert body["status"] == status and body["title"] and body["detail"]
    if kind is not None:
        assert body["type"] == f"urn:scim-functions:manage:problem:{kind}"
    return dict(body)


def test_a_create_answers_the_tenant_url_and_token_once_and_a_retry_never_a_second(
    manage: ManageApi, token: str
) -> None:
    key = str(uuid.uuid4())
    body = {"id": "contoso", "displayName": "Contoso Ltd", "maxActiveUsers": 5}
    first = send(manage, "POST", "tenants", token, body, key=key)
    assert first.status == 201, first.body
    created = data(first)
    assert created["tenant"]["tenantUrl"] == f"{BASE}/scim/v2/contoso"
    assert created["tenant"]["maxActiveUsers"] == 5
    assert len(created["secretToken"]) >= 40 and created["replayed"] is False
    assert first.headers["Location"] == "/manage/v1/tenants/contoso"
    assert first.headers["Cache-Control"] == "no-store"

    again = send(manage, "POST", "tenants", token, body, key=key)
    assert again.status == 200 and again.headers["Idempotent-Replayed"] == "true"
    replayed = data(again)
    assert replayed["replayed"] is True and replayed["secretToken"] is None
    assert replayed["tenant"] == created["tenant"]
    assert created["secretToken"] not in again.body.decode()
    shown = data(send(manage, "GET", "tenants/contoso", token))
    assert shown["validSecretTokens"] == 1  # the retry made no second token

    problem(
        send(manage, "POST", "tenants", token, {**body, "maxActiveUsers": 6}, key=key), 422, "idempotency-key-reused"
    )
    problem(send(manage, "POST", "tenants", token, {"id": "other"}), 428, "idempotency-key-missing")
    problem(send(manage, "POST", "tenants", token, body, key=str(uuid.uuid4())), 409, "tenant-exists")


def test_a_create_without_an_id_gets_one_and_its_retry_the_same_one(manage: ManageApi, token: str) -> None:
    key = str(uuid.uuid4())
    first = data(send(manage, "POST", "tenants", token, {"auth": "oauth"}, key=key))
    tenant = first["tenant"]["id"]
    assert first["secretToken"] is None
    assert first["oauthClient"]["clientId"] == tenant and first["oauthClient"]["clientSecret"]
    assert first["oauthClient"]["tokenEndpoint"] == f"{BASE}/oauth2/token"
    again = data(send(manage, "POST", "tenants", token, {"auth": "oauth"}, key=key))
    assert again["tenant"]["id"] == tenant and again["oauthClient"]["clientSecret"] is None
    assert [t["id"] for t in data(send(manage, "GET", "tenants", token))["items"]] == [tenant]


def test_keys_are_scoped_to_the_calling_application(manage: ManageApi, issuer: LocalIssuer) -> None:
    key = "same-key"
    one = send(manage, "POST", "tenants", issuer.token(), {"id": "one"}, key=key)
    two = send(manage, "POST", "tenants", issuer.token(azp="another-app"), {"id": "two"}, key=key)
    assert (one.status, two.status) == (201, 201)


def test_refusals_are_problem_details(manage: ManageApi, issuer: LocalIssuer) -> None:
    missing = problem(send(manage, "GET", "tenants", None), 401, "invalid-token")
    assert "Bearer" in missing["detail"]
    refused = send(manage, "GET", "tenants", issuer.token(aud="api://other"))
    problem(refused, 401, "invalid-token")
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    for bad in (issuer.forged(), issuer.alg_none(), issuer.hs256_with_public_key(), issuer.token(exp=100, iat=50)):
        problem(send(manage, "GET", "tenants", bad), 401, "invalid-token")
    reader = issuer.token(roles=[READ])
    assert send(manage, "GET", "tenants", reader).status == 200
    denied = send(manage, "POST", "tenants", reader, {"id": "x"}, key="k")
    assert "Tenants.ReadWrite" in problem(denied, 403, "role-missing")["detail"]
    problem(send(manage, "GET", "tenants", issuer.token(roles=[])), 403, "role-missing")
    problem(send(manage, "GET", "nothing-here", reader), 404, "no-such-route")
    not_allowed = send(manage, "PATCH", "tenants", reader)
    problem(not_allowed, 405)
    assert not_allowed.headers["Allow"] == "POST, GET"
    problem(send(manage, "GET", "tenants/Not_A_Tenant", reader), 404, "tenant-not-found")
    problem(send(manage, "GET", "tenants/ghost", reader), 404, "tenant-not-found")


def test_bodies_are_checked_before_anything_changes(manage: ManageApi, token: str) -> None:
    bad = problem(send(manage, "POST", "tenants", token, {"id": "Upper"}, key="a"), 400, "invalid-body")
    assert "id" in bad["detail"]
    problem(send(manage, "POST", "tenants", token, {"id": "x", "typo": 1}, key="b"), 400, "invalid-body")
    problem(send(manage, "POST", "tenants", token, {"maxActiveUsers": -1}, key="c"), 400, "invalid-body")
    wrong_type = send(manage, "POST", "tenants", token, {"id": "x"}, key="d", headers={"Content-Type": "text/plain"})
    problem(wrong_type, 415)
    assert data(send(manage, "GET", "tenants", token))["items"] == []


def test_the_rate_is_per_caller_with_retry_after(issuer: LocalIssuer, tmp_path: Path) -> None:
    manage = build(issuer, tmp_path, per_minute=3)
    mine, theirs = issuer.token(), issuer.token(azp="another-app")
    assert [send(manage, "GET", "tenants", mine).status for _ in range(3)] == [200, 200, 200]
    limited = send(manage, "GET", "tenants", mine)
    problem(limited, 429, "rate-limited")
    assert int(limited.headers["Retry-After"]) >= 1
    assert send(manage, "GET", "tenants", theirs).status == 200


def test_tenants_page_with_an_opaque_cursor(manage: ManageApi, token: str) -> None:
    for n in range(5):
        assert send(manage, "POST", "tenants", token, {"id": f"t{n}"}, key=f"k{n}").status == 201
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = data(send(manage, "GET", "tenants", token, query=query))
        seen += [t["id"] for t in page["items"]]
        pages += 1
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == ["t0", "t1", "t2", "t3", "t4"] and pages == 3
    problem(send(manage, "GET", "tenants", token, query={"cursor": "%%%"}), 400, "invalid-cursor")
    problem(send(manage, "GET", "tenants", token, query={"limit": "0"}), 400, "invalid-query")


def test_credentials_and_record_follow_the_clis_rules_and_say_which_door(
    manage: ManageApi, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    created = data(send(manage, "POST", "tenants", token, {"id": "acme"}, key="k1"))
    rotated = data(send(manage, "POST", "tenants/acme/token/rotate", token))
    assert rotated["secretToken"] and rotated["secretToken"] != created["secretToken"]
    assert rotated["effectiveWithinSeconds"] == 30
    again = send(manage, "POST", "tenants/acme/token/rotate", token)
    assert "two valid tokens" in problem(again, 409, "credential-state")["detail"]
    retired = data(send(manage, "POST", "tenants/acme/token/retire", token))
    assert retired["retired"] == 1 and retired["secretToken"] is None
    leak = data(send(manage, "POST", "tenants/acme/token/retire", token, {"all": True}))
    assert leak["retired"] == 1 and leak["secretToken"]
    limited = data(send(manage, "PUT", "tenants/acme/limit", token, {"maxActiveUsers": 7}))
    assert limited["maxActiveUsers"] == 7
    assert data(send(manage, "POST", "tenants/acme/disable", token))["enabled"] is False
    assert data(send(manage, "POST", "tenants/acme/enable", token))["enabled"] is True
    problem(send(manage, "POST", "tenants/acme/client-secret/rotate", token), 409, "credential-state")

    shown = send(manage, "GET", "tenants/acme", token)
    detail = data(shown)
    assert detail["validSecretTokens"] == 1 and detail["validClientSecrets"] == 0
    assert detail["maxActiveUsers"] == 7 and detail["users"] == 0

    activity = data(send(manage, "GET", "tenants/acme/activity", token))
    operations = [(i["operation"], i["door"]) for i in activity["items"]]
    door = f"manage-api:{PLATFORM_APP}"
    assert set(operations) == {
        ("tenant-created", door),
        ("tenant-token-rotated", door),
        ("tenant-token-retired", door),
        ("tenant-token-revoked", door),
        ("tenant-limit-set", door),
        ("tenant-disabled", door),
        ("tenant-enabled", door),
    }
    assert all(i["status"] is None and i["resourceType"] == "Tenant" for i in activity["items"])

    secrets = [created["secretToken"], rotated["secretToken"], leak["secretToken"]]
    secrets += [token_verifier(secret) for secret in secrets]  # nor the digests the tenant row keeps
    for answer in (shown, send(manage, "GET", "tenants", token), send(manage, "GET", "tenants/acme/activity", token)):
        assert not any(secret in answer.body.decode() for secret in secrets)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert '"event":"manage.request"' in logged and PLATFORM_APP in logged
    assert not any(secret in logged for secret in secrets) and token not in logged

    deleted = data(send(manage, "DELETE", "tenants/acme", token))
    assert deleted["id"] == "acme"
    problem(send(manage, "GET", "tenants/acme", token), 404, "tenant-not-found")
    problem(send(manage, "POST", "tenants", token, {"id": "acme"}, key="k1"), 404, "tenant-not-found")


def test_status_and_changes_of_a_tenant_without_traffic(manage: ManageApi, token: str) -> None:
    send(manage, "POST", "tenants", token, {"id": "quiet", "maxActiveUsers": 2}, key="q")
    status = data(send(manage, "GET", "tenants/quiet/status", token))
    assert status["license"] == {"active": 0, "limit": 2} and status["lastRequest"] is None
    assert len(status["hours"]) == 24
    changes = data(send(manage, "GET", "tenants/quiet/changes", token))
    assert changes["items"] == [] and changes["positions"] == {"Users": "0", "Groups": "0"}
    problem(send(manage, "GET", "tenants/quiet/changes", token, query={"stream": "Nope"}), 400, "invalid-query")
    problem(send(manage, "GET", "tenants/quiet/activity", token, query={"since": "soon"}), 400, "invalid-query")


def test_activity_items_carry_the_declared_custom_attributes_a_user_write_set(
    issuer: LocalIssuer, tmp_path: Path, token: str
) -> None:
    storage = MemoryStorage(table_prefix="m")
    manage = build(issuer, tmp_path, storage=storage)
    custom = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"
    for tenant_id in ("declared", "plain"):
        assert send(manage, "POST", "tenants", token, {"id": tenant_id}, key=tenant_id).status == 201
    declared = declare((), f"{custom}:employeeLevel", type_="string")
    users = UserService(storage.resources("Users"), declarations=lambda t: declared if t == "declared" else ())
    core = "urn:ietf:params:scim:schemas:core:2.0:User"
    for tenant_id in ("declared", "plain"):
        body: dict[str, Any] = {"schemas": [core], "userName": "ada@contoso.com"}
        if tenant_id == "declared":
            body |= {"schemas": [core, custom], custom: {"employeeLevel": "<b>L3</b>"}}
        users.create(tenant_id, body | {"emails": [{"type": "work", "value": "ada@contoso.com"}]})
    items = data(send(manage, "GET", "tenants/declared/activity", token))["items"]
    written = [i for i in items if i["resourceType"] == "User"]
    assert [(i["operation"], i["customAttributes"], i["customAttributesOmitted"]) for i in written] == [
        ("created", {"employeeLevel": "<b>L3</b>"}, 0)  # JSON: the consumer escapes for its own output
    ]
    items = data(send(manage, "GET", "tenants/plain/activity", token))["items"]
    assert [i["customAttributes"] for i in items if i["resourceType"] == "User"] == [None]
    assert all(i["customAttributes"] is None for i in items if i["resourceType"] == "Tenant")


def test_without_an_issuer_the_api_refuses_everything(tmp_path: Path) -> None:
    manage = build_manage_api(
        Settings(public_base_url=BASE), MemoryStorage(), secrets=LocalSecretStore(tmp_path / "s.json")
    )
    problem(send(manage, "GET", "tenants", "anything"), 503, "not-enabled")


def test_a_create_that_stopped_half_way_is_finished_by_its_retry(issuer: LocalIssuer, tmp_path: Path) -> None:
    """A worker died after reserving the key (and, for one tenant, after creating it): past the lease, the retry
    replays the tenant that exists, or creates the one that does not; never a second tenant or token."""
    storage = MemoryStorage(table_prefix="m")
    manage = build(issuer, tmp_path, storage=storage)
    token = issuer.token()
    long_ago = datetime.now(UTC) - timedelta(seconds=LEASE_SECONDS + 1)
    keys = IdempotencyTable(storage)
    for tenant, created in (("half-done", True), ("not-started", False), ("no-client-yet", True)):
        body = {"id": tenant, **({"auth": "oauth"} if tenant == "no-client-yet" else {})}
        digest = fingerprint("POST", "/manage/v1/tenants", json.dumps(body).encode())
        keys.reserve(IdempotencyRow(PLATFORM_APP, f"key-{tenant}", digest, tenant, "pending", 0, long_ago))
        if created:
            service = TenantService(storage, LocalSecretStore(tmp_path / "secrets.json"), public_base_url=BASE)
            service.create(tenant, with_token=tenant != "no-client-yet")
        answer = send(manage, "POST", "tenants", token, body, key=f"key-{tenant}")
        assert answer.status == (200 if created else 201), answer.body
        assert (data(answer)["secretToken"] is None) == created
        if tenant == "no-client-yet":  # stopped before its client: the retry adds it, and shows its secret once
            assert data(answer)["oauthClient"]["clientSecret"]
        again = send(manage, "POST", "tenants", token, body, key=f"key-{tenant}")
        assert again.status == 200 and data(again)["replayed"] is True


def test_a_create_still_running_holds_its_key(issuer: LocalIssuer, tmp_path: Path) -> None:
    storage = MemoryStorage(table_prefix="m")
    manage = build(issuer, tmp_path, storage=storage)
    body = {"id": "running"}
    digest = fingerprint("POST", "/manage/v1/tenants", json.dumps(body).encode())
    now = datetime.now(UTC)
    IdempotencyTable(storage).reserve(IdempotencyRow(PLATFORM_APP, "k", digest, "running", "pending", 0, now))
    busy = send(manage, "POST", "tenants", issuer.token(), body, key="k")
    problem(busy, 409, "request-in-progress")
    assert busy.headers["Retry-After"] == "2"


def test_concurrent_creates_with_one_key_make_one_tenant_and_one_token(manage: ManageApi, token: str) -> None:
    body = {"id": "racy"}
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: send(manage, "POST", "tenants", token, body, key="same"), range(6)))
    statuses = sorted(a.status for a in answers)
    assert statuses.count(201) == 1 and set(statuses) <= {200, 201, 409}
    secrets = [data(a)["secretToken"] for a in answers if a.status in (200, 201)]
    assert len([s for s in secrets if s]) == 1
    assert data(send(manage, "GET", "tenants/racy", token))["validSecretTokens"] == 1


# -- the change feed ------------------------------------------------------------------------------


def user_body(n: int) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": f"u{n}@contoso.test",
        "emails": [{"type": "work", "value": f"u{n}@contoso.test", "primary": True}],
    }


def stored_changes(storage: MemoryStorage, tenant: str) -> dict[tuple[str, int], str]:
    """Every change record the tenant's account holds, (stream, seq) -> version, read from the store itself."""
    found: dict[tuple[str, int], str] = {}
    for stream in ("Users", "Groups"):
        for change in ChangeLog({stream: ChangeRows(storage.resources(stream))}).read(tenant, 0, 100_000, stream):
            found[(change.stream, change.seq)] = change.version
    return found


def drain(manage: ManageApi, token: str, tenant: str, cursor: str | None, limit: int) -> tuple[list[Any], str | None]:
    """Pages until an empty page: the items and the cursor to poll with later."""
    items: list[Any] = []
    while True:
        page = data(
            send(
                manage,
                "GET",
                f"tenants/{tenant}/changes",
                token,
                query={"limit": str(limit), **({"cursor": cursor} if cursor else {})},
            )
        )
        items += page["items"]
        cursor = page["next"]
        if not page["items"]:
            return items, cursor


def test_the_change_feed_reads_the_tenants_own_data_account(issuer: LocalIssuer, tmp_path: Path) -> None:
    primary, second = MemoryStorage(table_prefix="p"), MemoryStorage(table_prefix="s")
    manage = build(issuer, tmp_path, storage=DataAccounts({"primary": primary, "second": second}))
    token = issuer.token()
    for tenant in ("one", "two"):  # placed on the account with fewest tenants: one on primary, two on second
        assert send(manage, "POST", "tenants", token, {"id": tenant}, key=tenant).status == 201
    users = UserService(second.resources("Users"))
    made = [users.create("two", user_body(n)) for n in range(3)]
    items, _ = drain(manage, token, "two", None, 2)
    assert sorted(i["id"] for i in items) == sorted(str(u.id) for u in made)
    assert {(i["stream"], i["seq"]): i["version"] for i in items} == stored_changes(second, "two")
    assert drain(manage, token, "one", None, 2)[0] == []


def test_paging_the_feed_while_writes_happen_answers_every_change_once(
    token: str, issuer: LocalIssuer, tmp_path: Path
) -> None:
    """Records of different resources are numbered by different counter shards, so a later commit can carry a
    lower number than one already read: the cursor still answers it, once."""
    storage = MemoryStorage(table_prefix="f")
    manage = build(issuer, tmp_path, storage=storage)
    assert send(manage, "POST", "tenants", token, {"id": "busy"}, key="busy").status == 201
    users = UserService(storage.resources("Users"))
    groups = GroupService(storage.resources("Groups"), storage.resources("Users"))
    seen: list[Any] = []
    cursor: str | None = None
    # One write, one page, in turn: users land in shards in no order, so their numbers go down as well as up.
    for n in range(12):
        users.create("busy", user_body(n))
        page = data(
            send(
                manage,
                "GET",
                "tenants/busy/changes",
                token,
                query={"limit": "1", **({"cursor": cursor} if cursor else {})},
            )
        )
        seen += page["items"]
        cursor = page["next"]
    numbers = [i["seq"] for i in seen]
    assert numbers != sorted(numbers)  # the feed did answer a number below one answered before

    def write(worker: int) -> None:
        group = groups.create(
            "busy", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": f"g{worker}"}
        )
        for n in range(6):
            user = users.create("busy", user_body(100 * (worker + 1) + n))
            groups.patch(
                "busy",
                str(group.id),
                {
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "add", "path": "members", "value": [{"value": str(user.id)}]}],
                },
            )

    with ThreadPoolExecutor(max_workers=3) as pool:
        running = [pool.submit(write, worker) for worker in range(3)]
        while not all(future.done() for future in running):
            page = data(
                send(
                    manage,
                    "GET",
                    "tenants/busy/changes",
                    token,
                    query={"limit": "3", **({"cursor": cursor} if cursor else {})},
                )
            )
            seen += page["items"]
            cursor = page["next"]
        for future in running:
            future.result()
    rest, _ = drain(manage, token, "busy", cursor, 5)
    seen += rest
    keys = [(i["stream"], i["seq"]) for i in seen]
    assert len(keys) == len(set(keys))  # none twice
    assert {(i["stream"], i["seq"]): i["version"] for i in seen} == stored_changes(storage, "busy")  # none missing
    assert len(keys) == 12 + 3 * (1 + 6 + 6)


def test_after_starts_the_feed_above_a_number_and_cursors_are_checked(issuer: LocalIssuer, tmp_path: Path) -> None:
    storage = MemoryStorage(table_prefix="a")
    manage = build(issuer, tmp_path, storage=storage)
    token = issuer.token()
    send(manage, "POST", "tenants", token, {"id": "acme"}, key="acme")
    users = UserService(storage.resources("Users"))
    for n in range(10):
        users.create("acme", user_body(n))
    everything = stored_changes(storage, "acme")
    middle = sorted(seq for _, seq in everything)[4]
    query = {"stream": "users", "after": str(middle), "limit": "3"}
    first = data(send(manage, "GET", "tenants/acme/changes", token, query=query))
    items = first["items"]
    cursor = first["next"]
    while True:
        page = data(send(manage, "GET", "tenants/acme/changes", token, query={"stream": "Users", "cursor": cursor}))
        if not page["items"]:
            break
        items += page["items"]
        cursor = page["next"]
    assert sorted(i["seq"] for i in items) == sorted(seq for _, seq in everything if seq > middle)
    assert set(page["positions"]) == {"Users"}
    both = {"cursor": cursor, "after": "3"}
    problem(send(manage, "GET", "tenants/acme/changes", token, query={"stream": "Users", **both}), 400, "invalid-query")
    problem(send(manage, "GET", "tenants/acme/changes", token, query={"cursor": cursor}), 400, "invalid-cursor")
    forged = encode_cursor({"Users": "7.x"})
    problem(
        send(manage, "GET", "tenants/acme/changes", token, query={"stream": "Users", "cursor": forged}),
        400,
        "invalid-cursor",
    )


# -- setup links ----------------------------------------------------------------------------------


def test_a_setup_link_is_minted_once_per_key_listed_without_its_url_and_recorded_with_the_callers_door(
    manage: ManageApi, token: str, issuer: LocalIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    send(manage, "POST", "tenants", token, {"id": "acme"}, key="t")
    before = datetime.now(UTC)
    first = send(manage, "POST", "tenants/acme/setup-links", token, {"expiresIn": "2h"}, key="link-1")
    assert first.status == 201, first.body
    link = data(first)
    assert link["url"].startswith(f"{BASE}/setup/acme/") and len(link["url"].rsplit("/", 1)[1]) == 43
    assert link["kind"] == "token" and link["state"] == "ready" and link["replayed"] is False
    assert link["createdBy"] == f"manage-api:{PLATFORM_APP}"
    expires = datetime.fromisoformat(link["expires"])
    assert before + timedelta(hours=2) <= expires <= datetime.now(UTC) + timedelta(hours=2)
    assert first.headers["Location"] == "/manage/v1/tenants/acme/setup-links"
    assert data(send(manage, "GET", "tenants/acme", token))["validSecretTokens"] == 2  # made now, unseen

    again = send(manage, "POST", "tenants/acme/setup-links", token, {"expiresIn": "2h"}, key="link-1")
    assert again.status == 200 and again.headers["Idempotent-Replayed"] == "true"
    replayed = data(again)
    assert replayed["linkId"] == link["linkId"] and replayed["url"] is None and replayed["replayed"] is True
    assert data(send(manage, "GET", "tenants/acme", token))["validSecretTokens"] == 2  # no second credential
    problem(send(manage, "POST", "tenants/acme/setup-links", token, {"expiresIn": "3h"}, key="link-1"), 422)

    reader = issuer.token(roles=[READ])
    listed = send(manage, "GET", "tenants/acme/setup-links", reader)
    assert [(i["linkId"], i["state"]) for i in data(listed)["items"]] == [(link["linkId"], "ready")]
    assert "url" not in data(listed)["items"][0] and link["url"] not in listed.body.decode()
    problem(send(manage, "POST", "tenants/acme/setup-links", reader, {}, key="r"), 403, "role-missing")

    # A new link replaces the one nobody opened: its unseen credential goes, so rotation is never blocked.
    second = data(send(manage, "POST", "tenants/acme/setup-links", token, {}, key="link-2"))
    states = {i["linkId"]: i["state"] for i in data(send(manage, "GET", "tenants/acme/setup-links", token))["items"]}
    assert states == {link["linkId"]: "revoked", second["linkId"]: "ready"}
    assert data(send(manage, "GET", "tenants/acme", token))["validSecretTokens"] == 2

    activity = data(send(manage, "GET", "tenants/acme/activity", token))["items"]
    events = {(i["operation"], i["id"]) for i in activity if i["resourceType"] == "SetupLink"}
    assert events == {
        ("setup-link created", link["linkId"]),
        ("setup-link revoked", link["linkId"]),
        ("setup-link created", second["linkId"]),
    }
    assert all(f"by manage-api:{PLATFORM_APP}" in i["detail"] for i in activity if i["resourceType"] == "SetupLink")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert link["url"].rsplit("/", 1)[1] not in logged and second["url"].rsplit("/", 1)[1] not in logged


def test_setup_links_are_revoked_one_or_all_and_refusals_are_problems(manage: ManageApi, token: str) -> None:
    send(manage, "POST", "tenants", token, {"id": "acme"}, key="t")
    send(manage, "POST", "tenants", token, {"id": "cloud", "auth": "oauth"}, key="c")
    oauth = data(send(manage, "POST", "tenants/cloud/setup-links", token, {}, key="l0"))
    assert oauth["kind"] == "oauth"
    one = data(send(manage, "POST", "tenants/acme/setup-links", token, {}, key="l1"))
    revoked = data(send(manage, "DELETE", f"tenants/acme/setup-links/{one['linkId']}", token))
    assert revoked == {"id": "acme", "revoked": [one["linkId"]], "effectiveWithinSeconds": 30}
    assert data(send(manage, "GET", "tenants/acme", token))["validSecretTokens"] == 1  # its unseen token disabled
    again = data(send(manage, "DELETE", f"tenants/acme/setup-links/{one['linkId'].upper()}", token))
    assert again["revoked"] == []  # already revoked: nothing more to do
    problem(send(manage, "DELETE", "tenants/acme/setup-links/0123456789ab", token), 404, "setup-link-not-found")
    problem(send(manage, "DELETE", "tenants/acme/setup-links/not-an-id", token), 404, "setup-link-not-found")
    assert data(send(manage, "DELETE", "tenants/cloud/setup-links", token))["revoked"] == [oauth["linkId"]]
    assert data(send(manage, "DELETE", "tenants/cloud/setup-links", token))["revoked"] == []

    problem(
        send(manage, "POST", "tenants/acme/setup-links", token, {"expiresIn": "1m"}, key="x1"), 400, "invalid-value"
    )
    problem(
        send(manage, "POST", "tenants/acme/setup-links", token, {"expiresIn": "soon"}, key="x2"), 400, "invalid-body"
    )
    problem(send(manage, "POST", "tenants/acme/setup-links", token, {"auth": "saml"}, key="x3"), 400, "invalid-body")
    problem(send(manage, "POST", "tenants/acme/setup-links", token, {}), 428, "idempotency-key-missing")
    problem(send(manage, "POST", "tenants/ghost/setup-links", token, {}, key="x4"), 404, "tenant-not-found")
    problem(send(manage, "GET", "tenants/ghost/setup-links", token), 404, "tenant-not-found")
    send(manage, "POST", "tenants/acme/disable", token)
    problem(send(manage, "POST", "tenants/acme/setup-links", token, {}, key="x5"), 409, "credential-state")
    send(manage, "POST", "tenants/acme/enable", token)
    assert send(manage, "POST", "tenants/acme/setup-links", token, {}, key="x5").status == 201  # the key was freed
    assert [i["state"] for i in data(send(manage, "GET", "tenants/acme/setup-links", token))["items"]] == [
        "revoked",
        "ready",
    ]


def test_setup_links_page_with_a_cursor(manage: ManageApi, token: str) -> None:
    send(manage, "POST", "tenants", token, {"id": "acme"}, key="t")
    made = [data(send(manage, "POST", "tenants/acme/setup-links", token, {}, key=f"l{n}"))["linkId"] for n in range(3)]
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = data(
            send(
                manage,
                "GET",
                "tenants/acme/setup-links",
                token,
                query={"limit": "2", **({"cursor": cursor} if cursor else {})},
            )
        )
        seen += [i["linkId"] for i in page["items"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == made
