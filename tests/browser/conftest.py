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
from scim.api.admin import AdminApi, OperatorCredential
from scim.api.operator_wiring import LocalTenantCatalog, is_tenant_id
from scim.platform.activity_report import ActivityReport
from scim.secrets import LocalSecretSource
from scim.settings import Settings
from scim.store import TableStorage

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
TOKEN = "browser-token-31f7"
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


@pytest.fixture(scope="module")
def site(azurite: Azurite) -> Iterator[Site]:
    """function_app.app over HTTP, built on its own settings, a clock of its own and the operator key."""
    settings = Settings(
        storage_connection_string=azurite.connection_string,
        table_prefix="browser",
        local_tokens={TENANT: TOKEN, "fabrikam": "fabrikam-token-0a9"},
    )
    storage = TableStorage(connection_string=azurite.connection_string, table_prefix="browser")
    built = api.build_api(settings, storage=storage, secrets=LocalSecretSource(settings.local_tokens))
    clock = Clock(NOW)
    assert built.activity is not None
    built.activity.clock = clock
    report = ActivityReport(storage.activity(), storage.resources("Users"), storage.resources("Groups"), clock=clock)
    built.operator = AdminApi(
        report, LocalTenantCatalog(settings), OperatorCredential(lambda refresh: (OPERATOR_KEY,)), is_tenant_id
    )
    saved, api._api = api._api, built
    server = make_server(function_app.app, "127.0.0.1", 0, ROOT / "host.json")
    serve_in_thread(server)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/scim+json"}
    OUTPUT.mkdir(exist_ok=True)
    try:
        with httpx.Client(base_url=f"{url}/scim/v2/{TENANT}", headers=headers, timeout=10) as scim:
            yield Site(url, clock, scim, built)
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
