"""Setup links against Azurite and a local secret store: minted by the CLI, revealed once by the page's service,
revoked, expired, and recorded in the tenant's activity log."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from click.testing import CliRunner, Result

from devhost.azurite import Azurite
from scim.api.routes import ROUTE_TABLE
from scim.api.setup_page import SetupPages
from scim.cli import main
from scim.http import Request
from scim.platform.activity_report import build_activity_report
from scim.platform.setup_links import LinkState, SetupLinkDoor, SetupLinks, link_hash
from scim.secrets import CachedSecretSource, LocalSecretStore, client_secret_name, secret_name
from scim.settings import Settings
from scim.store import StorageUnavailableError, TableStorage
from scim.wiring import build_client_service, build_tenant_service

PREFIX = "setuplinks"
BASE = "https://scim.example.net"
Cli = Callable[..., Result]


@pytest.fixture
def cli_env(azurite: Azurite, tmp_path: Path) -> dict[str, str]:
    return {
        "SCIM_STORAGE_CONNECTION_STRING": azurite.connection_string,
        "SCIM_TABLE_PREFIX": PREFIX,
        "SCIM_SECRET_SOURCE": "local",
        "SCIM_LOCAL_SECRETS_FILE": str(tmp_path / "secrets.json"),
        "SCIM_PUBLIC_BASE_URL": BASE,
    }


@pytest.fixture
def cli(cli_env: dict[str, str]) -> Cli:
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(main, list(args), env=cli_env, catch_exceptions=False)

    return run


@pytest.fixture
def table_storage(azurite: Azurite) -> Any:
    storage = TableStorage(connection_string=azurite.connection_string, table_prefix=PREFIX)
    yield storage
    storage.close()


def ok_json(result: Result) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def door(cli_env: dict[str, str], storage: TableStorage, clock: Callable[[], datetime] | None = None) -> SetupLinkDoor:
    store = LocalSecretStore(Path(cli_env["SCIM_LOCAL_SECRETS_FILE"]))
    return SetupLinkDoor(storage, store, clock=clock or (lambda: datetime.now(UTC)))


def accepted(cli_env: dict[str, str], name: str) -> tuple[str, ...]:
    """What a fresh worker of the endpoint accepts for the secret now."""
    return CachedSecretSource(LocalSecretStore(Path(cli_env["SCIM_LOCAL_SECRETS_FILE"]))).secret_values(name)


def code_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def reveal(opener: SetupLinkDoor, tenant: str, url: str) -> Any:
    return opener.reveal(
        tenant, code_of(url), tenant_url=f"{BASE}/scim/v2/{tenant}", token_endpoint=f"{BASE}/oauth2/token"
    )


def test_a_link_reveals_a_fresh_token_once_and_the_previous_keeps_working(
    cli: Cli, cli_env: dict[str, str], table_storage: TableStorage, tenant: str
) -> None:
    first = ok_json(cli("tenant", "create", tenant, "--json"))["secretToken"]
    minted = ok_json(cli("tenant", "setup-link", tenant, "--expires", "2h", "--json"))
    assert minted["url"].startswith(f"{BASE}/setup/{tenant}/") and minted["state"] == "ready"
    code = code_of(minted["url"])
    assert len(code) == 43
    # The code is nowhere in storage: the row is keyed by its SHA-256, and no property holds it.
    rows = list(
        table_storage.table_client(f"{PREFIX}Tenants").query_entities("PartitionKey eq @pk", parameters={"pk": tenant})
    )
    assert {row["RowKey"] for row in rows} == {"tenant", f"setup-link-{link_hash(code)}"}
    assert all(code not in json.dumps(dict(row), default=str) for row in rows)
    # The credential exists from now, and nobody saw it: the old token and the new one are both accepted.
    assert first in accepted(cli_env, secret_name(tenant)) and len(accepted(cli_env, secret_name(tenant))) == 2

    opener = door(cli_env, table_storage)
    assert opener.open(tenant, code).state is LinkState.READY
    opened, credentials = reveal(opener, tenant, minted["url"])
    assert credentials is not None and opened.state is LinkState.REVEALED
    assert credentials.kind == "token" and credentials.tenant_url == f"{BASE}/scim/v2/{tenant}"
    assert credentials.secret != first and set(accepted(cli_env, secret_name(tenant))) == {first, credentials.secret}

    again, nothing = reveal(opener, tenant, minted["url"])
    assert nothing is None and again.state is LinkState.REVEALED
    listed = ok_json(cli("tenant", "setup-link", tenant, "--list", "--json"))
    assert [(link["linkId"], link["state"]) for link in listed] == [(minted["linkId"], "revealed")]
    assert listed[0]["createdBy"].startswith("cli")


def test_two_reveals_at_once_give_the_credential_to_one(
    cli: Cli, cli_env: dict[str, str], table_storage: TableStorage, tenant: str
) -> None:
    ok_json(cli("tenant", "create", tenant, "--json"))
    url = ok_json(cli("tenant", "setup-link", tenant, "--json"))["url"]
    opener = door(cli_env, table_storage)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: reveal(opener, tenant, url), range(4)))
    assert sum(1 for _, credentials in results if credentials is not None) == 1
    assert {opened.state for opened, _ in results} == {LinkState.REVEALED}


def test_revoking_an_unrevealed_link_disables_its_credential_and_logs_who(
    cli: Cli, cli_env: dict[str, str], table_storage: TableStorage, tenant: str
) -> None:
    first = ok_json(cli("tenant", "create", tenant, "--json"))["secretToken"]
    minted = ok_json(cli("tenant", "setup-link", tenant, "--json"))
    assert len(accepted(cli_env, secret_name(tenant))) == 2
    revoked = ok_json(cli("tenant", "setup-link", tenant, "--revoke", minted["linkId"], "--json"))
    assert revoked["revoked"] == [minted["linkId"]]
    assert accepted(cli_env, secret_name(tenant)) == (first,)  # nobody saw the new one: it is gone, the old stays
    opener = door(cli_env, table_storage)
    opened, credentials = reveal(opener, tenant, minted["url"])
    assert opened.state is LinkState.REVOKED and credentials is None
    unknown = cli("tenant", "setup-link", tenant, "--revoke", "000000000000")
    assert unknown.exit_code == 1 and "no unrevoked setup link" in unknown.output

    records = table_storage.activity().page(tenant, limit=20).records
    events = sorted((r.operation, r.resource_id) for r in records if r.resource_type == "SetupLink")
    assert events == [("setup-link created", minted["linkId"]), ("setup-link revoked", minted["linkId"])]
    assert all(r.detail.startswith("by cli") for r in records if r.resource_type == "SetupLink")


def test_an_expired_link_reveals_nothing_and_its_unseen_credential_is_swept(
    cli: Cli, cli_env: dict[str, str], table_storage: TableStorage, tenant: str
) -> None:
    first = ok_json(cli("tenant", "create", tenant, "--json"))["secretToken"]
    minted = ok_json(cli("tenant", "setup-link", tenant, "--expires", "5m", "--json"))
    later = lambda: datetime.now(UTC) + timedelta(minutes=6)  # noqa: E731 - a clock
    opened, credentials = reveal(door(cli_env, table_storage, later), tenant, minted["url"])
    assert opened.state is LinkState.EXPIRED and credentials is None
    settings = Settings.from_environ(cli_env)
    tenants = build_tenant_service(settings, table_storage)
    links = SetupLinks(
        table_storage,
        tenants,
        build_client_service(settings, tenants),
        LocalSecretStore(Path(cli_env["SCIM_LOCAL_SECRETS_FILE"])),
        public_base_url=BASE,
        clock=later,
    )
    assert links.sweep(tenant, by="api:test") == 1
    assert accepted(cli_env, secret_name(tenant)) == (first,)
    assert [state for _, state in links.links(tenant)] == [LinkState.EXPIRED]


def test_a_disabled_tenant_and_a_recreated_one_reveal_nothing(
    cli: Cli, cli_env: dict[str, str], table_storage: TableStorage, tenant: str
) -> None:
    ok_json(cli("tenant", "create", tenant, "--json"))
    url = ok_json(cli("tenant", "setup-link", tenant, "--json"))["url"]
    ok_json(cli("tenant", "disable", tenant, "--json"))
    opener = door(cli_env, table_storage)
    assert reveal(opener, tenant, url)[0].state is LinkState.TENANT_DISABLED
    refused = cli("tenant", "setup-link", tenant)
    assert refused.exit_code == 1 and "disabled" in refused.output
    ok_json(cli("tenant", "delete", tenant, "--yes", "--json"))
    ok_json(cli("tenant", "create", tenant, "--json"))
    assert reveal(opener, tenant, url)[0].state is LinkState.UNKNOWN  # the old link died with the old tenant


def test_an_oauth_tenant_link_reveals_the_four_values(
    cli: Cli, cli_env: dict[str, str], table_storage: TableStorage, tenant: str
) -> None:
    created = ok_json(cli("tenant", "create", tenant, "--auth", "oauth", "--json"))
    minted = ok_json(cli("tenant", "setup-link", tenant, "--json"))
    assert minted["kind"] == "oauth"
    _, credentials = reveal(door(cli_env, table_storage), tenant, minted["url"])
    assert credentials is not None and credentials.kind == "oauth"
    assert (credentials.tenant_url, credentials.token_endpoint, credentials.client_id) == (
        f"{BASE}/scim/v2/{tenant}",
        f"{BASE}/oauth2/token",
        tenant,
    )
    assert set(accepted(cli_env, client_secret_name(tenant))) == {created["clientSecret"], credentials.secret}


def test_wrong_codes_and_expiry_values_are_refused(
    cli: Cli, cli_env: dict[str, str], table_storage: TableStorage, tenant: str
) -> None:
    ok_json(cli("tenant", "create", tenant, "--json"))
    opener = door(cli_env, table_storage)
    assert opener.open(tenant, "x" * 43).state is LinkState.UNKNOWN
    assert opener.open(tenant, "short").state is LinkState.UNKNOWN
    assert opener.open("Not-A-Tenant", "x" * 43).state is LinkState.UNKNOWN
    for bad in ("0h", "31d", "72", "soon"):
        result = cli("tenant", "setup-link", tenant, "--expires", bad)
        assert result.exit_code == 1 and ("--expires" in result.output or "at most" in result.output)
    assert ok_json(cli("tenant", "setup-link", tenant, "--list", "--json")) == []


def test_the_service_records_an_api_caller_and_the_activity_view_shows_the_events(
    cli: Cli, cli_env: dict[str, str], table_storage: TableStorage, tenant: str
) -> None:
    """The management API's door: the same service, the caller's name in the activity log."""
    ok_json(cli("tenant", "create", tenant, "--json"))
    settings = Settings.from_environ(cli_env)
    tenants = build_tenant_service(settings, table_storage)
    links = SetupLinks(
        table_storage,
        tenants,
        build_client_service(settings, tenants),
        LocalSecretStore(Path(cli_env["SCIM_LOCAL_SECRETS_FILE"])),
        public_base_url=BASE,
    )
    minted = links.mint(tenant, by="api:provisioning-portal", expires=timedelta(hours=1))
    reveal(door(cli_env, table_storage), tenant, minted.url)
    assert [row.link_id for row in links.revoke(tenant, minted.row.link_id, by="api:provisioning-portal")] == [
        minted.row.link_id
    ]
    shown = ok_json(cli("tenant", "activity", tenant, "--json"))
    events = {(r["operation"], r["detail"].split(";")[0]) for r in shown["records"] if r["resourceType"] == "SetupLink"}
    assert events == {
        ("setup-link created", "by api:provisioning-portal"),
        ("setup-link opened", "by the setup page"),
        ("setup-link revoked", "by api:provisioning-portal"),
    }


def test_the_route_answers_get_and_post_only_and_never_logs_the_code(
    cli: Cli, cli_env: dict[str, str], table_storage: TableStorage, tenant: str, caplog: pytest.LogCaptureFixture
) -> None:
    ok_json(cli("tenant", "create", tenant, "--json"))
    url = ok_json(cli("tenant", "setup-link", tenant, "--json"))["url"]
    code = code_of(url)
    pages = SetupPages(door(cli_env, table_storage), build_activity_report(table_storage), public_base_url=BASE)
    api = SimpleNamespace(operator=SimpleNamespace(setup=pages))
    route = next(r for r in ROUTE_TABLE if r.name == "setup")
    assert route.handler is not None

    def send(method: str, **headers: str) -> Any:
        request = Request.build(method, url, route_params={"tenant": tenant, "code": code}, headers=headers)
        return route.handler(cast(Any, api), request)

    with caplog.at_level(logging.INFO):
        assert send("GET").status == 200
        assert send("HEAD").status == 200
        put = send("PUT")
        assert put.status == 405 and put.headers["Allow"] == "GET, HEAD, POST"
        assert send("POST", **{"Sec-Fetch-Site": "cross-site"}).status == 403
        revealed = send("POST", **{"Sec-Fetch-Site": "same-origin"})
    assert revealed.status == 200 and b'id="secret-token"' in revealed.body
    assert all(code not in record.getMessage() for record in caplog.records)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.getMessage().startswith('{"event"')]
    assert [(line["operation"], line["status"]) for line in lines] == [
        ("setup", 200),
        ("setup", 200),
        ("setup", 405),
        ("setup", 403),
        ("setup", 200),
    ]


def test_a_new_link_replaces_one_nobody_opened(
    cli: Cli, cli_env: dict[str, str], table_storage: TableStorage, tenant: str
) -> None:
    first = ok_json(cli("tenant", "create", tenant, "--json"))["secretToken"]
    old = ok_json(cli("tenant", "setup-link", tenant, "--json"))
    new = ok_json(cli("tenant", "setup-link", tenant, "--json"))  # not refused by the two-valid-tokens rule
    states = {
        link["linkId"]: link["state"] for link in ok_json(cli("tenant", "setup-link", tenant, "--list", "--json"))
    }
    assert states == {old["linkId"]: "revoked", new["linkId"]: "ready"}
    opener = door(cli_env, table_storage)
    assert reveal(opener, tenant, old["url"])[0].state is LinkState.REVOKED
    _, credentials = reveal(opener, tenant, new["url"])
    assert credentials is not None and set(accepted(cli_env, secret_name(tenant))) == {first, credentials.secret}
    odd = cli("tenant", "setup-link", tenant, "--revoke", "é-not-an-id")
    assert odd.exit_code == 1 and "no unrevoked setup link" in odd.output


class DownReport:
    """The activity figures' storage not answering."""

    def status(self, tenant: str) -> Any:
        raise StorageUnavailableError("Table Storage answered 503")


def test_the_reveal_shows_the_credential_even_when_the_figures_cannot_be_read(
    cli: Cli, cli_env: dict[str, str], table_storage: TableStorage, tenant: str
) -> None:
    ok_json(cli("tenant", "create", tenant, "--json"))
    url = ok_json(cli("tenant", "setup-link", tenant, "--json"))["url"]
    pages = SetupPages(door(cli_env, table_storage), cast(Any, DownReport()), public_base_url=BASE)
    params = {"tenant": tenant, "code": code_of(url)}
    shown = pages.handle(Request.build("GET", url, route_params=params))
    assert shown.status == 503 and b"Nothing was used up" in shown.body
    revealed = pages.handle(Request.build("POST", url, route_params=params, headers={"Origin": BASE}))
    assert revealed.status == 200 and b'id="secret-token"' in revealed.body and b'id="license"' not in revealed.body
