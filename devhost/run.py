"""`make run`: Azurite with data on disk, plus the local Functions host, and the values to paste into Entra."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from datetime import UTC, datetime
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import FrameType

from devhost.azurite import ROOT, Azurite, PortInUseError, port_is_free, private_dir
from devhost.server import TimerRunner, make_server
from scim import run_state
from scim.platform.tenants import InvalidTenantIdError, TenantExistsError, check_tenant_id
from scim.secrets import LocalSecretStore, secret_name
from scim.settings import Settings
from scim.wiring import build_tenant_service

STATE = Path(os.environ.get("SCIM_STATE_DIR") or ROOT / ".local")
"""Git-ignored local state: Azurite's data and the local secret store (SCIM_STATE_DIR moves it, for tests)."""


def load_local_settings(path: Path) -> None:
    """Copy local.settings.json Values into the environment, as `func start` does; the environment wins."""
    if not path.exists():
        return
    values = json.loads(path.read_text(encoding="utf-8")).get("Values", {})
    for key, value in values.items():
        os.environ.setdefault(str(key), str(value))


def demo_tenant(tenant_id: str) -> tuple[str, str]:
    """The demo tenant's Tenant URL and Secret Token, created through the operator's code on first run."""
    settings = Settings.from_environ()
    service = build_tenant_service(settings)
    url = service.tenant_url(tenant_id)
    try:
        _, token = service.create(tenant_id, display_name="make run demo")
    except TenantExistsError:
        # Locally the secret store is a file of ours: show the newest valid token again on every start.
        now = datetime.now(UTC)
        valid = [v for v in service.token_versions(tenant_id) if v.usable_at(now)]
        token = (
            LocalSecretStore(settings.local_secrets_path).value(secret_name(tenant_id), valid[0].version)
            if valid
            else None
        )
        if token is None:
            token = service.rotate_token(tenant_id)
    assert token is not None
    return url, token


def banner(port: int, azurite: Azurite, tenant_url: str, token: str) -> str:
    """What a person needs next: the two Entra values, the operator pages, and the CLI."""
    base = f"http://127.0.0.1:{port}"
    return (
        f"\nSCIM endpoint is up (Azurite tables on 127.0.0.1:{azurite.port}, changes queue "
        f"'scim-changes' on 127.0.0.1:{azurite.queue_port}, data in {STATE / 'azurite'})\n"
        f"  Tenant URL:   {tenant_url}\n"
        f"  Secret Token: {token}\n"
        "Entra's provisioning service reaches only public HTTPS URLs: to connect a real Entra tenant,\n"
        "expose this port through an HTTPS tunnel or deploy (README: Deploy to Azure). Ctrl-C stops.\n"
        f"Operator pages: {base}/operator/sign-in (any user name; the password is the operator key,\n"
        "  printed by: .venv/bin/scim-admin operator-key rotate)\n"
        "More tenants, from another terminal: .venv/bin/scim-admin tenant create <id>\n"
        "OAuth2 client credentials instead of a Secret Token: .venv/bin/scim-admin tenant add-client <id>\n"
    )


def _ports() -> tuple[int, int, int]:
    return (
        int(os.environ.get("PORT", "7071")),
        int(os.environ.get("AZURITE_TABLE_PORT", "10002")),
        int(os.environ.get("AZURITE_QUEUE_PORT", "10001")),
    )


def check_ports(port: int, table_port: int, queue_port: int) -> None:
    """PortInUseError for the first port something already listens on (before anything is started)."""
    for number, setting in ((port, "PORT"), (table_port, "AZURITE_TABLE_PORT"), (queue_port, "AZURITE_QUEUE_PORT")):
        if not port_is_free(number):
            raise PortInUseError(number, setting)


def start_services(port: int, table_port: int, queue_port: int) -> tuple[Azurite, ThreadingHTTPServer] | None:
    """Azurite and the bound (not yet serving) host; None, with one line on stderr and nothing left running,
    when a port is taken."""
    azurite = Azurite(port=table_port, queue_port=queue_port, location=STATE / "azurite")
    try:
        check_ports(port, table_port, queue_port)
        azurite.start(log_path=STATE / "azurite.log")
    except PortInUseError as exc:
        print(f"make run: {exc}", file=sys.stderr)
        return None
    import function_app

    try:
        server = make_server(function_app.app, "127.0.0.1", port, ROOT / "host.json")
    except OSError as exc:  # taken between the check and now
        azurite.stop()
        print(f"make run: {PortInUseError(port, 'PORT')} ({exc.strerror})", file=sys.stderr)
        return None
    return azurite, server


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    load_local_settings(ROOT / "local.settings.json")
    port, table_port, queue_port = _ports()
    tenant = os.environ.get("SCIM_TENANT", "demo")
    try:
        check_tenant_id(tenant)
    except InvalidTenantIdError as exc:
        print(f"SCIM_TENANT: {exc}", file=sys.stderr)
        return 2
    private_dir(STATE)  # Azurite's data (users' names and mails) and the local secret store: the owner's only
    other = run_state.running(STATE)
    if other is not None:
        print(
            f"make run: already running from {STATE} (pid {other.pid}, {other.public_base_url}): use that one, "
            "or stop it first (two instances cannot share one state directory; SCIM_STATE_DIR moves it)",
            file=sys.stderr,
        )
        return 1
    started = start_services(port, table_port, queue_port)
    if started is None:
        return 1
    azurite, server = started
    import function_app

    os.environ["SCIM_STORAGE_CONNECTION_STRING"] = azurite.connection_string
    os.environ["SCIM_SECRET_SOURCE"] = "local"
    os.environ["SCIM_STATE_DIR"] = str(STATE)
    os.environ.setdefault("SCIM_PUBLIC_BASE_URL", f"http://127.0.0.1:{port}")
    try:
        tenant_url, token = demo_tenant(tenant)
    except BaseException:
        server.server_close()
        azurite.stop()
        raise
    record = run_state.RunState(os.getpid(), port, azurite.port, azurite.queue_port, os.environ["SCIM_PUBLIC_BASE_URL"])
    record.write(STATE)
    timers = TimerRunner(function_app.app, float(os.environ.get("DEVHOST_TIMER_SECONDS", "30"))).start()

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(banner(port, azurite, tenant_url, token), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        run_state.clear(STATE, os.getpid())
        timers.stop()
        server.server_close()
        azurite.stop()
        print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
