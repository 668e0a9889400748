"""Two data accounts end to end (issue 24): two Azurites (table and queue services) as two storage accounts,
tenants placed on each by the operator's CLI, served over HTTP, swept and operated per account; a tenant's
rows and change messages are read raw from both emulators to prove they are on its own account only."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.queue import QueueClient, TextBase64DecodePolicy
from click.testing import CliRunner, Result

import function_app
from devhost.azurite import ROOT, Azurite
from devhost.server import make_server, serve_in_thread
from examples.consumer import PlatformStore, consume, open_queues
from scim import api
from scim.cli import main
from scim.settings import Settings, azurite_connection_string
from scim.store import TableStorage, TenantRow, TenantTable
from tests.integration.conftest import receive_all

KINDS = ("Users", "Groups", "Activity")
BOTH = (("alpha", "primary"), ("beta", "second"))


class Accounts:
    """The run's two accounts, the settings naming them, and raw readers of each emulator."""

    def __init__(self, primary: Azurite, second: Azurite, tmp: Path) -> None:
        self.prefix = f"acct{uuid.uuid4().hex[:8]}"
        self.queue = f"q-{uuid.uuid4().hex[:20]}"
        # Each account's tables and its changes queue, the same queue name on each.
        self.connection = {"primary": primary.connection_string, "second": second.connection_string}
        self.primary_connection = primary.connection_string
        self.environ = {
            "SCIM_TABLE_PREFIX": self.prefix,
            "SCIM_SECRET_SOURCE": "local",
            "SCIM_LOCAL_SECRETS_FILE": str(tmp / "secrets.json"),
            "SCIM_TENANT_CACHE_SECONDS": "1",
            "SCIM_PUBLIC_BASE_URL": "https://scim.example.net",
            "SCIM_CHANGES_QUEUE": self.queue,
            # The served app publishes nothing (no QueueEndpoint): what reaches the queue is the sweep's work.
            "SCIM_STORAGE_CONNECTION_STRING": azurite_connection_string(primary.port),
            "SCIM_DATA_ACCOUNTS": f"second={second.connection_string}",
        }
        self.raw = {
            "primary": TableStorage(connection_string=primary.connection_string, table_prefix=self.prefix),
            "second": TableStorage(connection_string=azurite_connection_string(second.port), table_prefix=self.prefix),
        }

    def rows(self, account: str, kind: str, tenant: str) -> list[dict[str, Any]]:
        """Every row of the tenant's partition of one table on one emulator, read with the SDK, no service."""
        storage = self.raw[account]
        client = storage.table_client(storage.table_name(kind))
        try:
            return list(client.query_entities("PartitionKey eq @pk", parameters={"pk": tenant}))
        except ResourceNotFoundError:  # the table was never created on this account
            return []

    def cli(self, *args: str) -> Result:
        return CliRunner().invoke(main, list(args), env=self.environ, catch_exceptions=False)

    def json(self, *args: str) -> Any:
        result = self.cli(*args, "--json")
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)


@pytest.fixture(scope="module")
def accounts(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Accounts]:
    with Azurite() as second:
        built = Accounts(azurite, second, tmp_path_factory.mktemp("accounts"))
        yield built
        for storage in built.raw.values():
            storage.close()


@pytest.fixture(scope="module")
def tokens(accounts: Accounts) -> dict[str, str]:
    """Three tenants created by the operator: two by the placement rule, one placed by hand."""
    first = accounts.json("tenant", "create", "alpha")
    assert first["account"] == "primary" and "fewest tenants" in first["placement"]
    second = accounts.json("tenant", "create", "beta")  # primary holds one, second none
    assert second["account"] == "second" and "second holds 0" in second["placement"]
    third = accounts.json("tenant", "create", "gamma", "--account", "second")
    assert third["account"] == "second" and "--account" in third["placement"]
    return {t["id"]: t["secretToken"] for t in (first, second, third)}


@pytest.fixture(scope="module")
def base_url(accounts: Accounts, tokens: dict[str, str]) -> Iterator[str]:
    """The Functions app over HTTP with both accounts; the process-wide API is put back afterwards."""
    previous = api._api
    api._api = api.build_api(Settings.from_environ(accounts.environ))
    server = make_server(function_app.app, "127.0.0.1", 0, ROOT / "host.json")
    serve_in_thread(server)
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        api._api = previous


