"""The operator pages in a real browser: Debian's chromium driven by Playwright, after a scripted Entra cycle.

`make test` installs chromium first (`make browser`); where it cannot be installed these tests skip and
say so. Playwright never downloads a browser here: it starts /usr/bin/chromium with the flags a closed
network needs, each launch with a fresh temporary profile.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

import function_app
from devhost.azurite import ROOT, Azurite
from devhost.server import make_server, serve_in_thread
from scim import api
from scim.platform.tenants import TenantService
from scim.secrets import LocalSecretStore
from scim.settings import Settings
from scim.store import TableStorage
from scim.wiring import build_tenant_service

CHROMIUM = os.environ.get("SCIM_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OUTPUT = Path(__file__).resolve().parents[1] / "output"
OPERATOR_KEY = "operator-key-5d0c1e"
TENANT = "contoso"
OTHER_TENANT = "fabrikam"
NOW = datetime(2026, 3, 2, 15, 20, tzinfo=UTC)


class Clock:
    """The recorder's and the report's time, moved by the script so the chart spans several hours."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)  # time moves on between requests, as it does for Entra
        return self.now


@dataclass
class Site:
    url: str
    clock: Clock
    scim: httpx.Client
    api: Any
    tenants: TenantService
    other_token: str

    def settle(self) -> None:
        assert self.api.activity.flush(20)


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not (Path(CHROMIUM).exists() and os.access(CHROMIUM, os.X_OK)) and not shutil.which("chromium"):
        pytest.skip(f"no Chromium at {CHROMIUM}: `make browser` installs it (apt-get install chromium, as root)")
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_FLAGS, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def operator(browser: Any, site: Site) -> Iterator[Any]:
    """A page signed in with the operator credential (HTTP Basic, as a person's browser would)."""
    context = browser.new_context(http_credentials={"username": "operator", "password": OPERATOR_KEY})
    page = context.new_page()
    page.set_default_timeout(10_000)
    response = page.goto(f"{site.url}/operator/sign-in")  # Basic challenge, the password, then the tenants
    assert response is not None and response.status == 200 and page.url.endswith("/operator/")
    yield page
    context.close()


@pytest.fixture(scope="session")
def site(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """function_app.app over HTTP on settings of its own: tenants made by the operator's TenantService (contoso
    with a license limit of 2), the operator key a secret in the same local store, and a clock of its own."""
    secrets_file = Path(tmp_path_factory.mktemp("browser-state")) / "secrets.json"
    environ = {
        "SCIM_STORAGE_CONNECTION_STRING": azurite.connection_string,
        "SCIM_TABLE_PREFIX": "browser",
        "SCIM_SECRET_SOURCE": "local",
        "SCIM_LOCAL_SECRETS_FILE": str(secrets_file),
        "SCIM_PUBLIC_BASE_URL": "http://127.0.0.1:7071",
    }
    settings = Settings.from_environ(environ)
    service = build_tenant_service(settings)
    _, token = service.create(TENANT, max_active_users=2)
    _, other_token = service.create(OTHER_TENANT)
    LocalSecretStore(secrets_file).add_version(settings.operator_secret_name, OPERATOR_KEY)
    storage = TableStorage(connection_string=azurite.connection_string, table_prefix="browser")
    built = api.build_api(settings, storage=storage)
    clock = Clock(NOW)
    assert built.activity is not None and built.operator is not None
    built.activity.clock = clock
    built.operator.report.clock = clock
    built.users._clock = clock  # the change records (the facts of writes) are timed by the same clock
    built.groups._clock = clock
    saved, api._api = api._api, built
    server = make_server(function_app.app, "127.0.0.1", 0, ROOT / "host.json")
    serve_in_thread(server)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    OUTPUT.mkdir(exist_ok=True)
    try:
        with httpx.Client(base_url=f"{url}/scim/v2/{TENANT}", headers=headers, timeout=10) as scim:
            yield Site(url, clock, scim, built, service, str(other_token))
    finally:
        server.shutdown()
        server.server_close()
        api._api = saved
        storage.close()


def user_body(user_name: str, *, mail: bool = True) -> str:
    body: dict[str, Any] = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user_name}
    if mail:
        body["emails"] = [{"type": "work", "value": "someone@contoso.com", "primary": True}]
    return json.dumps(body)


def at(site: Site, moment: datetime) -> None:
    site.settle()  # outcomes are timed when answered: let the previous ones be stored first
    site.clock.now = moment


HOURS_AGO = timedelta(hours=1)
