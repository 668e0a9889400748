"""The real stack over HTTP: function_app.app served by the local host, storage in Azurite."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import httpx
import pytest

import function_app
from devhost.azurite import ROOT, Azurite
from devhost.server import make_server, serve_in_thread
from scim import api

TOKEN = "e2e-token-9b1f3c"
OTHER_TOKEN = "e2e-other-token-77aa"


@pytest.fixture(scope="session")
def base_url(azurite: Azurite) -> Iterator[str]:
    saved = dict(os.environ)
    os.environ.update(
        {
            "SCIM_STORAGE_CONNECTION_STRING": azurite.connection_string,
            "SCIM_TABLE_PREFIX": "e2e",
            "SCIM_SECRET_SOURCE": "local",
            "SCIM_LOCAL_TOKENS": json.dumps({"acme": TOKEN, "other": OTHER_TOKEN}),
            "SCIM_MAX_BODY_BYTES": "65536",
        }
    )
    api._api = None  # build the process-wide API from these settings
    server = make_server(function_app.app, "127.0.0.1", 0, ROOT / "host.json")
    serve_in_thread(server)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        api._api = None
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture
def client(base_url: str) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/scim+json"}
    with httpx.Client(base_url=f"{base_url}/scim/v2/acme", headers=headers, timeout=10) as http:
        yield http


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Show the scim2-tester counts (recorded by test_conformance.py) even when output is captured."""
    for reports in terminalreporter.stats.values():
        for report in reports:
            for name, value in getattr(report, "user_properties", ()):
                if name == "scim2-tester" and getattr(report, "when", None) == "call":
                    terminalreporter.write_line(f"scim2-tester: {value}")
