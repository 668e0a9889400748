"""`scim-admin tenant activity|status` and `operator-key` against Azurite, after requests through the real API."""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from devhost.azurite import Azurite
from scim import api
from scim.cli import main
from scim.http import Request
from scim.platform.hints import LICENSE_CAP, MISSING_MAIL
from scim.settings import Settings


@pytest.fixture
def cli_env(azurite: Azurite, tmp_path: Path) -> dict[str, str]:
    return {
        "SCIM_STORAGE_CONNECTION_STRING": azurite.connection_string,
        "SCIM_TABLE_PREFIX": "acli",
        "SCIM_SECRET_SOURCE": "local",
        "SCIM_LOCAL_SECRETS_FILE": str(tmp_path / "secrets.json"),
        "SCIM_PUBLIC_BASE_URL": "https://scim.example.net",
    }


def run(cli_env: dict[str, str], *args: str) -> Result:
    result = CliRunner().invoke(main, list(args), env=cli_env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def create_user(served: Any, tenant: str, token: str, user_name: str, mail: bool = True) -> int:
    body: dict[str, Any] = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name}
    if mail:
        body["emails"] = [{"type": "work", "value": "x@contoso.com"}]
    request = Request.build(
        "POST",
        f"https://scim.example.net/scim/v2/{tenant}/Users",
        route_params={"tenant": tenant},
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"},
        body=json.dumps(body).encode(),
    )
    return served.users_collection(request).status


def test_activity_and_status_answer_where_is_my_user(cli_env: dict[str, str], tenant: str) -> None:
    token = json.loads(run(cli_env, "tenant", "create", tenant, "--max-users", "1", "--json").stdout)["secretToken"]
    served = api.build_api(Settings.from_environ(cli_env))
    assert create_user(served, tenant, token, "ada@contoso.com") == 201
    assert create_user(served, tenant, token, "bob@contoso.com", mail=False) == 400
    assert create_user(served, tenant, token, "carol@contoso.com") == 403
    assert served.activity is not None and served.activity.flush()

    text = run(cli_env, "tenant", "activity", tenant, "--user", "BOB@contoso.com").output
    assert "create" in text and "400" in text and "invalidValue" in text
    assert f"fix:  {MISSING_MAIL}" in text

    errors = json.loads(run(cli_env, "tenant", "activity", tenant, "--errors", "--since", "2h", "--json").stdout)
    assert [(r["name"], r["status"], r["hint"]) for r in errors["records"]] == [
        ("carol@contoso.com", 403, LICENSE_CAP),
        ("bob@contoso.com", 400, MISSING_MAIL),
    ]
    assert errors["next"] is None
    page = json.loads(run(cli_env, "tenant", "activity", tenant, "--limit", "2", "--json").stdout)
    assert len(page["records"]) == 2 and page["next"]
    rest = json.loads(run(cli_env, "tenant", "activity", tenant, "--after", page["next"], "--json").stdout)
    # The tenant's creation, oldest, is a platform change: the view names the door that made it.
    assert [(r["name"] or r["operation"], r["door"]) for r in rest["records"]] == [
        ("ada@contoso.com", None),
        ("tenant-created", "cli"),
    ]
    assert "tenant-created" in run(cli_env, "tenant", "activity", tenant).output
    run(cli_env, "tenant", "set-limit", tenant, "1")
    changed = run(cli_env, "tenant", "activity", tenant, "--limit", "1").output
    assert "tenant-limit-set" in changed and "by:   cli (at most 1 active users)" in changed

    status = json.loads(run(cli_env, "tenant", "status", tenant, "--json").stdout)
    assert status["last24h"] == {"requests": 3, "errors": 2, "writes": 1}
    assert status["lastCycle"] == {"requests": 3, "errors": 2}
    assert status["users"] == {"active": 1, "disabled": 0, "total": 1}
    assert status["license"]["text"] == "1 of 1 (100%)"
    assert status["lastRequest"] is not None
    assert "License use:         1 of 1 (100%)" in run(cli_env, "tenant", "status", tenant).output

    # Deleting the tenant deletes its activity with its users.
    deleted = json.loads(run(cli_env, "tenant", "delete", tenant, "--yes", "--json").stdout)["deletedRows"]
    assert deleted["Activity"] > 0
    assert served.operator is not None
    assert served.operator.report.table.page(tenant).records == []


def test_operator_key_rotate_opens_the_operator_pages(cli_env: dict[str, str]) -> None:
    served = api.build_api(Settings.from_environ(cli_env))
    assert served.operator is not None

    def page(authorization: str) -> int:
        request = Request.build("GET", "https://scim.example.net/operator/", headers={"Authorization": authorization})
        return served.operator.handle(request).status  # type: ignore[union-attr]

    assert page("Bearer anything") == 401  # no operator key yet: every request is refused
    key = json.loads(run(cli_env, "operator-key", "rotate", "--json").stdout)["operatorKey"]
    assert len(key) >= 43
    time.sleep(1.1)  # a key the worker has not seen is re-read at most once a second locally (30 s: Key Vault)
    assert page(f"Bearer {key}") == 200
    assert page("Basic " + base64.b64encode(f"me:{key}".encode()).decode()) == 200
    assert page("Basic " + base64.b64encode(b"me:wrong").decode()) == 401


