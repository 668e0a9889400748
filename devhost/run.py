"""`make run`: Azurite with data on disk, plus the local Functions host, and the values to paste into Entra."""

from __future__ import annotations

import json
import logging
import os
import secrets
import signal
import sys
from pathlib import Path
from types import FrameType

from devhost.azurite import ROOT, Azurite
from devhost.server import TimerRunner, make_server
from scim.auth import TENANT_RE

STATE = Path(os.environ.get("SCIM_STATE_DIR") or ROOT / ".local")
"""Git-ignored local state: the generated token and Azurite's data (SCIM_STATE_DIR moves it, for tests)."""


def load_local_settings(path: Path) -> None:
    """Copy local.settings.json Values into the environment, as `func start` does; the environment wins."""
    if not path.exists():
        return
    values = json.loads(path.read_text(encoding="utf-8")).get("Values", {})
    for key, value in values.items():
        os.environ.setdefault(str(key), str(value))


def local_token() -> str:
    """SCIM_TOKEN, or a strong random token generated once and kept in .local/ (git-ignored)."""
    if os.environ.get("SCIM_TOKEN"):
        return os.environ["SCIM_TOKEN"]
    path = STATE / "token"
    if path.exists() and path.read_text(encoding="utf-8").strip():
        return path.read_text(encoding="utf-8").strip()
    STATE.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    path.touch(mode=0o600)
    path.write_text(token + "\n", encoding="utf-8")
    return token


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    load_local_settings(ROOT / "local.settings.json")
    port = int(os.environ.get("PORT", "7071"))
    tenant = os.environ.get("SCIM_TENANT", "demo")
    if not TENANT_RE.match(tenant):
        print(f"SCIM_TENANT must be letters, digits and '-', not {tenant!r}", file=sys.stderr)
        return 2
    token = local_token()
    azurite = Azurite(
        port=int(os.environ.get("AZURITE_TABLE_PORT", "10002")),
        queue_port=int(os.environ.get("AZURITE_QUEUE_PORT", "10001")),
        location=STATE / "azurite",
    )
    azurite.start(log_path=STATE / "azurite.log")
    os.environ["SCIM_STORAGE_CONNECTION_STRING"] = azurite.connection_string
    os.environ["SCIM_SECRET_SOURCE"] = "local"
    os.environ["SCIM_LOCAL_TOKENS"] = json.dumps({tenant: token})

    import function_app

    server = make_server(function_app.app, "127.0.0.1", port, ROOT / "host.json")
    timers = TimerRunner(function_app.app, float(os.environ.get("DEVHOST_TIMER_SECONDS", "30"))).start()

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(
        f"\nSCIM endpoint is up (Azurite tables on 127.0.0.1:{azurite.port}, changes queue "
        f"'scim-changes' on 127.0.0.1:{azurite.queue_port}, data in {STATE / 'azurite'})\n"
        f"  Tenant URL:   http://127.0.0.1:{port}/scim/v2/{tenant}\n"
        f"  Secret Token: {token}\n"
        "Entra's provisioning service reaches only public HTTPS URLs: to connect a real Entra tenant,\n"
        "expose this port through an HTTPS tunnel or deploy (README: Deploy to Azure). Ctrl-C stops.\n",
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
