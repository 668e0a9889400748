"""Where a running `make run` is: the ports it chose, recorded in its state directory, and the store the
operator CLI therefore talks to.

`make run` writes `<state>/run.json` once its Azurite listens and removes it when it stops. The CLI reads
it instead of assuming the default ports, so a second checkout's emulator on 10002 is never mistaken for
this one's; a setting that disagrees with the running instance is an error that says what to set.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

from scim.settings import PROJECT_ROOT, Settings, SettingsError, azurite_connection_string, with_env_file

STATE_FILE = "run.json"


@dataclass(frozen=True)
class RunState:
    """What a running `make run` chose: its process, the endpoint's port and Azurite's ports."""

    pid: int
    port: int
    table_port: int
    queue_port: int
    public_base_url: str

    def write(self, state_dir: Path) -> Path:
        state_dir.mkdir(parents=True, exist_ok=True)
        path = state_dir / STATE_FILE
        path.write_text(json.dumps(asdict(self)), encoding="utf-8")
        return path


def state_dir(environ: Mapping[str, str]) -> Path:
    """`make run`'s state directory: SCIM_STATE_DIR, or .local/ in the checkout."""
    return Path(environ.get("SCIM_STATE_DIR") or PROJECT_ROOT / ".local")


def clear(state: Path, pid: int) -> None:
    """Remove the record if it is this process's (a second `make run` that failed must not remove the first's)."""
    found = read(state)
    if found is not None and found.pid == pid:
        with contextlib.suppress(FileNotFoundError):
            (state / STATE_FILE).unlink()


def read(state: Path) -> RunState | None:
    """The recorded instance, or None if there is no readable record."""
    try:
        data = json.loads((state / STATE_FILE).read_text(encoding="utf-8"))
        return RunState(**data)
    except (OSError, ValueError, TypeError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running(state: Path) -> RunState | None:
    """The `make run` recorded in the state directory, if its process is still alive."""
    found = read(state)
    return found if found is not None and _alive(found.pid) else None


def operator_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """The CLI's environment: explicit storage settings as given, else the running `make run`'s ports.

    SettingsError (saying what to set) when no storage is configured and no `make run` is running, or when
    AZURITE_TABLE_PORT / PORT disagree with the instance that is.
    """
    env = with_env_file(environ)  # the environment over `.env` (what `azd env get-values > .env` wrote)
    if env.get("SCIM_STORAGE_CONNECTION_STRING") or env.get("SCIM_STORAGE_TABLE_ENDPOINT"):
        if not env.get("SCIM_PUBLIC_BASE_URL"):
            env["SCIM_PUBLIC_BASE_URL"] = f"http://127.0.0.1:{env.get('PORT') or 7071}"
        return env
    state = state_dir(env)
    found = running(state)
    if found is None:
        raise SettingsError(
            f"no `make run` is running from {state} (no live {STATE_FILE} there) and no storage is configured: "
            "start `make run` in another terminal (SCIM_STATE_DIR if it uses another state directory), or set "
            "SCIM_STORAGE_TABLE_ENDPOINT, SCIM_SECRET_SOURCE=keyvault and SCIM_KEY_VAULT_URL for Azure "
            "(or SCIM_STORAGE_CONNECTION_STRING for another Azurite)"
        )
    for name, value in (("AZURITE_TABLE_PORT", found.table_port), ("PORT", found.port)):
        given = (env.get(name) or "").strip()
        if given and given != str(value):
            raise SettingsError(
                f"`make run` in {state} uses {name}={value}, but this shell has {name}={given}: "
                f"unset {name} or set {name}={value} (or point SCIM_STATE_DIR at the other instance's state)"
            )
    env["SCIM_STORAGE_CONNECTION_STRING"] = azurite_connection_string(found.table_port)
    env.setdefault("SCIM_STATE_DIR", str(state))
    if not env.get("SCIM_PUBLIC_BASE_URL"):
        env["SCIM_PUBLIC_BASE_URL"] = found.public_base_url
    env["SCIM_MAKE_RUN_PID"] = str(found.pid)
    return env


def describe_store(settings: Settings, environ: Mapping[str, str]) -> str:
    """One line naming the store a command talks to: the `make run` it found, or the endpoints from settings."""
    tables = _table_endpoint(settings)
    secrets = (
        f"Key Vault {settings.key_vault_url}"
        if settings.secret_source == "keyvault"  # noqa: S105 - a setting's value, not a password
        else f"local secrets {settings.local_secrets_path}"
    )
    pid = environ.get("SCIM_MAKE_RUN_PID")
    where = f"`make run` (pid {pid}) in {state_dir(environ)}: " if pid else ""
    more = "".join(f" + data account {account.name}" for account in settings.data_accounts)  # names, never keys
    return f"Store: {where}tables {tables} (prefix {settings.table_prefix}){more}, {secrets}"


def _table_endpoint(settings: Settings) -> str:
    if settings.storage_table_endpoint:
        return settings.storage_table_endpoint
    text = settings.storage_connection_string or ""
    for part in text.split(";"):
        key, _, value = part.partition("=")
        if key.strip().lower() == "tableendpoint":
            parts = urlsplit(value.strip())
            return f"{parts.scheme}://{parts.netloc}{parts.path}"
    if "usedevelopmentstorage=true" in text.lower():
        return "http://127.0.0.1:10002/devstoreaccount1 (UseDevelopmentStorage)"
    account = next((p.split("=", 1)[1] for p in text.split(";") if p.lower().startswith("accountname=")), "?")
    return f"account {account} (SCIM_STORAGE_CONNECTION_STRING)"