def scim(base_url: str, tenant: str, token: str) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    return httpx.Client(base_url=f"{base_url}/scim/v2/{tenant}", headers=headers, timeout=10)


def provision(base_url: str, tenant: str, token: str) -> dict[str, str]:
    """A user and a group holding it, and one refused request (an activity record), through the HTTP API."""
    with scim(base_url, tenant, token) as http:
        user = http.post(
            "/Users",
            json={
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": f"ada@{tenant}.example",
                "emails": [{"value": f"ada@{tenant}.example", "primary": True}],
                "active": True,
            },
        )
        assert user.status_code == 201, user.text
        group = http.post(
            "/Groups",
            json={
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": f"staff of {tenant}",
                "members": [{"value": user.json()["id"]}],
            },
        )
        assert group.status_code == 201, group.text
        assert http.get(f"/Users/{uuid.uuid4().hex}").status_code == 404
    return {"user": user.json()["id"], "group": group.json()["id"]}


@pytest.fixture(scope="module")
def provisioned(base_url: str, tokens: dict[str, str]) -> dict[str, dict[str, str]]:
    made = {tenant: provision(base_url, tenant, tokens[tenant]) for tenant in ("alpha", "beta")}
    assert api._api is not None and api._api.accounts is not None
    for _, served in api._api.accounts.all():  # the activity records are written off the request path
        assert served.activity is not None and served.activity.flush()
    return made


def test_a_tenants_whole_data_is_on_its_own_account_only(
    accounts: Accounts, provisioned: dict[str, dict[str, str]]
) -> None:
    for tenant, home, other in (("alpha", "primary", "second"), ("beta", "second", "primary")):
        for kind in KINDS:
            assert accounts.rows(home, kind, tenant), f"{tenant}'s {kind} rows are not on {home}"
            assert accounts.rows(other, kind, tenant) == [], f"{tenant} has {kind} rows on {other}"
        stored = {str(row["RowKey"]) for row in accounts.rows(home, "Users", tenant)}
        assert any(provisioned[tenant]["user"] in key for key in stored)
    # The tenants table (the registry) stays on the primary, whichever account a tenant's data is on.
    registry = TenantTable(accounts.raw["primary"]).all()
    placed = {(row.id, row.account) for row in registry}
    assert {("alpha", "primary"), ("beta", "second"), ("gamma", "second")} <= placed
    assert TenantTable(accounts.raw["second"]).all() == []


def test_a_token_opens_its_own_tenant_only(
    base_url: str, tokens: dict[str, str], provisioned: dict[str, dict[str, str]]
) -> None:
    with scim(base_url, "beta", tokens["alpha"]) as http:
        assert http.get("/Users").status_code == 401  # alpha's token, beta's URL
    with scim(base_url, "gamma", tokens["gamma"]) as http:  # same account as beta, another tenant
        assert http.get(f"/Users/{provisioned['beta']['user']}").status_code == 404
        assert http.get("/Groups").json()["totalResults"] == 0
    with scim(base_url, "beta", tokens["beta"]) as http:
        assert http.get(f"/Users/{provisioned['alpha']['user']}").status_code == 404
        listed = http.get("/Users").json()
        assert [u["id"] for u in listed["Resources"]] == [provisioned["beta"]["user"]]


def publishing(accounts: Accounts) -> api.ScimApi:
    """A worker that publishes (the timer's, or a served one in Azure): the primary names its queue service."""
    return api.build_api(
        Settings.from_environ({**accounts.environ, "SCIM_STORAGE_CONNECTION_STRING": accounts.primary_connection})
    )


