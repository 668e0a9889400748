"""Issue 19: names stored with terminal escape sequences are printed escaped by every CLI text output."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from azure.data.tables import TableClient, UpdateMode
from click.testing import CliRunner, Result

from devhost.azurite import Azurite
from scim.cli import main
from scim.resources.users import UserService
from scim.store import ActivityRecord, TableStorage, is_record_key

EVIL = "\u001b]0;pwned\u0007\u001b[2J"
SHOWN = "\\x1b]0;pwned\\x07\\x1b[2J"


def run(env: dict[str, str], *args: str) -> Result:
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_changes_and_activity_print_stored_escape_sequences_escaped(
    azurite: Azurite, tmp_path: Path, tenant: str
) -> None:
    env = {
        "SCIM_STORAGE_CONNECTION_STRING": azurite.connection_string,
        "SCIM_TABLE_PREFIX": "esc",
        "SCIM_SECRET_SOURCE": "local",
        "SCIM_LOCAL_SECRETS_FILE": str(tmp_path / "secrets.json"),
        "SCIM_PUBLIC_BASE_URL": "https://scim.example.net",
    }
    run(env, "tenant", "create", tenant, "--name", f"Contoso {EVIL}")
    storage = TableStorage(connection_string=azurite.connection_string, table_prefix="esc")
    user = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "ada@contoso.com",
        "emails": [{"type": "work", "value": "ada@contoso.com"}],
    }
    created = str(UserService(storage.resources("Users")).create(tenant, user).id)
    # Rows as a tenant could have stored them before names with control characters were refused.
    table = TableClient.from_connection_string(azurite.connection_string, "escUsers")
    rows = table.query_entities("PartitionKey eq @pk", parameters={"pk": tenant})
    record = next(str(row["RowKey"]) for row in rows if is_record_key(str(row["RowKey"])))  # the create's
    table.update_entity(
        {"PartitionKey": tenant, "RowKey": record, "Name": f"{EVIL}\nUsers 99 forged row"},
        mode=UpdateMode.MERGE,
    )
    refusal = ActivityRecord(datetime.now(UTC), "create", "User", "", EVIL, 409, "uniqueness", f"taken: {EVIL}")
    storage.activity().append(tenant, [(refusal, "x")])

    outputs = {
        "changes": run(env, "tenant", "changes", tenant).stdout,
        "activity": run(env, "tenant", "activity", tenant).stdout,
        "errors": run(env, "tenant", "activity", tenant, "--errors").stdout,
        "list": run(env, "tenant", "list").stdout,
        "show": run(env, "tenant", "show", tenant).stdout,
    }
    for command, text in outputs.items():
        assert "\x1b" not in text and "\x07" not in text, command
        assert SHOWN in text, command
    assert len(outputs["changes"].splitlines()) == 2  # a header and one row: no forged row
    assert f"{created} {SHOWN}\\x0aUsers 99 forged row" in outputs["changes"]
    assert f"said: taken: {SHOWN}" in outputs["activity"]

    # JSON output keeps the stored value, escaped as JSON.
    records = json.loads(run(env, "tenant", "activity", tenant, "--json").stdout)["records"]
    assert EVIL in [r["name"] for r in records]
    assert "\x1b" not in run(env, "tenant", "changes", tenant, "--json").output
