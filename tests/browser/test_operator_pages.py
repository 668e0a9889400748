"""What an operator sees after an Entra cycle with failures: figures, chart bars, hints, search, 401, XSS."""

from __future__ import annotations

import base64
from datetime import timedelta
from typing import Any

import pytest

from scim.platform.hints import DISPLAYNAME_TAKEN, LICENSE_CAP, MISSING_MAIL, USERNAME_TAKEN
from tests.browser.conftest import NOW, OPERATOR_KEY, OUTPUT, TENANT, Site, at, user_body

UNKNOWN_ID = "0" * 32


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture(scope="module")
def cycle(site: Site) -> Site:
    """Three Entra cycles: 10:20, 12:20 and 15:10 UTC (now is 15:20), with failures in each: a missing mail,
    a userName taken, the license limit, a displayName taken, an unknown id."""
    scim = site.scim
    at(site, NOW - timedelta(hours=5))
    assert scim.get("/Users", params={"filter": 'userName eq "nobody@contoso.com"'}).status_code == 200
    ada = scim.post("/Users", content=user_body("ada@contoso.com"))
    assert ada.status_code == 201
    assert scim.post("/Users", content=user_body("bob@contoso.com", mail=False)).status_code == 400
    assert scim.post("/Users", content=user_body("ADA@contoso.com")).status_code == 409
    carol = scim.post("/Users", content=user_body("carol@contoso.com"))
    assert carol.status_code == 201
    assert scim.post("/Users", content=user_body("erin@contoso.com")).status_code == 403  # license limit 2

    at(site, NOW - timedelta(hours=3))
    disable = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
    }
    assert scim.patch(f"/Users/{ada.json()['id']}", json=disable).status_code == 200
    assert scim.get("/Users", params={"filter": 'userName eq "bob@contoso.com"'}).status_code == 200
    assert scim.post("/Users", content=user_body("bob@contoso.com", mail=False)).status_code == 400

    at(site, NOW - timedelta(minutes=10))
    assert scim.delete(f"/Users/{carol.json()['id']}").status_code == 204
    assert scim.post("/Users", content=user_body("dave@contoso.com")).status_code == 201
    group = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Sales"}
    assert scim.post("/Groups", json=group).status_code == 201
    assert scim.post("/Groups", json=group).status_code == 409
    assert scim.get(f"/Users/{UNKNOWN_ID}").status_code == 404
    at(site, NOW)
    return site


def shot(page: Any, name: str) -> None:
    page.screenshot(path=str(OUTPUT / f"{name}.png"), full_page=True)


def figure(page: Any, selector: str) -> str:
    return str(page.locator(selector).inner_text()).strip()