def test_the_sweep_delivers_each_accounts_changes_to_its_own_queue(
    accounts: Accounts, provisioned: dict[str, dict[str, str]]
) -> None:
    # The served app had no queue, so every record waits for the sweep, which walks every account.
    previous, api._api = api._api, publishing(accounts)
    try:
        report = api.sweep_changes()
    finally:
        api._api = previous
    assert not report.failed, report.errors
    queued = {account: receive_all(accounts.connection[account], accounts.queue) for account in accounts.connection}
    for tenant, home in BOTH:
        sent = {(m["tenant"], m["resourceType"], m["id"]) for m in queued[home]}
        assert (tenant, "User", provisioned[tenant]["user"]) in sent
        assert (tenant, "Group", provisioned[tenant]["group"]) in sent
    assert {m["tenant"] for m in queued["primary"]} == {"alpha"}
    assert {m["tenant"] for m in queued["second"]} == {"beta"}


def test_the_cli_works_on_both_accounts(accounts: Accounts, provisioned: dict[str, dict[str, str]]) -> None:
    listed = {t["id"]: t["account"] for t in accounts.json("tenant", "list")}
    assert listed == {"alpha": "primary", "beta": "second", "gamma": "second"}
    loads = accounts.json("tenant", "accounts")
    assert loads["accounts"] == [
        {"name": "primary", "tenants": 1, "primary": True},
        {"name": "second", "tenants": 2, "primary": False},
    ]
    assert loads["next"] == "primary"
    for tenant in ("alpha", "beta"):
        shown = accounts.json("tenant", "show", tenant)
        assert (shown["users"], shown["activeUsers"], shown["groups"]) == (1, 1, 1)
        checked = accounts.json("tenant", "check", tenant)  # the invariant checker, on the tenant's account
        assert checked["ok"] and checked["violations"] == []
        assert checked["resources"] == {"Users": 1, "Groups": 1} and checked["memberships"] == 1
        changes = accounts.json("tenant", "changes", tenant)
        assert {(c["resourceType"], c["id"]) for c in changes} >= {
            ("User", provisioned[tenant]["user"]),
            ("Group", provisioned[tenant]["group"]),
        }
        status = accounts.json("tenant", "status", tenant)
        assert status["users"]["total"] == 1 and status["groups"] == 1
        assert status["last24h"]["requests"] >= 3
        refused = accounts.json("tenant", "activity", tenant, "--errors")
        assert 404 in [r["status"] for r in refused["records"]]  # the answers' log is on the tenant's account


# Before the tests that delete tenants: the server's directory may cache a tenant as absent while a test has it
# deleted (its activity recorder looks tenants up off the request path), for up to SCIM_TENANT_CACHE_SECONDS.
def test_the_operator_pages_show_a_tenant_of_either_account(
    accounts: Accounts, base_url: str, provisioned: dict[str, dict[str, str]]
) -> None:
    key = accounts.json("operator-key", "rotate")["operatorKey"]
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {key}"}, timeout=10) as http:
        for tenant in ("alpha", "beta"):
            page = http.get(f"/operator/tenants/{tenant}")
            assert page.status_code == 200, page.text
            assert f"ada@{tenant}.example" in http.get(f"/operator/tenants/{tenant}/activity").text


def test_delete_empties_the_tenants_partitions_on_its_account(accounts: Accounts, base_url: str) -> None:
    created = accounts.json("tenant", "create", "delta", "--account", "second")
    provision(base_url, "delta", created["secretToken"])
    assert accounts.rows("second", "Users", "delta")
    result = accounts.cli("tenant", "delete", "delta", "--yes")
    assert result.exit_code == 0, result.output
    assert accounts.rows("second", "Users", "delta") == [] and accounts.rows("second", "Groups", "delta") == []


def test_a_row_naming_no_account_is_on_the_primary_and_an_unknown_one_is_refused(
    accounts: Accounts, base_url: str, tokens: dict[str, str]
) -> None:
    # A tenant registered before there were several accounts: its row names none, and it stays on the primary.
    old = accounts.json("tenant", "create", "legacy", "--account", "primary")
    table = TenantTable(accounts.raw["primary"])
    row = table.get("legacy")
    assert row is not None and row.account == "primary"
    table.update(TenantRow(**{**row.__dict__, "account": None}))
    assert accounts.json("tenant", "show", "legacy")["account"] == "primary"
    made = provision(base_url, "legacy", old["secretToken"])
    assert any(made["user"] in str(r["RowKey"]) for r in accounts.rows("primary", "Users", "legacy"))
    assert accounts.rows("second", "Users", "legacy") == []
    # A row naming an account the settings do not list: refused with a SCIM 500, and nothing written anywhere.
    lost = accounts.json("tenant", "create", "lost", "--account", "second")
    row = table.get("lost")
    assert row is not None
    table.update(TenantRow(**{**row.__dict__, "account": "gone"}))
    with scim(base_url, "lost", lost["secretToken"]) as http:  # no worker has read lost's row before
        answer = http.post(
            "/Users", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "bob@lost.example"}
        )
        assert answer.status_code == 500
        assert answer.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    for account in ("primary", "second"):
        assert accounts.rows(account, "Users", "lost") == []
    shown = accounts.cli("tenant", "show", "lost")
    assert shown.exit_code == 1 and "data account 'gone' is not configured" in shown.output


