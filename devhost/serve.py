"""Serve `function_app.app` on loopback against storage that is already running: no Azurite, no tenant set-up.

`make run` (devhost.run) starts Azurite and creates the demo tenant itself. Benchmarks that start Azurite
on their own, to count its CPU apart from ours (bench/compare/run.py), start this instead: it reads the same
settings as the Functions host (SCIM_STORAGE_CONNECTION_STRING, SCIM_SECRET_SOURCE, SCIM_STATE_DIR, ...),
prints one line once it listens, and stops on SIGTERM or Ctrl-C.

    python -m devhost.serve --port 7071 [--timers 30] [--log-level INFO]
"""

from __future__ import annotations

import argparse
import logging
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
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")

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


if __name__ == "__main__":
    sys.exit(main())
