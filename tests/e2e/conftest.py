"""The real stack over HTTP: function_app.app served by the local host, storage in Azurite, tenants
created through the operator's TenantService, tokens in a local secret store of the test run's own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import function_app
from devhost.azurite import ROOT, Azurite
from devhost.server import make_server, serve_in_thread
from scim import api
from scim.platform.tenants import TenantService
from scim.secrets import LocalSecretStore, new_token, secret_name
from scim.settings import Settings
from scim.wiring import build_tenant_service

TOKEN = new_token()
OTHER_TOKEN = new_token()
E2E_ENV = {"SCIM_TABLE_PREFIX": "e2e", "SCIM_SECRET_SOURCE": "local", "SCIM_MAX_BODY_BYTES": "65536"}


@pytest.fixture(scope="session")
def e2e_environ(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The settings the served app and the operator's tenant service share."""
    state = tmp_path_factory.mktemp("e2e-state")
    return {
        **E2E_ENV,
        "SCIM_STORAGE_CONNECTION_STRING": azurite.connection_string,
        "SCIM_LOCAL_SECRETS_FILE": str(Path(state) / "secrets.json"),
        "SCIM_TENANT_CACHE_SECONDS": "1",
    }


@pytest.fixture(scope="session")
def tenants(e2e_environ: dict[str, str]) -> TenantService:
    """The operator's tenant use cases against the e2e storage and secret store."""
    return build_tenant_service(Settings.from_environ({**e2e_environ, "SCIM_PUBLIC_BASE_URL": "http://127.0.0.1:7071"}))


@pytest.fixture(scope="session")
def base_url(e2e_environ: dict[str, str], seeded_tenants: None) -> Iterator[str]:
    # The process-wide API, built from these settings without touching os.environ: subprocesses that
    # tests start (make run, the CLI) must see a person's environment, not this one.
    api._api = api.build_api(Settings.from_environ(e2e_environ))
    server = make_server(function_app.app, "127.0.0.1", 0, ROOT / "host.json")
    serve_in_thread(server)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        api._api = None


@pytest.fixture(scope="session")
def seeded_tenants(tenants: TenantService, e2e_environ: dict[str, str]) -> None:
    """Tenants `acme` and `other`, registered the way a deployment from before the tenants table is:
    their tokens already in the secret store, adopted with keep_existing_token."""
    store = LocalSecretStore(Path(e2e_environ["SCIM_LOCAL_SECRETS_FILE"]))
    for tenant_id, token in (("acme", TOKEN), ("other", OTHER_TOKEN)):
        store.add_version(secret_name(tenant_id), token)
        tenants.create(tenant_id, keep_existing_token=True)


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
