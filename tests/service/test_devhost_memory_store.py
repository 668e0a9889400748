"""devhost.serve --memory-store (the bench's in-memory host, `make bench-compare COMPARE_ARGS="--store memory"`):
a process of its own, no Azurite, that answers Entra's Test Connection and a create with the tenant's token."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from devhost.azurite import ROOT, free_port
from scim.secrets import LocalSecretStore, new_token, secret_name

TENANT = "bench-memory"


@pytest.fixture
def memory_host(tmp_path: Path) -> Iterator[tuple[int, str]]:
    token = new_token()
    LocalSecretStore(tmp_path / "secrets.json").add_version(secret_name(TENANT), token)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCIM_")}
    env.update(PYTHONPATH=str(ROOT), SCIM_STATE_DIR=str(tmp_path), SCIM_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}")
    command = [sys.executable, "-m", "devhost.serve", "--port", str(port), "--memory-store", "--tenant", TENANT]
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(command, env=env, cwd=str(ROOT), stdout=subprocess.PIPE, stderr=log)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().decode()
        assert line.startswith("listening on"), (tmp_path / "serve.log").read_text()
        yield port, token
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def call(port: int, method: str, path: str, token: str, body: object = None) -> tuple[int, dict[str, object]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, json.loads(data) if data else {}


def test_memory_host_answers_test_connection_and_a_create(memory_host: tuple[int, str]) -> None:
    port, token = memory_host
    users = f"/scim/v2/{TENANT}/Users"
    status, body = call(port, "GET", users + "?filter=userName%20eq%20%22x%22", token)
    assert (status, body["totalResults"]) == (200, 0)
    user = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "ada@contoso.com",
        "active": True,
        "emails": [{"primary": True, "type": "work", "value": "ada@contoso.com"}],
    }
    status, created = call(port, "POST", users, token, user)
    assert status == 201
    assert created["userName"] == "ada@contoso.com"
    status, body = call(port, "GET", users + "?filter=userName%20eq%20%22ada@contoso.com%22", token)
    assert (status, body["totalResults"]) == (200, 1)
    status, _ = call(port, "GET", users + "?filter=userName%20eq%20%22x%22", "not-" + token)
    assert status == 401


def test_tenant_needs_the_memory_store() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "devhost.serve", "--tenant", TENANT],
        capture_output=True,
        cwd=str(ROOT),
        timeout=60,
        check=False,
    )
    assert out.returncode == 2
    assert b"--memory-store" in out.stderr
