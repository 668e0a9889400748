"""OAuth2 client credentials over HTTP, as Entra uses it: the CLI's four values, a real OAuth client
(Authlib) fetching tokens from /oauth2/token, provisioning with them, expiry on a settable clock, and
every refusal RFC 6749 §5.2 and RFC 6750 describe."""

from __future__ import annotations

import base64
import json
import logging
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client, OAuthError
from click.testing import CliRunner
from joserfc import jwt
from joserfc.jwk import RSAKey

from scim import api
from scim.cli import main
from scim.oauth.keys import SIGNING_KEY_SECRET
from scim.oauth.throttle import FailedClientLogins
from scim.secrets import CachedSecretSource, LocalSecretStore, client_secret_name

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
FIELDS = {
    "Tenant URL": "tenant_url",
    "OAuth token endpoint": "token_endpoint",
    "Client identifier": "client_id",
    "Client secret": "client_secret",
}


@pytest.fixture
def operator_env(e2e_environ: dict[str, str], base_url: str) -> dict[str, str]:
    return {**e2e_environ, "SCIM_PUBLIC_BASE_URL": base_url}


def scim_admin(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def entra_fields(output: str) -> dict[str, str]:
    """The four values exactly as the operator copies them from the CLI's text output."""
    found = {}
    for label, key in FIELDS.items():
        match = re.search(rf"^\s+{label}:\s+(\S+)$", output, re.MULTILINE)
        assert match, output
        found[key] = match.group(1)
    return found


@pytest.fixture
def oauth_tenant(operator_env: dict[str, str]) -> dict[str, str]:
    """A tenant created with `tenant create --auth oauth`: no Secret Token, only client credentials."""
    tenant_id = f"oauth-{uuid.uuid4().hex[:10]}"
    output = scim_admin(operator_env, "tenant", "create", tenant_id, "--auth", "oauth")
    assert "Secret Token" not in output
    return {"id": tenant_id, **entra_fields(output)}


def oauth_client(fields: dict[str, str], method: str = "client_secret_post") -> OAuth2Client:
    """What Entra does with the four fields: a client credentials client of the token endpoint."""
    return OAuth2Client(
        client_id=fields["client_id"],
        client_secret=fields["client_secret"],
        token_endpoint=fields["token_endpoint"],
        token_endpoint_auth_method=method,
        timeout=10,
    )


def fetch(fields: dict[str, str], method: str = "client_secret_post") -> dict[str, Any]:
    with oauth_client(fields, method) as client:
        return dict(client.fetch_token(grant_type="client_credentials"))


def new_user() -> dict[str, Any]:
    name = f"oauth-{uuid.uuid4().hex[:10]}@contoso.com"
    return {"schemas": [USER], "userName": name, "emails": [{"type": "work", "value": name}]}


def scim(method: str, url: str, token: str, body: Any = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    return httpx.request(method, url, json=body, headers=headers, timeout=10)


@pytest.fixture
def clock() -> Iterator[list[float]]:
    """The served app's access-token clock, settable: [offset in seconds from now]."""
    tokens = api.get_api().auth.access_tokens
    assert tokens is not None
    offset = [0.0]
    tokens.clock = lambda: time.time() + offset[0]
    yield offset
    tokens.clock = time.time


def test_cli_output_alone_connects_a_tenant_and_provisions(oauth_tenant: dict[str, str]) -> None:
    token = fetch(oauth_tenant)
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 3600
    created = scim("POST", f"{oauth_tenant['tenant_url']}/Users", token["access_token"], new_user())
    assert created.status_code == 201, created.text
    read = scim("GET", f"{oauth_tenant['tenant_url']}/Users/{created.json()['id']}", token["access_token"])
    assert read.status_code == 200
    assert read.json()["userName"] == created.json()["userName"]


def test_a_token_does_not_outlive_its_tenant_deleted_and_created_again(
    oauth_tenant: dict[str, str], operator_env: dict[str, str]
) -> None:
    """Issue 19: a token of a deleted tenant opened the tenant created again under the same id."""
    old = fetch(oauth_tenant)["access_token"]
    users = f"{oauth_tenant['tenant_url']}/Users"
    assert scim("GET", users, old).status_code == 200
    scim_admin(operator_env, "tenant", "delete", oauth_tenant["id"], "--yes")
    # `iat` counts whole seconds: the new tenant is created in a later second than the old token was issued.
    time.sleep(max(0.0, int(json.loads(base64.urlsafe_b64decode(old.split(".")[1] + "=="))["iat"]) + 1 - time.time()))
    again = entra_fields(scim_admin(operator_env, "tenant", "create", oauth_tenant["id"], "--auth", "oauth"))
    deadline = time.monotonic() + 15  # the served app sees the new record within its tenant cache time (1 s)
    while scim("GET", users, old).status_code != 401:
        assert time.monotonic() < deadline, "the old tenant's token still opens the new tenant"
        time.sleep(0.2)
    refused = scim("GET", users, old)
    assert refused.json()["status"] == "401"
    assert scim("GET", users, fetch(again)["access_token"]).status_code == 200


def test_http_basic_works_as_well(oauth_tenant: dict[str, str]) -> None:
    token = fetch(oauth_tenant, "client_secret_basic")
    listed = scim("GET", f"{oauth_tenant['tenant_url']}/Users", token["access_token"])
    assert listed.status_code == 200


def test_the_token_response_is_rfc_6749_shaped_and_not_cached(oauth_tenant: dict[str, str]) -> None:
    response = httpx.post(
        oauth_tenant["token_endpoint"],
        data={
            "grant_type": "client_credentials",
            "client_id": oauth_tenant["client_id"],
            "client_secret": oauth_tenant["client_secret"],
        },
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    assert set(response.json()) == {"access_token", "token_type", "expires_in"}
    claims = json.loads(base64.urlsafe_b64decode(response.json()["access_token"].split(".")[1] + "=="))
    assert claims["tenant"] == oauth_tenant["id"]
    assert claims["aud"] == oauth_tenant["tenant_url"].rsplit("/", 1)[0]
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["jti"]


def test_a_token_expires_and_the_client_fetches_another(oauth_tenant: dict[str, str], clock: list[float]) -> None:
    token = fetch(oauth_tenant)["access_token"]
    users = f"{oauth_tenant['tenant_url']}/Users"
    clock[0] = 3600 + 20  # inside the 30 s leeway
    assert scim("GET", users, token).status_code == 200
    clock[0] = 3600 + 31
    expired = scim("GET", users, token)
    assert expired.status_code == 401
    assert expired.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert expired.json()["status"] == "401"
    assert expired.headers["www-authenticate"].startswith("Bearer")
    fresh = fetch(oauth_tenant)["access_token"]  # issued on the moved clock
    assert scim("GET", users, fresh).status_code == 200


def test_a_token_opens_only_its_own_tenant(oauth_tenant: dict[str, str], operator_env: dict[str, str]) -> None:
    other = entra_fields(
        scim_admin(operator_env, "tenant", "create", f"oauth-{uuid.uuid4().hex[:10]}", "--auth", "oauth")
    )
    token = fetch(oauth_tenant)["access_token"]
    for path in ("/Users", "/Groups", "/ServiceProviderConfig"):
        refused = scim("GET", other["tenant_url"] + path, token)
        assert refused.status_code == 401, path
    assert scim("POST", other["tenant_url"] + "/Users", token, new_user()).status_code == 401
    # ... nor does one tenant's client secret get a token as the other tenant's client.
    with pytest.raises(OAuthError) as refused_client:
        fetch({**oauth_tenant, "client_id": other["client_id"]})
    assert refused_client.value.error == "invalid_client"


def test_secret_token_and_client_credentials_side_by_side(operator_env: dict[str, str]) -> None:
    tenant_id = f"both-{uuid.uuid4().hex[:10]}"
    output = scim_admin(operator_env, "tenant", "create", tenant_id, "--auth", "both")
    fields = entra_fields(output)
    secret_token = re.search(r"Secret Token: (\S+)", output)
    assert secret_token
    users = f"{fields['tenant_url']}/Users"
    assert scim("GET", users, secret_token.group(1)).status_code == 200
    assert scim("GET", users, fetch(fields)["access_token"]).status_code == 200


def test_add_client_then_rotate_and_retire_the_client_secret(operator_env: dict[str, str]) -> None:
    tenant_id = f"mig-{uuid.uuid4().hex[:10]}"
    scim_admin(operator_env, "tenant", "create", tenant_id)  # a Secret Token tenant, migrating
    first = entra_fields(scim_admin(operator_env, "tenant", "add-client", tenant_id))
    assert fetch(first)["access_token"]
    rotated = json.loads(scim_admin(operator_env, "tenant", "rotate-client-secret", tenant_id, "--json"))
    time.sleep(1.1)  # a secret the worker does not know makes it re-read the store, at most once a second
    second = {**first, "client_secret": rotated["clientSecret"]}
    assert fetch(first)["access_token"] and fetch(second)["access_token"]  # both valid during the rotation
    assert "Retired 1 old client secret" in scim_admin(operator_env, "tenant", "retire-client-secret", tenant_id)
    # Running workers drop the old secret within SCIM_TOKEN_CACHE_SECONDS; a fresh worker accepts only the new one.
    fresh_worker = CachedSecretSource(LocalSecretStore(Path(operator_env["SCIM_LOCAL_SECRETS_FILE"])))
    assert fresh_worker.secret_values(client_secret_name(tenant_id)) == (second["client_secret"],)
    assert fetch(second)["access_token"]


def token_request(base_url: str, **kwargs: Any) -> httpx.Response:
    return httpx.post(f"{base_url}/oauth2/token", timeout=10, **kwargs)


def test_unknown_client_and_wrong_secret_get_the_same_answer(base_url: str, oauth_tenant: dict[str, str]) -> None:
    wrong_secret = token_request(
        base_url,
        data={"grant_type": "client_credentials", "client_id": oauth_tenant["client_id"], "client_secret": "x" * 43},
    )
    unknown = token_request(
        base_url, data={"grant_type": "client_credentials", "client_id": "no-such-client", "client_secret": "x" * 43}
    )
    for response in (wrong_secret, unknown):
        assert response.status_code == 401
        assert response.headers["www-authenticate"].startswith("Basic")
        assert response.headers["cache-control"] == "no-store"
    assert (
        wrong_secret.json()
        == unknown.json()
        == {
            "error": "invalid_client",
            "error_description": "client authentication failed",
        }
    )


FORM = {"content-type": "application/x-www-form-urlencoded"}
GOOD = {"grant_type": "client_credentials", "client_id": "a", "client_secret": "b"}
CC = {"grant_type": "client_credentials"}


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@pytest.mark.parametrize(
    ("kwargs", "status", "error"),
    [
        ({"data": {"grant_type": "password", "client_id": "a", "client_secret": "b"}}, 400, "unsupported_grant_type"),
        ({"data": {"client_id": "a", "client_secret": "b"}}, 400, "invalid_request"),
        ({"data": CC}, 401, "invalid_client"),
        ({"json": GOOD}, 400, "invalid_request"),
        ({"content": b"grant_type=client_credentials&grant_type=x", "headers": FORM}, 400, "invalid_request"),
        ({"content": b"grant_type=client_credentials&client_id=&client_id=x&client_secret=b", "headers": FORM},
         400, "invalid_request"),
        ({"content": b"\xff\xfe=\xff", "headers": FORM}, 400, "invalid_request"),
        ({"content": b"a=" + b"x" * 5000, "headers": FORM}, 400, "invalid_request"),
        ({"data": {**CC, "client_secret": "b"}, "headers": {"authorization": basic("a", "b")}}, 400, "invalid_request"),
        ({"data": {**CC, "client_id": "c"}, "headers": {"authorization": basic("a", "b")}}, 400, "invalid_request"),
        ({"data": CC, "headers": {"authorization": "Basic %%%"}}, 401, "invalid_client"),
        ({"data": CC, "headers": {"authorization": "Bearer abc"}}, 401, "invalid_client"),
        ({"data": GOOD, "params": {"client_secret": "b"}}, 400, "invalid_request"),
    ],
    ids=[
        "wrong-grant", "no-grant", "no-credentials", "json-body", "duplicate-parameter", "duplicate-after-empty",
        "not-utf8", "too-large",
        "basic-and-body-secret", "basic-and-other-body-id", "basic-not-base64", "bearer-instead-of-basic",
        "secret-in-url",
    ],
)  # fmt: skip
def test_malformed_token_requests_get_rfc_6749_errors(
    base_url: str, kwargs: dict[str, Any], status: int, error: str
) -> None:
    response = token_request(base_url, **kwargs)
    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    assert response.headers["cache-control"] == "no-store"


def test_only_post_is_served(base_url: str) -> None:
    response = httpx.get(f"{base_url}/oauth2/token", timeout=10)
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["error"] == "invalid_request"


@pytest.fixture
def slow_failures() -> Iterator[None]:
    """The served endpoint's limiter with a 30 s first wait, so a loaded machine cannot outrun it."""
    endpoint = api.get_api().token_endpoint
    assert endpoint is not None
    kept = endpoint.failures
    endpoint.failures = FailedClientLogins(base_delay=30.0)
    yield
    endpoint.failures = kept


@pytest.mark.usefixtures("slow_failures")
def test_repeated_failures_slow_the_failing_caller_down_whether_or_not_the_id_exists(
    base_url: str, oauth_tenant: dict[str, str]
) -> None:
    answers = {}
    for client_id in (oauth_tenant["client_id"], f"ghost-{uuid.uuid4().hex[:8]}"):
        wrong = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": "wrong"}
        responses = [token_request(base_url, data=wrong) for _ in range(7)]
        assert [r.status_code for r in responses] == [401] * 6 + [429]
        assert 1 <= int(responses[6].headers["retry-after"]) <= 60
        answers[client_id] = responses[6].json()
    # The same answer for a real and a made-up client id.
    assert len({json.dumps(a, sort_keys=True) for a in answers.values()}) == 1
    assert answers[oauth_tenant["client_id"]]["error"] == "slow_down"


@pytest.mark.usefixtures("slow_failures")
def test_wrong_secrets_never_lock_the_right_client_out(base_url: str, oauth_tenant: dict[str, str]) -> None:
    """Issue 19's reproduction: six wrong secrets, then the right one, got 429; now the right one gets its token."""
    client_id = oauth_tenant["client_id"]
    wrong = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": "wrong"}
    right = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": oauth_tenant["client_secret"]}
    assert [token_request(base_url, data=wrong).status_code for _ in range(6)] == [401] * 6
    granted = token_request(base_url, data=right)
    assert granted.status_code == 200 and granted.json()["access_token"]
    # An attacker's stream of wrong secrets, interleaved with the real client's requests from the same address
    # (the local host serves both from 127.0.0.1): the attacker is slowed down, the real client never is.
    statuses = []
    for attempt in range(10):
        statuses += [token_request(base_url, data=wrong).status_code for _ in range(2)]
        assert token_request(base_url, data=right).status_code == 200, attempt
    assert set(statuses) == {429}


def test_a_failed_token_request_logs_no_secret(
    base_url: str, oauth_tenant: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 19: a swapped client_id/client_secret logged the full secret as the client id."""
    secret = oauth_tenant["client_secret"]
    swapped = {"grant_type": "client_credentials", "client_id": secret, "client_secret": oauth_tenant["client_id"]}
    with caplog.at_level(logging.INFO, logger="scim"):
        assert token_request(base_url, data=swapped).status_code == 401
        auth = {"authorization": basic(secret, oauth_tenant["client_id"])}
        assert token_request(base_url, data=CC, headers=auth).status_code == 401
        wrong = {"grant_type": "client_credentials", "client_id": oauth_tenant["client_id"], "client_secret": "x"}
        assert token_request(base_url, data=wrong).status_code == 401
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("oauth token")]
    assert len(lines) == 3, lines
    assert not any(secret in line or secret[:12] in line for line in caplog.messages)
    assert all("client=unknown.sha256-" in line for line in lines[:2]), lines
    # The id of a registered tenant is not a secret and stays in the log, to say whose client fails.
    assert f"client={oauth_tenant['client_id']} status=401" in lines[2]


def signed(claims: dict[str, Any], key: RSAKey, header: dict[str, Any] | None = None) -> str:
    return jwt.encode({"alg": "RS256", "typ": "at+jwt", "kid": key.thumbprint(), **(header or {})}, claims, key)


def deployment_key(e2e_environ: dict[str, str]) -> RSAKey:
    store = LocalSecretStore(Path(e2e_environ["SCIM_LOCAL_SECRETS_FILE"]))
    newest = max(store.versions(SIGNING_KEY_SECRET), key=lambda v: v.created_on or 0)
    value = store.value(SIGNING_KEY_SECRET, newest.version)
    assert value
    return RSAKey.import_key(json.loads(value))


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_forged_and_foreign_tokens_are_refused(e2e_environ: dict[str, str], oauth_tenant: dict[str, str]) -> None:
    good = fetch(oauth_tenant)["access_token"]
    claims = json.loads(base64.urlsafe_b64decode(good.split(".")[1] + "=="))
    key = deployment_key(e2e_environ)
    users = f"{oauth_tenant['tenant_url']}/Users"
    assert scim("GET", users, signed(claims, key)).status_code == 200  # the test signs like the app does
    stranger = RSAKey.generate_key(2048, private=True)
    cases = {
        "forged signature": good[:-6] + ("AAAAAA" if not good.endswith("AAAAAA") else "BBBBBB"),
        "another key, our kid": signed(claims, stranger, {"kid": key.thumbprint()}),
        "another key, its kid": signed(claims, stranger),
        "alg none": f"{b64({'alg': 'none', 'kid': key.thumbprint()})}.{b64(claims)}.",
        "wrong audience": signed({**claims, "aud": "https://elsewhere.example/scim/v2"}, key),
        "other tenant claim": signed({**claims, "tenant": "acme"}, key),
        "no exp": signed({k: v for k, v in claims.items() if k != "exp"}, key),
        "issued in the future": signed({**claims, "iat": claims["iat"] + 600, "exp": claims["exp"] + 600}, key),
        "garbage": "a.b.c",
    }
    for name, token in cases.items():
        refused = scim("GET", users, token)
        assert refused.status_code == 401, name
        assert refused.json()["status"] == "401", name