def test_tenant_page_shows_figures_chart_and_hints(cycle: Site, operator: Any) -> None:
    response = operator.goto(f"{cycle.url}/operator/tenants/{TENANT}")
    assert response.status == 200
    assert figure(operator, "#last-request b") == f"{NOW - timedelta(minutes=10):%Y-%m-%d %H:%M}:00 UTC"
    assert figure(operator, "#cycle .requests") == "5" and figure(operator, "#cycle .errors") == "2"
    assert figure(operator, "#day .requests") == "14" and figure(operator, "#day .errors") == "6"
    assert figure(operator, "#day .writes") == "6"
    assert figure(operator, "#users .active") == "1" and figure(operator, "#users .disabled") == "1"
    assert figure(operator, "#groups b") == "1"
    assert figure(operator, "#license b") == "1 of 2 (50%)"

    bars = operator.locator("#chart g.hour")
    assert bars.count() == 24
    drawn = {
        bars.nth(n).get_attribute("data-hour"): (
            int(bars.nth(n).get_attribute("data-requests")),
            int(bars.nth(n).get_attribute("data-errors")),
            float(bars.nth(n).locator("rect.requests").get_attribute("height")),
            float(bars.nth(n).locator("rect.errors").get_attribute("height")),
        )
        for n in range(24)
    }
    assert {hour: counts[:2] for hour, counts in drawn.items() if counts[0]} == {
        "10:00": (6, 3),
        "12:00": (3, 1),
        "15:00": (5, 2),
    }
    assert drawn["10:00"][2] > drawn["15:00"][2] > drawn["12:00"][2] > 0  # bar height follows requests
    assert drawn["14:00"][2] == 0 and drawn["10:00"][3] > 0
    assert list(drawn)[-1] == "15:00"  # the current hour is last

    # Six errors, two of them identical (bob's missing mail, 10:20 and 12:20): five rows, one counted twice.
    rows = operator.locator("#recent-errors tr.record")
    assert rows.count() == 5
    counts = [int(c) for c in operator.locator("#recent-errors td.count").all_inner_texts()]
    assert sorted(counts) == [1, 1, 1, 1, 2]
    twice = operator.locator('#recent-errors tr.record[data-count="2"]')
    assert figure(twice, "td.name") == "bob@contoso.com"
    assert figure(twice, "td.first") == f"{NOW - timedelta(hours=5):%Y-%m-%d %H:%M}:00"
    assert figure(twice, "td.last") == f"{NOW - timedelta(hours=3):%Y-%m-%d %H:%M}:00"
    hints = [str(t) for t in operator.locator("#recent-errors .hint").all_inner_texts()]
    assert hints.count(MISSING_MAIL) == 1
    assert USERNAME_TAKEN in hints and DISPLAYNAME_TAKEN in hints and LICENSE_CAP in hints
    assert 'map mail to emails[type eq "work"].value' in MISSING_MAIL
    shot(operator, "tenant")


def test_tenant_page_shows_the_tenants_state(cycle: Site, operator: Any) -> None:
    assert operator.goto(f"{cycle.url}/operator/tenants/{TENANT}").status == 200
    assert figure(operator, "#state-enabled") == "yes"
    assert figure(operator, "#state-limit") == "2 active users"
    assert figure(operator, "#state-auth") == "Secret Token"
    assert figure(operator, "#state-tokens").startswith("1 valid, made ")
    assert figure(operator, "#state-client-secrets") == "none"
    assert figure(operator, "#state-url") == f"http://127.0.0.1:7071/scim/v2/{TENANT}"


@pytest.mark.parametrize("width", [1280, 390])
def test_dates_stay_on_one_line_at_desktop_and_phone_width(cycle: Site, operator: Any, width: int) -> None:
    """A date cell is one line high (it wrapped onto three), and the page itself never scrolls sideways."""
    operator.set_viewport_size({"width": width, "height": 900})
    for path, name in ((f"tenants/{TENANT}", "tenant"), (f"tenants/{TENANT}/activity", "activity")):
        assert operator.goto(f"{cycle.url}/operator/{path}").status == 200
        cells = operator.locator("td.time time")
        assert cells.count() > 0
        line = float(operator.evaluate("parseFloat(getComputedStyle(document.body).lineHeight)"))
        heights = [float(box["height"]) for box in (cells.nth(n).bounding_box() for n in range(cells.count())) if box]
        assert max(heights) < 1.5 * line, (name, width, heights)  # one line, not three
        page_width = int(operator.evaluate("document.documentElement.scrollWidth"))
        assert page_width <= width, (name, width, page_width)
        shot(operator, f"{name}-{width}px")


def test_tenants_list_shows_status_and_license_use(cycle: Site, operator: Any) -> None:
    operator.goto(f"{cycle.url}/operator/")
    row = operator.locator(f'#tenants tr[data-tenant="{TENANT}"]')
    cells = [str(t).strip() for t in row.locator("td").all_inner_texts()]
    assert cells[0] == TENANT
    assert cells[2:6] == ["14", "6", "2", "1 of 2 (50%)"]
    assert operator.locator('#tenants tr[data-tenant="fabrikam"]').count() == 1
    operator.click(f"text={TENANT}")
    assert operator.url.endswith(f"/operator/tenants/{TENANT}")
    shot(operator, "tenants")


