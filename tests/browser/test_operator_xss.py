"""Hostile userNames, displayNames, search strings and tenant ids: shown as text on every page, never run."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.browser.conftest import OTHER_TENANT, OUTPUT, Site

# Each payload, if it ran, would set window.__xss or open a dialog.
XSS = [
    "<script>window.__xss=1</script>",
    '"><script>window.__xss=2</script>',
    "'><img src=x onerror=window.__xss=3>",
    "<img src=x onerror=alert(4)>",
    "<svg onload=alert(5)>",
    "<svg><script>alert(6)</script></svg>",
    "</title><script>alert(7)</script>",
    "</textarea><script>alert(8)</script>",
    "</style><script>alert(9)</script>",
    '<iframe srcdoc="<script>parent.__xss=10</script>"></iframe>',
    '<a href="javascript:alert(11)">click</a>',
    "<body onload=alert(12)>",
    "<details open ontoggle=alert(13)>",
    "<input autofocus onfocus=alert(14)>",
    "<video><source onerror=alert(15)></video>",
    '<object data="javascript:alert(16)"></object>',
    '<base href="javascript:alert(17)//">',
    '<meta http-equiv="refresh" content="0;url=javascript:alert(18)">',
    "<!--<script>alert(19)//-->",
    "<![CDATA[<script>alert(20)</script>]]>",
    "{{ 7*7 }}{% raw %}<script>alert(21)</script>",
    "javascript:alert(22)",
    '" onmouseover="alert(23)" x="',
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(24)>",
    "<scr<script>ipt>alert(25)</scr</script>ipt>",
]


@pytest.fixture(scope="module")
def hostile(site: Site) -> Site:
    """Every payload sent by "Entra" as a userName (with and without mail) and as a group displayName."""
    headers = {"Authorization": f"Bearer {site.other_token}", "Content-Type": "application/scim+json"}
    with httpx.Client(base_url=f"{site.url}/scim/v2/{OTHER_TENANT}", headers=headers, timeout=10) as scim:
        for n, payload in enumerate(XSS):
            user: dict[str, Any] = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": payload}
            if n % 2:
                user["emails"] = [{"type": "work", "value": f"u{n}@fabrikam.com"}]
            assert scim.post("/Users", content=json.dumps(user)).status_code in (201, 400)
            group = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": payload}
            assert scim.post("/Groups", json=group).status_code == 201
    site.settle()
    return site


INERT = """() => ({
    ran: window.__xss !== undefined || window.parent.__xss !== undefined,
    injected: document.querySelectorAll(
        "main script, main img, main iframe, main object, main video, main details, main base, main meta,"
        + " main input[autofocus], main a[href^='javascript']").length,
    svgs: document.querySelectorAll("main svg").length,
    searched: document.querySelector("#searched")?.textContent ?? null,
    input: document.querySelector("input[name=user]")?.value ?? null,
    names: [...document.querySelectorAll("#activity td.name")].map(td => td.textContent),
})"""


def inert(page: Any) -> dict[str, Any]:
    """What the page holds, read in one call; fails if any payload ran or made an element."""
    found: dict[str, Any] = page.evaluate(INERT)
    assert not found["ran"] and found["injected"] == 0
    assert found["svgs"] <= 1  # the chart, on the tenant page only
    return found


def test_no_payload_runs_on_any_page(hostile: Site, operator: Any) -> None:
    dialogs: list[str] = []
    operator.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    base = f"{hostile.url}/operator/tenants/{OTHER_TENANT}"

    operator.goto(f"{base}/activity?limit=200")
    assert set(XSS) <= set(inert(operator)["names"])  # every payload is there, as text
    operator.screenshot(path=str(OUTPUT / "xss-activity.png"), full_page=True)

    operator.goto(base)
    errors = [str(t) for t in operator.locator("#recent-errors td.name").all_inner_texts()]
    assert errors and set(errors) <= set(XSS)
    inert(operator)

    for payload in XSS:
        operator.goto(f"{base}/activity?user={quote(payload)}&since=7d")
        found = inert(operator)
        assert found["searched"] == found["input"] == payload
        assert set(found["names"]) == {payload}
    operator.goto(f"{base}/activity?user={quote(XSS[0])}&prefix=1&since={quote(XSS[1])}&after={quote(XSS[2])}")
    inert(operator)
    assert dialogs == []


def test_hostile_tenant_ids_and_paths_are_not_echoed(hostile: Site, operator: Any) -> None:
    for payload in XSS[:10]:
        response = operator.goto(f"{hostile.url}/operator/tenants/{quote(payload, safe='')}")
        assert response.status == 404
        assert payload not in operator.content()
        inert(operator)
