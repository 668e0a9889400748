"""Data accounts: the SCIM_DATA_ACCOUNTS setting and the placement rule the operator sees (issue 24)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from scim.platform.accounts import AccountLoad, account_loads, place
from scim.settings import DataAccount, Settings, SettingsError
from scim.store import DataAccounts, MemoryStorage, TenantRow, UnknownAccountError

BASE = {"SCIM_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true"}
AZURITE = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;TableEndpoint=http://127.0.0.1:1/devstoreaccount1;"
    "QueueEndpoint=http://127.0.0.1:2/devstoreaccount1;"
)


def test_no_setting_is_one_account_the_primary() -> None:
    settings = Settings.from_environ(BASE)
    assert settings.data_accounts == ()
    assert settings.account_names == ("primary",)


def test_accounts_are_read_in_order_by_endpoint_or_connection_string() -> None:
    raw = f"data1=https://stdata1.table.core.windows.net/, data2 = {AZURITE}"
    settings = Settings.from_environ({**BASE, "SCIM_DATA_ACCOUNTS": raw})
    assert settings.data_accounts == (
        DataAccount("data1", table_endpoint="https://stdata1.table.core.windows.net/"),
        DataAccount("data2", connection_string=AZURITE),
    )
    assert settings.account_names == ("primary", "data1", "data2")


@pytest.mark.parametrize(
    ("raw", "says"),
    [
        ("data1", "name=<table endpoint"),
        ("Data1=https://a.table.core.windows.net", "not an account name"),
        ("primary=https://a.table.core.windows.net", "not an account name"),
        ("d=https://a.table.core.windows.net,d=https://b.table.core.windows.net", "twice"),
        ("d=stdata1", "https table endpoint or a connection string"),
    ],
)
def test_a_bad_account_list_names_the_setting(raw: str, says: str) -> None:
    with pytest.raises(SettingsError, match="SCIM_DATA_ACCOUNTS") as caught:
        Settings.from_environ({**BASE, "SCIM_DATA_ACCOUNTS": raw})
    assert says in str(caught.value)


def test_each_account_has_its_own_queue_beside_its_tables() -> None:
    raw = f"data1=https://stdata1.table.core.windows.net/,data2={AZURITE},cn=https://stcn.table.core.chinacloudapi.cn"
    settings = Settings.from_environ({**BASE, "SCIM_DATA_ACCOUNTS": raw})
    data1, data2, cn = settings.data_accounts
    assert data1.queue_endpoint == "https://stdata1.queue.core.windows.net/"
    assert cn.queue_endpoint == "https://stcn.queue.core.chinacloudapi.cn/"
    assert data2.queue_endpoint is None and data2.has_queue  # the connection string's QueueEndpoint
    assert settings.publishes_changes


@pytest.mark.parametrize(
    "value",
    [
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;TableEndpoint=http://127.0.0.1:1/devstoreaccount1;",
        "https://scim-data.example.com/",  # a custom domain: its queue cannot be told from it
    ],
)
def test_an_account_without_a_queue_is_refused_when_the_primary_publishes(value: str) -> None:
    with pytest.raises(SettingsError, match="'second' has no queue service") as caught:
        Settings.from_environ({**BASE, "SCIM_DATA_ACCOUNTS": f"second={value}"})
    assert "QueueEndpoint" in str(caught.value)
    # Without a queue on the primary the deployment publishes nothing, and the account is accepted as it is.
    quiet = {
        "SCIM_STORAGE_CONNECTION_STRING": AZURITE.replace("QueueEndpoint=http://127.0.0.1:2/devstoreaccount1;", "")
    }
    settings = Settings.from_environ({**quiet, "SCIM_DATA_ACCOUNTS": f"second={value}"})
    assert not settings.publishes_changes and not settings.data_accounts[0].has_queue


def row(tenant: str, account: str | None) -> TenantRow:
    return TenantRow(tenant, tenant, datetime.now(UTC), True, None, account=account)


def test_a_row_naming_no_account_counts_on_the_primary() -> None:
    loads = account_loads(("primary", "d1"), [row("a", None), row("b", "primary"), row("c", "d1")])
    assert loads == [AccountLoad("primary", 2, True), AccountLoad("d1", 1, False)]


def test_the_account_with_fewest_tenants_is_chosen_ties_to_the_first_listed() -> None:
    assert place([AccountLoad("primary", 0, True), AccountLoad("d1", 0, False)]).account == "primary"
    chosen = place([AccountLoad("primary", 3, True), AccountLoad("d1", 1, False), AccountLoad("d2", 1, False)])
    assert chosen.account == "d1"
    assert chosen.reason == "fewest tenants, ties to the account listed first: d1 holds 1 (others: primary 3, d2 1)"
    assert place([AccountLoad("primary", 5, True)]).reason == "the deployment's only data account"


def test_the_operator_may_choose_a_configured_account_only() -> None:
    loads = [AccountLoad("primary", 0, True), AccountLoad("d1", 9, False)]
    assert place(loads, "d1").account == "d1"
    with pytest.raises(ValueError, match=r"no data account .d9.*primary, d1"):
        place(loads, "d9")


def test_a_row_naming_no_account_reads_the_primary_and_an_unlisted_one_is_an_error() -> None:
    primary, second = MemoryStorage(), MemoryStorage()
    accounts = DataAccounts({"primary": primary, "second": second})
    assert accounts.get(None) is primary and accounts.get("") is primary
    assert accounts.get("second") is second
    with pytest.raises(UnknownAccountError, match="'gone' is not configured"):
        accounts.get("gone")