def test_did_entra_send_user_x_when_and_what_did_we_say(cycle: Site, operator: Any) -> None:
    operator.goto(f"{cycle.url}/operator/tenants/{TENANT}")
    operator.fill("#user-search", "Bob@Contoso.com")
    operator.click("text=Search activity")
    rows = operator.locator("#activity tr.record")
    assert rows.count() == 2
    assert [str(t) for t in operator.locator("#activity tr.record td:nth-child(6)").all_inner_texts()] == ["400", "400"]
    assert all(t == MISSING_MAIL for t in operator.locator("#activity .hint").all_inner_texts())
    times = [str(t) for t in operator.locator("#activity tr.record td:nth-child(1)").all_inner_texts()]
    assert times == [  # the column header says UTC
        f"{NOW - timedelta(hours=3):%Y-%m-%d %H:%M}:00",
        f"{NOW - timedelta(hours=5):%Y-%m-%d %H:%M}:00",
    ]
    shot(operator, "search")

    operator.goto(f"{cycle.url}/operator/tenants/{TENANT}/activity?user=ada%40contoso.com")
    ops = [str(t) for t in operator.locator("#activity tr.record td:nth-child(2)").all_inner_texts()]
    statuses = [str(t) for t in operator.locator("#activity tr.record td:nth-child(6)").all_inner_texts()]
    # Her writes are the change log's records (what changed; no answer kept), among the refusal about her.
    assert list(zip(ops, statuses, strict=True)) == [("disabled", ""), ("create", "409"), ("created", "")]

    # A delete's change record carries the name the user had.
    operator.goto(f"{cycle.url}/operator/tenants/{TENANT}/activity?user=carol%40contoso.com")
    ops = [str(t) for t in operator.locator("#activity tr.record td:nth-child(2)").all_inner_texts()]
    assert ops == ["deleted", "created"]


def test_activity_pages_follow_the_older_link(cycle: Site, operator: Any) -> None:
    operator.goto(f"{cycle.url}/operator/tenants/{TENANT}/activity?limit=4")
    seen = []
    for _ in range(5):
        seen += [str(t) for t in operator.locator("#activity tr.record td:nth-child(1)").all_inner_texts()]
        if operator.locator("#older").count() == 0:
            break
        operator.click("#older")
    assert len(seen) == 6 + 6  # every change (the writes) and every error answer; successful reads are neither
    assert seen == sorted(seen, reverse=True)
    operator.goto(f"{cycle.url}/operator/tenants/{TENANT}/activity?errors=1&since=1h")
    assert operator.locator("#activity tr.record").count() == 2
    shot(operator, "activity")


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        basic("operator", "wrong-key"),
        basic("operator", ""),
        "Bearer wrong-key",
        "Basic !!!",
        f"Digest {OPERATOR_KEY}",
    ],
)
def test_no_or_wrong_credential_gets_a_401_page_with_no_data(
    cycle: Site, browser: Any, authorization: str | None
) -> None:
    # Sent as a header: given a wrong password to answer with, Chromium would retry and show its own error.
    headers = {"Authorization": authorization} if authorization else {}
    context = browser.new_context(extra_http_headers=headers)
    page = context.new_page()
    for path in ("/operator/", f"/operator/tenants/{TENANT}", f"/operator/tenants/{TENANT}/activity?user=ada"):
        response = page.goto(cycle.url + path)
        assert response.status == 401
        text = str(page.locator("body").inner_text())
        assert "Operator credential required" in text
        assert page.locator("#sign-in").get_attribute("href") == "/operator/sign-in"
        assert TENANT not in text and "ada" not in text and "fabrikam" not in text
    if authorization is None:
        shot(page, "unauthorized")
    context.close()


def test_unknown_tenant_and_page_are_404(cycle: Site, operator: Any) -> None:
    assert operator.goto(f"{cycle.url}/operator/tenants/nobody").status == 404
    assert operator.goto(f"{cycle.url}/operator/tenants/{TENANT}/secrets").status == 404
