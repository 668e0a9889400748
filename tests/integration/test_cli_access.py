"""The operator CLI tells Azure refusing it (403: which role, on what) apart from storage it cannot reach.

Table Storage's refusal comes from a tiny local HTTP server that answers every request as Storage answers a
caller without a data role (403, x-ms-error-code AuthorizationPermissionMismatch, the same JSON body); the
unreachable case is a port nothing listens on.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner

from scim.cli import main
from scim.settings import azurite_connection_string

DENIED_BODY = {
    "odata.error": {
        "code": "AuthorizationPermissionMismatch",
        "message": {
            "lang": "en-US",
            "value": "This request is not authorized to perform this operation using this permission.",
        },
    }
}


class RefusingStorage(BaseHTTPRequestHandler):
    """Answers every request as Table Storage answers an identity without Storage Table Data Contributor."""

    def _refuse(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        body = json.dumps(DENIED_BODY).encode()
        self.send_response(403, "This request is not authorized to perform this operation using this permission.")
        self.send_header("Content-Type", "application/json;odata=minimalmetadata;streaming=true;charset=utf-8")
        self.send_header("x-ms-error-code", "AuthorizationPermissionMismatch")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_MERGE = _refuse

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def refusing_port() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), RefusingStorage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_cli(port: int, tmp_path: Path, *args: str) -> tuple[int, str]:
    env = {
        "SCIM_STORAGE_CONNECTION_STRING": azurite_connection_string(port),
        "SCIM_SECRET_SOURCE": "local",
        "SCIM_LOCAL_SECRETS_FILE": str(tmp_path / "secrets.json"),
        "SCIM_PUBLIC_BASE_URL": "https://scim.example.net",
        "SCIM_ENV_FILE": "none",
    }
    result = CliRunner().invoke(main, list(args), env=env)
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("command", "table"),
    [
        (("tenant", "list"), "scimTenants"),
        (("tenant", "create", "contoso"), "scimTenants"),
        (("tenant", "show", "contoso"), "scimTenants"),
    ],
)
def test_a_403_names_the_missing_role_and_the_table(
    refusing_port: int, tmp_path: Path, command: tuple[str, ...], table: str
) -> None:
    code, output = run_cli(refusing_port, tmp_path, *command)
    assert code == 1, output
    assert "Traceback" not in output
    assert f"refused access to table {table} (403 AuthorizationPermissionMismatch)" in output
    assert "Storage Table Data Contributor" in output
    assert "Operator roles" in output
    assert "cannot reach" not in output and "make run" not in output


def test_a_403_creates_no_token_for_a_tenant_it_could_not_register(refusing_port: int, tmp_path: Path) -> None:
    code, _ = run_cli(refusing_port, tmp_path, "tenant", "create", "contoso")
    assert code == 1
    secrets = tmp_path / "secrets.json"
    stored = json.loads(secrets.read_text())["secrets"] if secrets.exists() else {}
    assert not any(v.get("enabled", True) for versions in stored.values() for v in versions)


def test_an_endpoint_nobody_answers_is_reported_as_unreachable(tmp_path: Path) -> None:
    code, output = run_cli(free_port(), tmp_path, "tenant", "list")
    assert code == 1, output
    assert "cannot reach Table Storage" in output
    assert "Storage Table Data Contributor" not in output
