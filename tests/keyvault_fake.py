"""A small HTTPS fake of the Key Vault secrets REST API, for the real azure-keyvault-secrets SecretClient.

It speaks the challenge protocol (401 + WWW-Authenticate on a request without a bearer token), keeps
versions with enabled / nbf / exp attributes, answers 403 SecretDisabled for a disabled version as Key
Vault does, and can be told to fail the next requests (429 with Retry-After, 503, 403) to test outages.
TLS comes from a trustme CA, so the SDK's transport verifies a real certificate chain.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import trustme
from azure.core.credentials import AccessToken

AUTHORITY = "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000"


class FakeCredential:
    """Stands in for the app's managed identity: the fake vault accepts any bearer token."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken("fake-access-token", int(time.time()) + 3600)


@dataclass
class Version:
    version: str
    value: str
    enabled: bool = True
    created: int = field(default_factory=lambda: int(time.time()))
    """Whole seconds, as Key Vault keeps them."""
    nbf: int | None = None
    exp: int | None = None


class FakeVault:
    """State of the fake vault, shared with its HTTP handler; `requests` counts authorised requests."""

    def __init__(self) -> None:
        self.secrets: dict[str, list[Version]] = {}
        self.requests: list[str] = []
        self.failures: list[tuple[int, dict[str, str], str]] = []
        self.fail_always: tuple[int, dict[str, str], str] | None = None
        self.lock = threading.Lock()
        self.url = ""

    def put(self, name: str, value: str, **attrs: Any) -> Version:
        with self.lock:
            version = Version(uuid.uuid4().hex, value, **attrs)
            self.secrets.setdefault(name, []).append(version)
            return version

    def fail_next(self, status: int, count: int = 1, retry_after: str | None = None, code: str = "Throttled") -> None:
        headers = {"Retry-After": retry_after} if retry_after else {}
        self.failures += [(status, headers, code)] * count

    def valid_values(self, name: str) -> list[str]:
        return [v.value for v in self.secrets.get(name, []) if v.enabled]

    def _attributes(self, version: Version) -> dict[str, Any]:
        attrs: dict[str, Any] = {
            "enabled": version.enabled,
            "created": version.created,
            "updated": version.created,
            "recoveryLevel": "Recoverable+Purgeable",
        }
        if version.nbf is not None:
            attrs["nbf"] = version.nbf
        if version.exp is not None:
            attrs["exp"] = version.exp
        return attrs

    def _bundle(self, name: str, version: Version, *, value: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": f"{self.url}/secrets/{name}/{version.version}",
            "attributes": self._attributes(version),
        }
        if value:
            body["value"] = version.value
        return body

    def handle(self, method: str, path: str, body: Any) -> tuple[int, dict[str, str], Any]:
        """(status, headers, JSON body) for one authorised request."""
        with self.lock:
            self.requests.append(f"{method} {path}")
            if self.failures or self.fail_always:
                status, headers, code = self.failures.pop(0) if self.failures else self.fail_always  # type: ignore[misc]
                return status, headers, {"error": {"code": code, "message": f"fake vault answers {status}"}}
            parts = [p for p in path.split("/") if p]
            if len(parts) < 2 or parts[0] != "secrets":
                return 400, {}, {"error": {"code": "BadParameter", "message": "unsupported path"}}
            name = parts[1]
            versions = self.secrets.get(name)
            if method == "PUT" and len(parts) == 2:
                version = Version(uuid.uuid4().hex, str(body["value"]))
                self.secrets.setdefault(name, []).append(version)
                return 200, {}, self._bundle(name, version, value=True)
            if not versions:
                return (
                    404,
                    {},
                    {
                        "error": {
                            "code": "SecretNotFound",
                            "message": f"A secret with (name/id) {name} was not found in this key vault.",
                        }
                    },
                )
            if method == "GET" and len(parts) == 3 and parts[2] == "versions":
                return 200, {}, {"value": [self._bundle(name, v, value=False) for v in versions], "nextLink": None}
            wanted = parts[2] if len(parts) == 3 else versions[-1].version
            version = next((v for v in versions if v.version == wanted), None)
            if version is None:
                return 404, {}, {"error": {"code": "SecretNotFound", "message": "no such version"}}
            if method == "PATCH":
                attrs = (body or {}).get("attributes", {})
                if "enabled" in attrs:
                    version.enabled = bool(attrs["enabled"])
                return 200, {}, self._bundle(name, version, value=False)
            if method == "GET":
                if not version.enabled:
                    return (
                        403,
                        {},
                        {
                            "error": {
                                "code": "Forbidden",
                                "message": "Operation get is not allowed on a disabled secret.",
                                "innererror": {"code": "SecretDisabled"},
                            }
                        },
                    )
                return 200, {}, self._bundle(name, version, value=True)
            return 405, {}, {"error": {"code": "BadParameter", "message": "method not supported"}}


def _handler(vault: FakeVault) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if not (self.headers.get("Authorization") or "").startswith("Bearer "):
                challenge = f'Bearer authorization="{AUTHORITY}", resource="https://vault.azure.net"'
                self._send(
                    401, {"WWW-Authenticate": challenge}, {"error": {"code": "Unauthorized", "message": "no token"}}
                )
                return
            body = json.loads(raw) if raw else None
            status, headers, payload = vault.handle(self.command, urlsplit(self.path).path, body)
            self._send(status, headers, payload)

        def _send(self, status: int, headers: dict[str, str], payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_PATCH = do_DELETE = _serve

    return Handler


@contextmanager
def serve_fake_vault(tmp_dir: Path) -> Iterator[tuple[FakeVault, str]]:
    """A running fake vault on 127.0.0.1 and the path of the CA bundle that trusts its certificate."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    ca_path = tmp_dir / "fake-vault-ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    vault = FakeVault()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(vault))
    server.daemon_threads = True
    server.socket = context.wrap_socket(server.socket, server_side=True)
    vault.url = f"https://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield vault, str(ca_path)
    finally:
        server.shutdown()
        server.server_close()
