"""`make run`'s program, as a person runs it: prints a Tenant URL and token that work, stops cleanly, keeps data."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from devhost.azurite import ROOT, free_port


@contextmanager
def make_run(state: Path, port: int, azurite_port: int, queue_port: int | None = None) -> Iterator[tuple[str, str]]:
    env = {
        **os.environ,
        "PORT": str(port),
        "AZURITE_TABLE_PORT": str(azurite_port),
        # Not the default 10001: another checkout's make run may hold it (make run now refuses a taken port).
        "AZURITE_QUEUE_PORT": str(queue_port or free_port()),
        "SCIM_STATE_DIR": str(state),
        "SCIM_TENANT": "contoso",
    }
    env.pop("SCIM_TOKEN", None)
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
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Secret Token:" in line:
                break
        text = "".join(lines)
        url = re.search(r"Tenant URL:\s+(\S+)", text)
        token = re.search(r"Secret Token:\s+(\S+)", text)
        assert url and token, text
        yield url.group(1), token.group(1)
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0


def test_make_run_serves_the_printed_tenant_url_and_keeps_data(tmp_path: Path) -> None:
    port, azurite_port, queue_port = free_port(), free_port(), free_port()
    state = tmp_path / "local"
    state.mkdir(mode=0o755)
    state.chmod(0o755)  # as an earlier version left it: world-readable
    with make_run(state, port, azurite_port, queue_port) as (tenant_url, token):
        # Issue 19: Azurite's data (user data) and the secret store are the owner's only.
        assert stat.S_IMODE(state.stat().st_mode) == 0o700
        assert stat.S_IMODE((state / "azurite").stat().st_mode) == 0o700
        assert tenant_url == f"http://127.0.0.1:{port}/scim/v2/contoso"
        assert len(token) >= 40
        headers = {"Authorization": f"Bearer {token}"}
        probe = httpx.get(f"{tenant_url}/Users", params={"filter": f'userName eq "{uuid.uuid4()}"'}, headers=headers)
        assert probe.status_code == 200 and probe.json()["totalResults"] == 0
        user = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "kept@contoso.com",
            "emails": [{"type": "work", "value": "kept@contoso.com"}],
        }
        assert httpx.post(f"{tenant_url}/Users", json=user, headers=headers).status_code == 201

    with make_run(state, port, azurite_port, queue_port) as (_, same_token):
        assert same_token == token
        found = httpx.get(
            f"{tenant_url}/Users", params={"filter": 'userName eq "kept@contoso.com"'}, headers=headers
        ).json()
        assert found["totalResults"] == 1
