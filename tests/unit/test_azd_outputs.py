"""`azd env get-values > .env` gives the operator CLI its settings: main.bicep's outputs, rendered as azd writes
them, load through Settings as a deployment of this template would give them.

The outputs are read from infra/main.bicep itself (a small reader: `output NAME type = expression`); the
values ARM returns for the resources' properties are filled in as ARM shapes them (a storage account's
primaryEndpoints end in '/', a vault's URI too, a site's defaultHostName is a bare host name).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from scim.cli_operator import Operator
from scim.run_state import operator_environ
from scim.settings import Settings, SettingsError, with_env_file

ROOT = Path(__file__).resolve().parents[2]
MAIN = ROOT / "infra" / "main.bicep"

TOKEN = "abc123xyz"
ARM_VALUES = {
    # module output -> what ARM returns for the property behind it (modules/*.bicep `output ...`)
    "dataStorage.outputs.tableEndpoint": f"https://stdata{TOKEN}.table.core.windows.net/",
    "dataStorage.outputs.queueEndpoint": f"https://stdata{TOKEN}.queue.core.windows.net/",
    "dataStorage.outputs.name": f"stdata{TOKEN}",
    "hostStorage.outputs.name": f"sthost{TOKEN}",
    "keyVault.outputs.uri": f"https://kv-{TOKEN}.vault.azure.net/",
    "keyVault.outputs.name": f"kv-{TOKEN}",
    "functionApp.outputs.name": f"func-scim-{TOKEN}",
    "functionApp.outputs.defaultHostName": f"func-scim-{TOKEN}.azurewebsites.net",
    "tenant().tenantId": "00000000-0000-0000-0000-000000000001",
    "rg.name": "rg-dev",
    "location": "westeurope",
    # main.bicep's join over its more data accounts, as deployed with dataAccountCount=3
    "moreDataAccounts": f"data2=https://stdata2{TOKEN}.table.core.windows.net/,"
    f"data3=https://stdata3{TOKEN}.table.core.windows.net/",
    # its join of every data account's changes queue, the primary's first, as deployed with dataAccountCount=3
    "changesQueueUrls": ",".join(
        f"https://stdata{n}{TOKEN}.queue.core.windows.net/scim-changes" for n in ("", "2", "3")
    ),
}
CLI_SETTINGS = {
    "SCIM_STORAGE_TABLE_ENDPOINT",
    "SCIM_STORAGE_QUEUE_ENDPOINT",
    "SCIM_SECRET_SOURCE",
    "SCIM_KEY_VAULT_URL",
    "SCIM_PUBLIC_BASE_URL",
    "SCIM_TABLE_PREFIX",
    "SCIM_CHANGES_QUEUE",
    "SCIM_DATA_ACCOUNTS",
}
"""Every setting the CLI needs against Azure (scim/settings.py); the rest keep their defaults."""

_OUTPUT = re.compile(r"^output (\w+) \w+ = (.+)$", re.MULTILINE)
_DECLARED = re.compile(r"^(?:param (\w+) \w+|var (\w+)) = '([^'$]*)'$", re.MULTILINE)
_INTERPOLATION = re.compile(r"\$\{([^}]+)\}")


def render(expression: str, literals: dict[str, str]) -> str:
    """The value of an output expression: a literal, a parameter's default or a variable, an ARM value."""
    expression = expression.strip()
    if expression.startswith("'") and expression.endswith("'"):
        return _INTERPOLATION.sub(lambda m: render(m.group(1), literals), expression[1:-1])
    if expression in literals:
        return literals[expression]
    if expression in ARM_VALUES:
        return ARM_VALUES[expression]
    raise AssertionError(f"this test cannot render {expression!r}: add what ARM returns for it to ARM_VALUES")


def rendered_outputs() -> dict[str, str]:
    text = MAIN.read_text()
    literals = {(m.group(1) or m.group(2)): m.group(3) for m in _DECLARED.finditer(text)}
    return {name: render(expression, literals) for name, expression in _OUTPUT.findall(text)}


def azd_env_file(outputs: dict[str, str]) -> str:
    """What `azd env get-values` prints: azd's own values, then every output, as KEY="value" lines."""
    values = {"AZURE_ENV_NAME": "dev", "AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000002", **outputs}
    return "".join(f'{key}="{value}"\n' for key, value in values.items())


def test_main_bicep_outputs_every_setting_the_cli_needs_under_its_own_name() -> None:
    outputs = rendered_outputs()
    assert outputs.keys() >= CLI_SETTINGS, CLI_SETTINGS - outputs.keys()


def test_azd_env_get_values_into_dot_env_is_the_cli_s_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / ".env").write_text(azd_env_file(rendered_outputs()))
    monkeypatch.chdir(tmp_path)  # the README's step: run scim-admin where `azd env get-values > .env` wrote
    settings = Operator(environ={}).settings
    assert settings.storage_connection_string is None  # Azure, not make run's Azurite
    assert settings.storage_table_endpoint == f"https://stdata{TOKEN}.table.core.windows.net/"
    assert settings.storage_queue_endpoint == f"https://stdata{TOKEN}.queue.core.windows.net/"
    assert settings.secret_source == "keyvault"
    assert settings.key_vault_url == f"https://kv-{TOKEN}.vault.azure.net/"
    assert settings.public_base_url == f"https://func-scim-{TOKEN}.azurewebsites.net"
    assert settings.table_prefix == "scim"
    assert settings.changes_queue == "scim-changes"
    assert settings.managed_identity_client_id is None  # the CLI acts as the signed-in operator
    assert settings.publishes_changes
    assert settings.account_names == ("primary", "data2", "data3")
    assert settings.data_accounts[1].table_endpoint == f"https://stdata3{TOKEN}.table.core.windows.net/"


def test_the_queue_urls_output_names_the_queue_each_account_publishes_to() -> None:
    """The platform's consumer reads SCIM_CHANGES_QUEUE_URLS: exactly the queues the app sends to, one per account."""
    outputs = rendered_outputs()
    settings = Settings.from_environ(outputs)
    sent_to = [f"{settings.storage_queue_endpoint}{settings.changes_queue}"]
    sent_to += [f"{account.queue_endpoint}{settings.changes_queue}" for account in settings.data_accounts]
    assert outputs["SCIM_CHANGES_QUEUE_URLS"].split(",") == sent_to
    assert len(set(sent_to)) == len(settings.account_names) == 3
    assert outputs["SCIM_CHANGES_QUEUE_URL"] == sent_to[0]  # the primary's, as before


def test_the_environment_wins_over_the_file_and_none_reads_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text(azd_env_file(rendered_outputs()))
    monkeypatch.chdir(tmp_path)
    mine = Settings.from_environ(operator_environ({"SCIM_TABLE_PREFIX": "mine"}))
    assert mine.table_prefix == "mine" and mine.secret_source == "keyvault"
    # No file read: no storage is configured, so the CLI looks for a running `make run` and says what to set.
    with pytest.raises(SettingsError, match="no `make run` is running"):
        operator_environ({"SCIM_ENV_FILE": "none", "SCIM_STATE_DIR": str(tmp_path / "no-run")})


def test_a_named_settings_file_is_read_and_a_missing_one_is_an_error(tmp_path: Path) -> None:
    named = tmp_path / "azure.env"
    named.write_text(azd_env_file(rendered_outputs()))
    assert with_env_file({"SCIM_ENV_FILE": str(named)})["SCIM_SECRET_SOURCE"] == "keyvault"
    with pytest.raises(SettingsError, match="SCIM_ENV_FILE"):
        with_env_file({"SCIM_ENV_FILE": str(tmp_path / "absent.env")})
