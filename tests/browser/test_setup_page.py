"""The customer's setup page in a real browser, at a phone's width (390 px) and a laptop's (1280 px): a link minted,
opened, revealed once, used as Entra would, the page reporting each step; and links that expired, were used twice,
were revoked, or whose tenant was disabled meanwhile. Screenshots go to tests/output/ (git-ignored)."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest

from devhost.azurite import Azurite
from scim.platform.hints import MISSING_MAIL
from scim.platform.setup_links import SetupLinks
from scim.secrets import LocalSecretStore
from scim.store import TableStorage
from scim.wiring import build_client_service
from tests.browser.conftest import NOW, OUTPUT, Site, at, user_body

WIDTHS = [390, 1280]


@dataclass
class Links:
    site: Site
    service: SetupLinks
    storage: TableStorage

    def tenant(self, name: str, limit: int | None = 5) -> str:
        tenant = f"{name}-{uuid.uuid4().hex[:6]}"
        self.site.tenants.create(tenant, max_active_users=limit)
        return tenant

    def mint(self, tenant: str, expires: timedelta = timedelta(hours=72)) -> str:
        return self.service.mint(tenant, by="cli:test", expires=expires).url.replace(
            "http://127.0.0.1:7071", self.site.url
        )


@pytest.fixture(scope="module")
def links(site: Site, azurite: Azurite) -> Iterator[Links]:
    """Links minted as the operator does, on the site's clock (the page's clock too), two days after the operator
    pages' script so its figures are not these."""
    settings = site.api.settings
    storage = TableStorage(connection_string=azurite.connection_string, table_prefix=settings.table_prefix)
    at(site, NOW + timedelta(days=2))
    service = SetupLinks(
        storage,
        site.tenants,
        build_client_service(settings, site.tenants),
        LocalSecretStore(settings.local_secrets_path),
        public_base_url=settings.public_base_url or "",
        clock=site.clock,
    )
    site.api.operator.setup.door.clock = site.clock
    yield Links(site, service, storage)
    storage.close()