def test_operator_key_retire_refuses_every_key_but_the_newest(cli_env: dict[str, str]) -> None:
    """Issue 19: `operator-key rotate` left the old key working, and nothing retired it."""
    served = api.build_api(Settings.from_environ({**cli_env, "SCIM_TOKEN_CACHE_SECONDS": "1"}))
    assert served.operator is not None

    def page(key: str) -> int:
        request = Request.build("GET", "https://scim.example.net/operator/", headers={"Authorization": f"Bearer {key}"})
        return served.operator.handle(request).status  # type: ignore[union-attr]

    old = json.loads(run(cli_env, "operator-key", "rotate", "--json").stdout)["operatorKey"]
    new = json.loads(run(cli_env, "operator-key", "rotate", "--json").stdout)["operatorKey"]
    time.sleep(1.1)  # a key the worker has not seen is re-read at most once a second locally
    assert (page(old), page(new)) == (200, 200)  # a rotation keeps the previous key working
    third = CliRunner().invoke(main, ["operator-key", "rotate"], env=cli_env)
    assert third.exit_code == 1 and "operator-key retire" in third.output  # never a silent third key

    retired = run(cli_env, "operator-key", "retire").stdout
    assert retired.startswith("Retired 1 old operator key(s).") and "within 30 s" in retired
    assert "by 20" in retired and "UTC" in retired  # when it takes effect on every worker
    deadline = time.monotonic() + 15  # the worker re-reads the key within its cache time (1 s here)
    while page(old) != 401:
        assert time.monotonic() < deadline, "the retired operator key still opens the pages"
        time.sleep(0.2)
    assert page(new) == 200
    assert json.loads(run(cli_env, "operator-key", "retire", "--json").stdout)["retired"] == 0


def test_refusals_without_valid_credentials_are_counted_apart(cli_env: dict[str, str], tenant: str) -> None:
    """Issue 19: 70 GETs with a wrong token moved the tenant's last request and figures, and pushed its real
    errors off the operator's page."""
    token = json.loads(run(cli_env, "tenant", "create", tenant, "--json").stdout)["secretToken"]
    served = api.build_api(Settings.from_environ(cli_env))
    assert create_user(served, tenant, token, "bob@contoso.com", mail=False) == 400
    assert served.activity is not None and served.activity.flush()
    before = json.loads(run(cli_env, "tenant", "status", tenant, "--json").stdout)
    for _ in range(70):
        wrong = Request.build(
            "GET",
            f"https://scim.example.net/scim/v2/{tenant}/Users",
            route_params={"tenant": tenant},
            headers={"Authorization": "Bearer not-the-token"},
        )
        assert served.users_collection(wrong).status == 401
    assert served.activity.flush()

    status = json.loads(run(cli_env, "tenant", "status", tenant, "--json").stdout)
    assert status["last24h"] == {"requests": 1, "errors": 1, "writes": 0}
    assert status["lastRequest"] == before["lastRequest"]  # the refusals did not move it
    assert status["refused"]["last24h"] == 70 and status["refused"]["last"] >= status["lastRequest"]
    assert "Refused (no valid credentials): 70 in 24 h" in run(cli_env, "tenant", "status", tenant).output
    errors = json.loads(run(cli_env, "tenant", "activity", tenant, "--errors", "--json").stdout)["records"]
    assert [(r["name"], r["status"]) for r in errors] == [("bob@contoso.com", 400)]

    assert served.operator is not None
    page = served.operator.tenant(tenant).body.decode()
    assert "bob@contoso.com" in page  # still among the recent errors
    assert re.search(r'id="refused"[^>]*>[^<]*<b>70</b>', page)
    assert re.search(r'id="day">[^<]*<b><span class="requests">1</span>', page)


def test_a_patch_refused_at_the_license_cap_is_found_by_the_users_name(cli_env: dict[str, str], tenant: str) -> None:
    """The request names only the id: the record takes the userName of the stored user, so search finds it."""
    token = json.loads(run(cli_env, "tenant", "create", tenant, "--max-users", "1", "--json").stdout)["secretToken"]
    served = api.build_api(Settings.from_environ(cli_env))
    assert create_user(served, tenant, token, "ada@contoso.com") == 201
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "dan@contoso.com",
        "active": False,  # a disabled user takes no seat
        "emails": [{"type": "work", "value": "dan@contoso.com"}],
    }
    created = served.users_collection(
        Request.build(
            "POST",
            f"https://scim.example.net/scim/v2/{tenant}/Users",
            route_params={"tenant": tenant},
            headers=headers,
            body=json.dumps(body).encode(),
        )
    )
    uid = json.loads(created.body)["id"]
    enable = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": True}],
    }
    refused = served.user_item(
        Request.build(
            "PATCH",
            f"https://scim.example.net/scim/v2/{tenant}/Users/{uid}",
            route_params={"tenant": tenant, "id": uid},
            headers=headers,
            body=json.dumps(enable).encode(),
        )
    )
    assert refused.status == 403
    assert served.activity is not None and served.activity.flush()

    found = json.loads(run(cli_env, "tenant", "activity", tenant, "--user", "DAN@contoso.com", "--json").stdout)
    refusals = [r for r in found["records"] if r["status"] == 403]
    assert [(r["operation"], r["id"], r["name"]) for r in refusals] == [("update", uid, "dan@contoso.com")]
