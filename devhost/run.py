"""`make run`: Azurite with data on disk, plus the local Functions host, and the values to paste into Entra."""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from devhost.azurite import ROOT, Azurite, private_dir
from devhost.server import TimerRunner, make_server
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


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    load_local_settings(ROOT / "local.settings.json")
    port = int(os.environ.get("PORT", "7071"))
    tenant = os.environ.get("SCIM_TENANT", "demo")
    try:
        check_tenant_id(tenant)
    except InvalidTenantIdError as exc:
        print(f"SCIM_TENANT: {exc}", file=sys.stderr)
        return 2
    private_dir(STATE)  # Azurite's data (users' names and mails) and the local secret store: the owner's only
    azurite = Azurite(
        port=int(os.environ.get("AZURITE_TABLE_PORT", "10002")),
        queue_port=int(os.environ.get("AZURITE_QUEUE_PORT", "10001")),
        location=STATE / "azurite",
    )
    azurite.start(log_path=STATE / "azurite.log")
    os.environ["SCIM_STORAGE_CONNECTION_STRING"] = azurite.connection_string
    os.environ["SCIM_SECRET_SOURCE"] = "local"
    os.environ["SCIM_STATE_DIR"] = str(STATE)
    os.environ.setdefault("SCIM_PUBLIC_BASE_URL", f"http://127.0.0.1:{port}")
    try:
        tenant_url, token = demo_tenant(tenant)
    except Exception:
        azurite.stop()
        raise

    import function_app

    server = make_server(function_app.app, "127.0.0.1", port, ROOT / "host.json")
    timers = TimerRunner(function_app.app, float(os.environ.get("DEVHOST_TIMER_SECONDS", "30"))).start()

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(
        f"\nSCIM endpoint is up (Azurite tables on 127.0.0.1:{azurite.port}, changes queue "
        f"'scim-changes' on 127.0.0.1:{azurite.queue_port}, data in {STATE / 'azurite'})\n"
        f"  Tenant URL:   {tenant_url}\n"
        f"  Secret Token: {token}\n"
        "Entra's provisioning service reaches only public HTTPS URLs: to connect a real Entra tenant,\n"
        "expose this port through an HTTPS tunnel or deploy (README: Deploy to Azure). Ctrl-C stops.\n"
        "More tenants, from another terminal: .venv/bin/scim-admin tenant create <id>\n"
        "OAuth2 client credentials instead of a Secret Token: .venv/bin/scim-admin tenant add-client <id>\n",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        timers.stop()
        server.server_close()
        azurite.stop()
        print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
