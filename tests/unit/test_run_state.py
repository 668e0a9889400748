"""Which store the operator CLI talks to: the running `make run` its state directory records, or settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scim.run_state import RunState, clear, describe_store, operator_environ, running
from scim.settings import Settings, SettingsError


def record(state: Path, pid: int | None = None) -> RunState:
    found = RunState(pid or os.getpid(), 7171, 10102, 10101, "http://127.0.0.1:7171")
    found.write(state)
    return found


def test_a_running_make_run_is_found_by_its_state_directory(tmp_path: Path) -> None:
    record(tmp_path)
    env = operator_environ({"SCIM_STATE_DIR": str(tmp_path)})
    assert "TableEndpoint=http://127.0.0.1:10102/devstoreaccount1" in env["SCIM_STORAGE_CONNECTION_STRING"]
    assert env["SCIM_PUBLIC_BASE_URL"] == "http://127.0.0.1:7171"
    line = describe_store(Settings.from_environ(env), env)
    assert line.startswith(f"Store: `make run` (pid {os.getpid()}) in {tmp_path}: tables http://127.0.0.1:10102/")
    assert f"local secrets {tmp_path / 'secrets.json'}" in line


def test_no_running_make_run_and_no_setting_is_an_error_that_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="no `make run` is running") as caught:
        operator_environ({"SCIM_STATE_DIR": str(tmp_path)})
    assert "SCIM_STORAGE_TABLE_ENDPOINT" in str(caught.value)
    dead = 2**22 + 12345  # above the default pid_max: no such process
    record(tmp_path, pid=dead)
    assert running(tmp_path) is None
    with pytest.raises(SettingsError, match="no `make run` is running"):
        operator_environ({"SCIM_STATE_DIR": str(tmp_path)})


@pytest.mark.parametrize(("name", "right"), [("AZURITE_TABLE_PORT", 10102), ("PORT", 7171)])
def test_a_port_that_disagrees_with_the_running_instance_is_an_error(tmp_path: Path, name: str, right: int) -> None:
    record(tmp_path)
    with pytest.raises(SettingsError, match=f"set {name}={right}"):
        operator_environ({"SCIM_STATE_DIR": str(tmp_path), name: "10002"})
    assert operator_environ({"SCIM_STATE_DIR": str(tmp_path), name: str(right)})  # agreeing is fine


def test_azure_settings_are_named_as_they_are(tmp_path: Path) -> None:
    env = operator_environ(
        {
            "SCIM_STATE_DIR": str(tmp_path),
            "SCIM_STORAGE_TABLE_ENDPOINT": "https://stscim.table.core.windows.net",
            "SCIM_SECRET_SOURCE": "keyvault",
            "SCIM_KEY_VAULT_URL": "https://kv-scim.vault.azure.net/",
            "SCIM_PUBLIC_BASE_URL": "https://func-scim.azurewebsites.net",
        }
    )
    assert describe_store(Settings.from_environ(env), env) == (
        "Store: tables https://stscim.table.core.windows.net (prefix scim), Key Vault https://kv-scim.vault.azure.net/"
    )


def test_more_data_accounts_are_named_never_their_connection_strings(tmp_path: Path) -> None:
    secret = "AccountKey=c2VjcmV0"
    env = {
        "SCIM_STATE_DIR": str(tmp_path),
        "SCIM_STORAGE_TABLE_ENDPOINT": "https://stscim.table.core.windows.net",
        "SCIM_DATA_ACCOUNTS": f"data2=https://stdata2.table.core.windows.net,local=AccountName=x;{secret};",
    }
    line = describe_store(Settings.from_environ(env), env)
    assert "(prefix scim) + data account data2 + data account local," in line
    assert secret not in line


def test_only_the_instance_that_wrote_the_record_removes_it(tmp_path: Path) -> None:
    found = record(tmp_path)
    clear(tmp_path, found.pid + 1)
    assert running(tmp_path) == found
    clear(tmp_path, found.pid)
    assert running(tmp_path) is None
