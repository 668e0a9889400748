"""Serve `function_app.app` on loopback against storage that is already running: no Azurite, no tenant set-up.

`make run` (devhost.run) starts Azurite and creates the demo tenant itself. Benchmarks that start Azurite
on their own, to count its CPU apart from ours (bench/compare/run.py), start this instead: it reads the same
settings as the Functions host (SCIM_STORAGE_CONNECTION_STRING, SCIM_SECRET_SOURCE, SCIM_STATE_DIR, ...),
prints one line once it listens, and stops on SIGTERM or Ctrl-C.

    python -m devhost.serve --port 7071 [--timers 30] [--log-level INFO]

With --memory-store it needs no storage at all: the API runs on scim.store.MemoryStorage (the in-memory twin of
Table Storage, gone when the process ends), and --tenant registers that tenant in it with the Secret Token
already in the local secrets file (SCIM_STATE_DIR/secrets.json). This is for benchmarks only
(`make bench-compare COMPARE_ARGS="--store memory"`); the product, `make run` and the tests use Azurite.

    python -m devhost.serve --port 0 --memory-store --tenant compare
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import signal
import sys
from types import FrameType

from devhost.azurite import ROOT
from devhost.server import TimerRunner, make_server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=7071, help="0 picks a free port (printed)")
    parser.add_argument("--timers", type=float, default=0.0, help="run the timer functions every N s (0: never)")
    parser.add_argument("--log-level", default="WARNING", help="WARNING keeps the per-request lines out")
    parser.add_argument("--memory-store", action="store_true", help="tables in this process's memory (benchmarks)")
    parser.add_argument(
        "--tenant",
        action="append",
        default=[],
        help="with --memory-store: register this tenant, keeping its token from the local secrets file",
    )
    args = parser.parse_args(argv)
    if args.tenant and not args.memory_store:
        parser.error("--tenant needs --memory-store (on Azurite, create tenants with scim-admin)")
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if args.memory_store:
        use_memory_store(args.tenant)

    import function_app

    server = make_server(function_app.app, args.host, args.port, ROOT / "host.json")
    timers = TimerRunner(function_app.app, args.timers).start() if args.timers > 0 else None

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(f"listening on http://{args.host}:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if timers is not None:
            timers.stop()
        server.server_close()
    return 0


def use_memory_store(tenants: list[str]) -> None:
    """Install an API on a fresh MemoryStorage as the process-wide one, with `tenants` registered in it."""
    from scim.api import build_api, use_api
    from scim.settings import Settings
    from scim.store import MemoryStorage
    from scim.wiring import build_tenant_service

    # The settings' storage check wants a storage account; none is dialed here, so the placeholder is dropped
    # again, and anything that tried to build a TableStorage from these settings would fail, not connect.
    placeholder = {"SCIM_STORAGE_CONNECTION_STRING": "", "SCIM_STORAGE_TABLE_ENDPOINT": "http://127.0.0.1:9"}
    settings = dataclasses.replace(
        Settings.from_environ({**os.environ, **placeholder}), storage_table_endpoint=None, storage_queue_endpoint=None
    )
    storage = MemoryStorage(table_prefix=settings.table_prefix)
    if tenants:
        service = build_tenant_service(settings, storage)
        for tenant in tenants:
            service.create(tenant, display_name=tenant, keep_existing_token=True)
    use_api(build_api(settings, storage=storage))


if __name__ == "__main__":
    sys.exit(main())