@pytest.fixture(params=WIDTHS, ids=[f"{w}px" for w in WIDTHS])
def page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh browser (no cookies, no credentials: the admin's) at one width, allowed to use the clipboard."""
    context = browser.new_context(viewport={"width": request.param, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    opened = context.new_page()
    opened.set_default_timeout(10_000)
    opened.width = request.param
    yield opened
    context.close()


def shot(page: Any, name: str) -> None:
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"setup-{name}-{page.width}px.png"), full_page=True)


def text(page: Any, selector: str) -> str:
    return " ".join(str(page.locator(selector).inner_text()).split())


def readable(page: Any) -> None:
    """Nothing wider than the window, body text at 16 px, and every control reachable with a visible name."""
    assert int(page.evaluate("document.documentElement.scrollWidth")) <= page.width
    assert page.evaluate("getComputedStyle(document.body).fontSize") == "16px"
    unnamed = page.evaluate(
        "[...document.querySelectorAll('button:not([hidden]), a[href]')].filter(e => !e.innerText.trim()"
        " && !e.getAttribute('aria-label')).length"
    )
    assert unnamed == 0
    levels = page.evaluate("[...document.querySelectorAll('h1,h2,h3')].map(h => +h.tagName[1])")
    assert levels[0] == 1 and all(b - a <= 1 for a, b in itertools.pairwise(levels))


def test_mint_open_reveal_use_as_entra_and_watch_each_step(links: Links, page: Any) -> None:
    site = links.site
    tenant = links.tenant("setup-e2e")
    url = links.mint(tenant)

    # A GET shows the guide and a reveal button, and reveals nothing (a mail scanner's fetch uses nothing up).
    response = page.goto(url)
    assert response.status == 200 and response.headers["cache-control"] == "no-store"
    assert "script-src 'sha256-" in response.headers["content-security-policy"]
    assert response.headers["referrer-policy"] == "no-referrer"
    steps = page.locator("ol.steps > li > h2").all_inner_texts()
    assert steps == [
        "Create the application",
        "Choose Automatic provisioning",
        "Paste the two values under Admin Credentials",
        "Test Connection, then Save",
        "Choose the scope",
        "Assign users and groups, and start provisioning",
        "Check the mail mapping",
    ]
    assert text(page, "#tenant-url") == f"http://127.0.0.1:7071/scim/v2/{tenant}"
    assert text(page, "#license-limit") == "5" and page.locator("#secret-token").count() == 0
    readable(page)
    shot(page, "1-before-reveal")

    page.locator("#reveal").focus()
    assert page.evaluate("document.activeElement.id") == "reveal"
    page.keyboard.press("Enter")  # the keyboard reveals it, as a click would
    page.wait_for_selector("#secret-token")
    token = text(page, "#secret-token")
    assert len(token) == 43 and "Shown only now" in text(page, "#shown-once")
    copy = page.locator("button[data-copy='secret-token']")
    assert copy.is_visible()  # the one script the CSP allows, by its hash, ran
    copy.click()
    assert page.evaluate("navigator.clipboard.readText()") == token
    readable(page)
    shot(page, "2-revealed")

    # Entra, with the token read from the page: Test Connection, a user without mail, a user with it.
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    with httpx.Client(base_url=f"{site.url}/scim/v2/{tenant}", headers=headers, timeout=10) as entra:
        probe = entra.get("/Users", params={"filter": f'userName eq "{uuid.uuid4()}"'})
        assert probe.status_code == 200 and probe.json()["totalResults"] == 0
        assert entra.post("/Users", content=user_body("nomail@contoso.com", mail=False)).status_code == 400
        assert entra.post("/Users", content=user_body("ada@contoso.com")).status_code == 201
    site.settle()

    page.locator("#continue").click()
    assert page.url == url
    assert "Test Connection received" in text(page, "#check-connection .ok")
    assert "ada@contoso.com" in text(page, "#check-first-user .ok")
    refusal = page.locator("#refusals tr.refusal")
    assert refusal.count() == 1 and refusal.get_attribute("data-status") == "400"
    assert "nomail@contoso.com" in text(page, "#refusals .name") and text(page, "#refusals .fix") == MISSING_MAIL
    assert text(page, "#license-use") == "1 of 5 (20%)"
    assert page.locator("#secret-token").count() == 0 and token not in page.content()
    assert "revealed on" in text(page, "#revealed-note")
    readable(page)
    shot(page, "3-progress")

    # "Check again" reloads with no script; the opt-in meta refresh is there only when asked for.
    page.locator("#check-again").click()
    assert page.locator("meta[http-equiv=refresh]").count() == 0
    page.locator("#watch-on").click()
    assert page.locator("meta[http-equiv=refresh]").get_attribute("content") == "30"

    # A second open of the link, in another browser: the same page, no credential, no button to get one.
    second = page.context.browser.new_context(viewport={"width": page.width, "height": 900})
    again = second.new_page()
    assert again.goto(url).status == 200
    assert again.locator("#reveal").count() == 0 and again.locator("#secret-token").count() == 0
    posted = again.request.post(url, headers={"Origin": site.url})  # even a hand-made POST gets nothing
    assert posted.status == 200 and token not in posted.text() and "secret-token" not in posted.text()
    second.close()

    events = [r.operation for r in links.storage.activity().page(tenant, limit=50).records]
    assert "setup-link created" in events and "setup-link opened" in events


@pytest.mark.parametrize(
    ("case", "status", "heading"),
    [
        ("expired", 410, "This setup link has expired"),
        ("used-twice", 200, None),
        ("revoked", 410, "This setup link was revoked"),
        ("tenant-disabled", 403, "This tenant is disabled on the platform"),
        ("unknown", 404, "This setup link is not valid"),
    ],
)
def test_a_link_that_cannot_reveal_says_why_and_offers_nothing(
    links: Links, page: Any, case: str, status: int, heading: str | None
) -> None:
    site = links.site
    tenant = links.tenant(f"setup-{case}")
    url = links.mint(tenant, timedelta(hours=1))
    if case == "expired":
        at(site, site.clock.now + timedelta(hours=2))
    elif case == "used-twice":
        first = page.context.browser.new_context()
        opened = first.new_page()
        opened.goto(url)
        opened.locator("#reveal").click()
        opened.wait_for_selector("#secret-token")
        first.close()
    elif case == "revoked":
        links.service.revoke(tenant, "all", by="api:setup-test")
    elif case == "tenant-disabled":
        site.tenants.set_enabled(tenant, False)
    elif case == "unknown":
        url = url[:-4] + "AAAA"
    response = page.goto(url)
    assert response.status == status
    if heading is not None:
        assert text(page, "h1#message") == heading
        assert page.locator("form, button, #tenant-url").count() == 0
    else:
        assert "revealed on" in text(page, "#revealed-note")
    assert page.locator("#reveal, #secret-token, #client-secret").count() == 0
    readable(page)
    shot(page, f"refused-{case}")
    # The reveal itself (a POST, as the page's button sends it) gives nothing either.
    posted = page.request.post(url, headers={"Origin": site.url})
    assert posted.status == status and "secret-token" not in posted.text()


def test_a_cross_site_post_is_refused(links: Links, page: Any) -> None:
    tenant = links.tenant("setup-csrf")
    url = links.mint(tenant)
    posted = page.request.post(url, headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
    assert posted.status == 403
    response = page.goto(url)
    assert response.status == 200 and page.locator("#reveal").count() == 1  # nothing was used up


def test_an_oauth_tenant_gets_the_four_values_in_entras_order(links: Links, page: Any) -> None:
    tenant = f"setup-oauth-{uuid.uuid4().hex[:6]}"
    links.site.tenants.create(tenant, max_active_users=None, with_token=False)  # as `tenant create --auth oauth`
    build_client_service(links.site.api.settings, links.site.tenants).add_client(tenant)
    url = links.mint(tenant)
    page.goto(url)
    assert text(page, "#step-credentials h2") == "Paste the four values under Admin Credentials"
    assert "OAuth2 client credentials grant" in text(page, "#step-credentials")
    assert "no limit on active users" in text(page, "#license")
    page.locator("#reveal").click()
    page.wait_for_selector("#client-secret")
    shown = [page.locator(".value .label").nth(n).inner_text() for n in range(4)]
    assert shown == ["Tenant URL", "OAuth token endpoint", "Client identifier", "Client secret"]
    assert text(page, "#token-endpoint") == "http://127.0.0.1:7071/oauth2/token" and text(page, "#client-id") == tenant
    secret = text(page, "#client-secret")
    assert len(secret) == 43
    token = httpx.post(
        f"{links.site.url}/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": tenant, "client_secret": secret},
        timeout=10,
    )
    assert token.status_code == 200 and token.json()["token_type"].lower() == "bearer"
    readable(page)
    shot(page, "oauth-revealed")


def contrast(page: Any, selector: str) -> float:
    """WCAG contrast ratio of an element's text colour on its (or the page's) background."""
    return float(
        page.evaluate(
            """(sel) => {
              const e = document.querySelector(sel);
              const rgb = (c) => c.match(/[0-9.]+/g).slice(0, 3).map(Number);
              let bg = getComputedStyle(e).backgroundColor;
              for (let p = e; p && /rgba\\(0, 0, 0, 0\\)|transparent/.test(bg); p = p.parentElement)
                bg = getComputedStyle(p).backgroundColor;
              if (/rgba\\(0, 0, 0, 0\\)|transparent/.test(bg)) bg = 'rgb(255, 255, 255)';
              const lum = (c) => rgb(c).map(v => v / 255)
                .map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)
                .reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
              const [a, b] = [lum(getComputedStyle(e).color), lum(bg)].sort((x, y) => y - x);
              return (a + 0.05) / (b + 0.05);
            }""",
            selector,
        )
    )


def test_text_and_controls_keep_aa_contrast(links: Links, page: Any) -> None:
    tenant = links.tenant("setup-contrast")
    page.goto(links.mint(tenant))
    for selector in ("body", "#step-app p", "#reveal", "#tenant-url", "header"):
        assert contrast(page, selector) >= 4.5, selector
    page.locator("#reveal").click()
    page.wait_for_selector("#secret-token")
    page.locator("#continue").click()
    for selector in ("#check-connection .wait", "#check-first-user .wait", "#check-again", "#watch-on"):
        assert contrast(page, selector) >= 4.5, selector


def test_the_operator_sees_the_links_life_in_the_tenants_activity(links: Links, page: Any, operator: Any) -> None:
    tenant = links.tenant("setup-audit")
    url = links.mint(tenant)
    page.goto(url)
    page.locator("#reveal").click()
    page.wait_for_selector("#secret-token")
    links.service.revoke(tenant, "all", by="api:partner-portal")
    operator.set_viewport_size({"width": page.width, "height": 900})
    operator.width = page.width
    assert operator.goto(f"{links.site.url}/operator/tenants/{tenant}/activity").status == 200
    rows = operator.locator("#activity tr.record")
    seen = {
        (rows.nth(n).locator("td").nth(1).inner_text(), rows.nth(n).locator("td").nth(2).inner_text())
        for n in range(rows.count())
    }
    assert {
        ("setup-link created", "SetupLink"),
        ("setup-link opened", "SetupLink"),
        ("setup-link revoked", "SetupLink"),
    } <= seen
    details = " ".join(operator.locator("#activity .detail").all_inner_texts())
    assert "by cli:test" in details and "by the setup page" in details and "by api:partner-portal" in details
    shot(operator, "operator-activity")
