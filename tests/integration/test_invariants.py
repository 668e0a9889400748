"""The consistency check: what `scim-admin tenant check` reports for a whole tenant, and for each kind of
broken row (written here by hand, as a fault in an older version or a manual edit could leave them)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from devhost.azurite import Azurite
from scim.cli import main
from scim.platform.invariants import check_tenant
from scim.store import TableStorage, index_key, is_counter_key, member_key
from tests.entra_cycle import Client, Plan, in_process_api, run_cycle


def broken_tenant(storage: TableStorage, tenant: str) -> None:
    run_cycle(Client(in_process_api(storage), tenant), Plan())
    users = storage.table_client(storage.table_name("Users"))
    groups = storage.table_client(storage.table_name("Groups"))
    orphan = index_key("userName", "0" * 64, None)
    users.upsert_entity({"PartitionKey": tenant, "RowKey": orphan, "ResourceId": "f" * 32})
    user_id = next(iter(storage.resources("Users").scan(tenant))).id
    groups.upsert_entity({"PartitionKey": tenant, "RowKey": member_key("a" * 32, user_id), "UserId": user_id})
    rows = users.query_entities("PartitionKey eq @pk", parameters={"pk": tenant})
    counter = next(row for row in rows if is_counter_key(str(row["RowKey"])))  # one of the counter shards
    users.upsert_entity({**counter, "Total": int(counter["Total"]) + 1})


def test_a_consistent_tenant_passes_and_broken_rows_are_each_reported(storage: TableStorage, tenant: str) -> None:
    run_cycle(Client(in_process_api(storage), tenant), Plan())
    report = check_tenant(storage, tenant)
    assert report.ok and report.resources == {"Users": 3, "Groups": 1} and report.memberships == 2

    broken_tenant(storage, tenant)
    problems = {v.problem.split(":")[0] for v in check_tenant(storage, tenant).violations}
    assert "orphan index row" in problems
    assert "half membership" in problems
    assert any(p.startswith("group " + "a" * 32) for p in problems)
    assert any(p.startswith("Total is 4") for p in problems)


def test_scim_admin_tenant_check(azurite: Azurite, tmp_path: Path, tenant: str) -> None:
    env = {
        "SCIM_STORAGE_CONNECTION_STRING": azurite.connection_string,
        "SCIM_TABLE_PREFIX": "check",
        "SCIM_SECRET_SOURCE": "local",
        "SCIM_LOCAL_SECRETS_FILE": str(tmp_path / "secrets.json"),
        "SCIM_PUBLIC_BASE_URL": "https://scim.example.net",
    }
    runner = CliRunner()

    def cli(*args: str) -> Any:
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    assert cli("tenant", "create", tenant).exit_code == 0
    storage = TableStorage(connection_string=azurite.connection_string, table_prefix="check")
    run_cycle(Client(in_process_api(storage), tenant), Plan())
    good = cli("tenant", "check", tenant)
    assert good.exit_code == 0 and "3 users, 1 groups, 2 memberships" in good.output and "Consistent." in good.output
    broken_tenant(storage, tenant)
    bad = cli("tenant", "check", tenant, "--json")
    assert bad.exit_code == 1
    report = json.loads(bad.stdout)
    assert report["ok"] is False and len(report["violations"]) >= 4
    assert cli("tenant", "check", "no-such-tenant").exit_code == 1
    storage.close()
