"""The operator's day against a running `make run` (a subprocess, as a person starts it): a rotation drill
whose retired token is refused within the documented bound, the CLI finding that instance's store by its
state directory, and a second `make run` on a taken port failing in one line with nothing left running."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from devhost.azurite import ROOT, free_port, port_is_free
from tests.e2e.conftest import TOKEN

BOUND_SECONDS = 2
"""SCIM_TENANT_CACHE_SECONDS of the drill's instance (30 s by default): the revocation bound."""

SCIM_ADMIN = str(Path(sys.executable).parent / "scim-admin")


def person_env(state: Path, **extra: str) -> dict[str, str]:
    """A person's shell: none of the settings other tests give this process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SCIM_", "AZURITE_"))}
    env.pop("PORT", None)
    return {**env, "SCIM_STATE_DIR": str(state), **extra}


@contextmanager
def make_run(state: Path, **extra: str) -> Iterator[tuple[str, str, dict[str, int]]]:
    ports = {"PORT": free_port(), "AZURITE_TABLE_PORT": free_port(), "AZURITE_QUEUE_PORT": free_port()}
    env = person_env(state, SCIM_TENANT="drill", **{k: str(v) for k, v in ports.items()}, **extra)
    process = subprocess.Popen(
        [sys.executable, "-m", "devhost.run"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines: list[str] = []
        for line in process.stdout:
            lines.append(line)
            if "OAuth2 client credentials instead" in line:  # the banner's last line
                break
        text = "".join(lines)
        url = re.search(r"Tenant URL:\s+(\S+)", text)
        token = re.search(r"Secret Token:\s+(\S+)", text)
        assert url and token, text
        assert f"http://127.0.0.1:{ports['PORT']}/operator/sign-in" in text and "operator-key rotate" in text
        yield url.group(1), token.group(1), ports
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


def admin(state: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SCIM_ADMIN, *args],
        cwd=ROOT,
        env=person_env(state, **extra),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def status(url: str, token: str) -> int:
    probe = httpx.get(f"{url}/Users", params={"filter": f'userName eq "{uuid.uuid4()}"'}, headers=bearer(token))
    return probe.status_code


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_rotation_drill_and_the_store_the_cli_finds(tmp_path: Path) -> None:
    # Tokens are cached for the default 300 s: the retired one is dropped because the tenant record changed.
    caches = {"SCIM_TOKEN_CACHE_SECONDS": "300", "SCIM_TENANT_CACHE_SECONDS": str(BOUND_SECONDS)}
    with make_run(tmp_path, **caches) as (url, old, ports):
        assert status(url, old) == 200  # the worker now holds the old token in its cache

        # The CLI finds this instance from its state directory alone, and says so.
        rotated = admin(tmp_path, "tenant", "rotate-token", "drill", "--json", **caches)
        assert rotated.returncode == 0, rotated.stderr
        assert "Store: `make run` (pid" in rotated.stderr
        assert f"127.0.0.1:{ports['AZURITE_TABLE_PORT']}" in rotated.stderr
        new = json.loads(rotated.stdout)["secretToken"]
        # A token the worker does not know makes it re-read the store at most once a second locally (30 s in
        # Azure), and the rotation rewrites the tenant record: within the bound both tokens work.
        time.sleep(BOUND_SECONDS + 0.5)
        assert status(url, new) == 200
        assert status(url, old) == 200  # both valid during the rotation

        retired = admin(tmp_path, "tenant", "retire-token", "drill", **caches)
        done = time.monotonic()
        assert retired.returncode == 0, retired.stderr
        assert f"every worker refuses them within {BOUND_SECONDS} s" in retired.stdout
        # The promise is an upper bound: once it has passed, the running worker refuses the old token.
        time.sleep(max(0.0, done + BOUND_SECONDS + 0.5 - time.monotonic()))
        assert status(url, old) == 401
        assert status(url, new) == 200

        # A leak: --now retires the newest token too and prints a replacement.
        leaked = admin(tmp_path, "tenant", "retire-token", "drill", "--now", "--json", **caches)
        done = time.monotonic()
        assert leaked.returncode == 0, leaked.stderr
        answer = json.loads(leaked.stdout)
        assert answer["retired"] == 1 and answer["effectiveWithinSeconds"] == BOUND_SECONDS
        time.sleep(max(0.0, done + BOUND_SECONDS + 0.5 - time.monotonic()))
        assert status(url, new) == 401
        assert status(url, answer["secretToken"]) == 200

        # A shell whose port disagrees with the running instance is told what to set.
        wrong = admin(tmp_path, "tenant", "list", AZURITE_TABLE_PORT=str(free_port()))
        assert wrong.returncode == 1 and "Traceback" not in wrong.stderr
        assert f"set AZURITE_TABLE_PORT={ports['AZURITE_TABLE_PORT']}" in wrong.stderr

    # With no instance running and no storage setting, nothing is guessed.
    gone = admin(tmp_path, "tenant", "list")
    assert gone.returncode == 1 and "no `make run` is running" in gone.stderr and "SCIM_STORAGE" in gone.stderr


def test_make_run_on_a_taken_port_says_which_in_one_line_and_leaves_nothing_running(tmp_path: Path) -> None:
    for taken in ("PORT", "AZURITE_TABLE_PORT", "AZURITE_QUEUE_PORT"):
        ports = {"PORT": free_port(), "AZURITE_TABLE_PORT": free_port(), "AZURITE_QUEUE_PORT": free_port()}
        with socket.socket() as other:  # another instance (or its emulator) already listens there
            other.bind(("127.0.0.1", ports[taken]))
            other.listen()
            result = subprocess.run(
                [sys.executable, "-m", "devhost.run"],
                cwd=ROOT,
                env=person_env(tmp_path, **{k: str(v) for k, v in ports.items()}),
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
        assert result.returncode == 1
        errors = result.stderr.strip().splitlines()
        assert errors == [f"make run: {errors[0].removeprefix('make run: ')}"] and "Traceback" not in result.stderr
        assert f"port {ports[taken]} ({taken}) is in use" in errors[0] and f"{taken}=" in errors[0]
        assert all(port_is_free(port) for name, port in ports.items() if name != taken)  # nothing left running
        assert not (tmp_path / "run.json").exists()


def test_the_usual_api_prefix_gets_a_scim_404_that_says_to_drop_it(base_url: str) -> None:
    response = httpx.get(f"{base_url}/api/scim/v2/acme/Users", headers=bearer(TOKEN))
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/scim+json")
    error = response.json()
    assert error["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"] and error["status"] == "404"
    assert "Drop /api" in error["detail"]


def test_no_content_answers_are_not_labelled_text_plain(client: httpx.Client) -> None:
    user = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": f"{uuid.uuid4().hex}@contoso.com",
        "emails": [{"type": "work", "value": "x@contoso.com"}],
    }
    created = client.post("/Users", json=user)
    assert created.status_code == 201
    group = client.post(
        "/Groups", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": uuid.uuid4().hex}
    )
    patch = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": created.json()["id"]}]}],
    }
    answers = [
        client.patch(f"/Groups/{group.json()['id']}", json=patch),
        client.delete(f"/Users/{created.json()['id']}"),
    ]
    for answer in answers:
        assert answer.status_code == 204 and answer.content == b""
        assert answer.headers.get("content-type", "application/scim+json").startswith("application/scim+json")


def test_a_users_etag_moves_when_its_groups_change(client: httpx.Client) -> None:
    """The ETag covers the representation GET answers, `groups` included (README: ETags and groups)."""
    user = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": f"{uuid.uuid4().hex}@contoso.com",
        "emails": [{"type": "work", "value": "x@contoso.com"}],
    }
    uid = client.post("/Users", json=user).json()["id"]
    before = client.get(f"/Users/{uid}")
    old = before.headers["etag"]
    assert client.get(f"/Users/{uid}", headers={"If-None-Match": old}).status_code == 304
    group = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": uuid.uuid4().hex}
    gid = client.post("/Groups", json={**group, "members": [{"value": uid}]}).json()["id"]

    after = client.get(f"/Users/{uid}", headers={"If-None-Match": old})
    assert after.status_code == 200 and [g["value"] for g in after.json()["groups"]] == [gid]
    new = after.headers["etag"]
    assert new != old and after.json()["meta"]["version"] == new
    assert client.get(f"/Users/{uid}", headers={"If-None-Match": new}).status_code == 304
    # Writes check the user's own attributes: the tag a GET gave is accepted by If-Match.
    patch = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "displayName", "value": "Renamed"}],
    }
    assert client.patch(f"/Users/{uid}", json=patch, headers={"If-Match": new}).status_code == 200
    assert client.patch(f"/Users/{uid}", json=patch, headers={"If-Match": new}).status_code == 412  # now stale
