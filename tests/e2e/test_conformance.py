"""SCIM conformance: scim2-tester drives the real stack over HTTP, and every check it runs must be SUCCESS.

scim2-tester reads our /ServiceProviderConfig, /ResourceTypes and /Schemas, builds its models from what
we publish, then creates, reads, searches, replaces, patches (add, replace, remove on every writable
attribute) and deletes resources of each published type. It is the same suite `scim2 ... test` runs.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterator

import httpx2
import pytest
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import CheckResult, Status, check_server

from scim.platform.tenant_attributes import TenantAttributeService
from scim.platform.tenants import TenantService
from scim.settings import Settings
from scim.wiring import build_storage
from tests.e2e.conftest import TOKEN

PENDING_RESOURCE_TYPES: dict[str, str] = {
    # scim2-tester selects checks per resource type (its tags name kinds of check, not resource types).
}
"""Published resource types whose checks are not run yet, with why; remove an entry when its issue lands."""

SUMMARY_PROPERTY = "scim2-tester"  # tests/e2e/conftest.py prints it in the terminal summary


CUSTOM = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
DECLARED = (
    (f"{CUSTOM}:employeeLevel", "string", ("--unique",)),
    (f"{CUSTOM}:badgeCode", "string", ("--case-exact",)),
    (f"{CUSTOM}:isContractor", "boolean", ()),
    (f"{CUSTOM}:grade", "integer", ()),
    (f"{ENTERPRISE}:costUnit", "string", ()),
)
"""A tenant with custom attributes of Entra's types, one unique, one on the enterprise extension. No dateTime:
scim2-tester 0.x fills a dateTime with a UUID string (scim2_tester.filling.generate_random_value has no date
branch) and fails on it in its own model, before sending anything; tests/service/test_custom_attributes.py
covers dateTime values."""


def declared_tenant(tenants: TenantService, e2e_environ: dict[str, str]) -> str:
    """Tenant `conformance-custom` with DECLARED; returns its token."""
    _, token = tenants.create("conformance-custom")
    service = TenantAttributeService(build_storage(Settings.from_environ(e2e_environ)), tenant_exists=bool)
    for path, type_, flags in DECLARED:
        service.add("conformance-custom", path, type_=type_, case_exact="--case-exact" in flags, unique=bool(flags))
    assert token is not None
    return token


@pytest.fixture(params=["acme", "conformance-custom"])
def scim_client(
    request: pytest.FixtureRequest, base_url: str, tenants: TenantService, e2e_environ: dict[str, str]
) -> Iterator[SyncSCIMClient]:
    # No models of our own: the client learns the service from what our discovery endpoints publish.
    tenant = request.param
    token = TOKEN if tenant == "acme" else declared_tenant(tenants, e2e_environ)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx2.Client(base_url=f"{base_url}/scim/v2/{tenant}", headers=headers, timeout=60) as http:
        deadline = time.monotonic() + 15  # workers see the declarations within the tenant cache's bound (1 s)
        while tenant != "acme" and time.monotonic() < deadline and CUSTOM not in http.get("/Schemas").text:
            time.sleep(0.2)
        yield SyncSCIMClient(http)


def describe(result: CheckResult) -> str:
    data = repr(result.data)
    return f"{result.status.name} {result.resource_type or '-'} {result.title}: {result.reason} | {data[:400]}"


def test_scim2_tester_finds_nothing_to_fix(scim_client: SyncSCIMClient, record_property: pytest.RecordProperty) -> None:
    random.seed(6)  # scim2-tester picks random values and enum members; the same ones on every run
    published = [str(t["name"]) for t in scim_client.client.get("/ResourceTypes").json()["Resources"]]
    checked = [name for name in published if name not in PENDING_RESOURCE_TYPES]

    results = check_server(scim_client, resource_types=checked)

    counts = Counter(result.status.name for result in results)
    skipped_for_pending = [f"{name} ({PENDING_RESOURCE_TYPES[name]})" for name in published if name not in checked]
    summary = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
    summary += f"; resource types checked: {', '.join(checked)}"
    if skipped_for_pending:
        summary += f"; not yet: {', '.join(skipped_for_pending)}"
    record_property(SUMMARY_PROPERTY, summary)

    failures = [describe(r) for r in results if r.status is not Status.SUCCESS]
    assert counts["SUCCESS"] > 0, summary
    assert not failures, f"scim2-tester: {summary}\n" + "\n".join(failures)