def test_create_refuses_an_account_the_deployment_lacks(accounts: Accounts) -> None:
    result = accounts.cli("tenant", "create", "nowhere", "--account", "third")
    assert result.exit_code == 1 and "no data account 'third'" in result.output
    assert TenantTable(accounts.raw["primary"]).get("nowhere") is None


def test_export_and_import_put_each_tenant_back_on_its_account(
    accounts: Accounts, provisioned: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    before = {t: sorted(str(r["RowKey"]) for r in accounts.rows(a, "Users", t)) for t, a in BOTH}
    passphrase = tmp_path / "passphrase"
    passphrase.write_text("a passphrase long enough\n")
    path = tmp_path / "tenants.jsonl"
    exported = accounts.json(
        "export", str(path), "--tenant", "alpha", "--tenant", "beta", "--passphrase-file", str(passphrase)
    )
    assert exported["tenants"] == ["alpha", "beta"] and exported["rows"]["Users"] > 0
    for tenant in ("alpha", "beta"):
        assert accounts.cli("tenant", "delete", tenant, "--yes").exit_code == 0
    assert all(accounts.rows(a, "Users", t) == [] for t, a in BOTH)
    imported = accounts.json("import", str(path), "--passphrase-file", str(passphrase))
    assert imported["tenants"] == ["alpha", "beta"]
    for tenant, account in BOTH:
        assert sorted(str(r["RowKey"]) for r in accounts.rows(account, "Users", tenant)) == before[tenant]
        assert accounts.json("tenant", "show", tenant)["account"] == account
        assert accounts.json("tenant", "check", tenant)["ok"]
    assert accounts.rows("second", "Users", "alpha") == [] and accounts.rows("primary", "Users", "beta") == []


def test_a_publishing_worker_sends_at_once_to_the_tenants_account_and_the_consumer_reads_both(
    accounts: Accounts, base_url: str
) -> None:
    placed = {"eta": "primary", "theta": "second"}
    made: dict[str, dict[str, str]] = {}
    previous, api._api = api._api, publishing(accounts)
    try:
        for tenant, account in placed.items():
            created = accounts.json("tenant", "create", tenant, "--account", account)
            made[tenant] = provision(base_url, tenant, created["secretToken"])
        assert api._api.accounts is not None
        for _, served in api._api.accounts.all():  # sent right after commit, by each account's own thread
            assert served.delivery is not None and served.delivery.flush()
    finally:
        api._api = previous
    for account, connection in accounts.connection.items():
        # Peeked, not received: the consumer below reads the same messages.
        with QueueClient.from_connection_string(
            connection, accounts.queue, message_decode_policy=TextBase64DecodePolicy()
        ) as client:
            peeked = [json.loads(m.content) for m in client.peek_messages(max_messages=32)]
        assert {m["tenant"] for m in peeked} & set(placed) == {t for t, a in placed.items() if a == account}
    # The platform reads both accounts' queues into one store, interleaved, and ends with both tenants.
    store = PlatformStore()
    queues = open_queues(list(accounts.connection.values()), accounts.queue)
    try:
        consume(queues, store, idle_exit=2.0, echo=False)
    finally:
        for queue in queues:
            queue.close()
    for tenant, ids in made.items():
        assert (tenant, ids["user"]) in store.users and (tenant, ids["group"]) in store.groups
        assert (tenant, ids["group"], ids["user"]) in store.members
        assert store.users[(tenant, ids["user"])]["userName"] == f"ada@{tenant}.example"
