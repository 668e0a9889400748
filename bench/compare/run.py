"""Our host and scim2-server side by side (issue #11): the same Entra load against each, alternating, in one run.

Starts a fresh in-memory Azurite (tables only), our local host (devhost.serve, a process of its own) and
scim2-server (in .venv-scim2-server), both on loopback. Each round sends Entra's requests for new users
(bench/compare/load.py: filter miss, POST, GET, two PATCHes) from 8 threads with keep-alive connections to
one server, then the other (the order flips each round, so drift on a busy machine hits both). It reads
the CPU of each server process, of Azurite's node process and of itself from /proc/<pid>/stat around
each phase, estimates the storage client's share of our CPU from a calibration in a fresh process
(bench/compare/storage.py), and times cold starts (Popen to the first answered Test Connection). By default
it does this twice in one run, ours on scim.store.MemoryStorage (no Azurite: what is ours without storage)
and then on Azurite, where it also measures one tenant's writers: POST p50 of 8 writers on our one tenant
against one writer's. The report is plain text, for docs/performance.md.

    make bench-compare                                   # in-memory, then Azurite: 3 rounds of 400 users, 5 cold starts
    make bench-compare COMPARE_ARGS=--quick              # a smoke run, about a minute
    make bench-compare COMPARE_ARGS="--store memory"     # only ours on scim.store.MemoryStorage: no Azurite at all
    python -m bench.compare --scim2-python .venv-scim2-server/bin/python --users 200 --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import IO, Any

from bench.compare.load import (
    Connection,
    PhaseResult,
    Target,
    filter_path,
    probe_shapes,
    process_cpu_seconds,
    run_phase,
)
from bench.compare.report import Report, Writers
from devhost.azurite import ROOT, AzuriteService, connection_string, free_port

TENANT = "compare"
SCIM2_TOKEN = "compare-" + uuid.uuid4().hex


class Server:
    """One server process of ours: started in a session of its own, stopped (and reaped) on stop()."""

    def __init__(self, target: Target, command: list[str], env: dict[str, str], log_path: Path) -> None:
        self.target = target
        self.command = command
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> float:
        """Launch; the perf_counter time just before Popen."""
        self._log = self.log_path.open("ab")
        started = time.perf_counter()
        self.process = subprocess.Popen(
            self.command,
            env=self.env,
            cwd=str(ROOT),
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            start_new_session=True,
        )
        self.target.pid = self.process.pid
        return started

    def wait_ready(self, started: float, timeout: float = 120.0) -> float:
        """Seconds from `started` to the first Test Connection answered 200 with an empty list."""
        deadline = time.monotonic() + timeout
        path = filter_path(self.target, str(uuid.uuid4()))
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{self.target.name} exited ({self.process.returncode}):\n{tail}")
            conn = Connection(self.target)
            status, body, _ = conn.call("GET", path)
            conn.close()
            if status == 200:
                if json.loads(body).get("totalResults") != 0:
                    raise RuntimeError(f"{self.target.name}: Test Connection answered {body[:200]!r}")
                return time.perf_counter() - started
            if status not in (0, 503):
                raise RuntimeError(f"{self.target.name}: Test Connection answered {status} {body[:200]!r}")
            time.sleep(0.005)
        raise RuntimeError(f"{self.target.name} did not answer Test Connection in {timeout:.0f} s")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None


@dataclass
class Tally:
    """Everything measured of one server over the timed phases."""

    result: PhaseResult = field(default_factory=PhaseResult)
    server_cpu: float = 0.0
    azurite_cpu: float = 0.0
    client_cpu: float = 0.0
    round_rates: list[float] = field(default_factory=list)
    cold: list[float] = field(default_factory=list)


def measured_phase(
    target: Target,
    azurite_pid: int | None,
    names: list[str],
    threads: int,
    shapes: dict[str, bool],
    tally: Tally,
    settle: float,
) -> None:
    pids = (target.pid, azurite_pid, os.getpid())

    def cpu() -> list[float]:
        return [0.0 if pid is None else process_cpu_seconds(pid) for pid in pids]

    before = cpu()
    result = run_phase(target, names, threads, shapes)
    time.sleep(settle)  # work a server does just after its answers (activity records) is still its phase's
    after = cpu()
    tally.result.merge(result)
    tally.server_cpu += after[0] - before[0]
    tally.azurite_cpu += after[1] - before[1]
    tally.client_cpu += after[2] - before[2]
    tally.round_rates.append(result.operations / result.seconds)


def calibrate(conn_string: str, calls: int) -> dict[str, Any]:
    """The storage client's CPU per call and our round trips per operation, from a fresh process."""
    command = [sys.executable, "-m", "bench.compare.storage", "--connection-string", conn_string]
    out = subprocess.run(
        [*command, "--calls", str(calls)],
        capture_output=True,
        text=True,
        cwd=str(ROOT),
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
        timeout=600,
    )
    if out.returncode != 0:
        raise RuntimeError(f"calibration failed: {out.stderr[-2000:]}")
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def scim2_about(python: str) -> str:
    code = (
        "import sys, importlib.metadata as m; "
        "print(m.version('scim2-server'), m.version('scim2-models'), sys.version.split()[0])"
    )
    out = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    server, models, version = out.stdout.split()
    return f"scim2-server {server} (scim2-models {models}, Python {version})"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scim2-python", default=str(ROOT / ".venv-scim2-server" / "bin" / "python"))
    parser.add_argument(
        "--scim2-front",
        choices=("keepalive", "cli"),
        default="keepalive",
        help="keepalive: its application behind a front like ours (bench/compare/scim2_host.py); "
        "cli: the `scim2-server` command as shipped (HTTP/1.0, a connection per request)",
    )
    parser.add_argument("--users", type=int, default=400, help="new users per server per round (5 requests each)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=40, help="users per server before the timed rounds")
    parser.add_argument("--cold-starts", type=int, default=5)
    parser.add_argument("--calibration-calls", type=int, default=300)
    parser.add_argument("--settle", type=float, default=1.0, help="seconds after each phase before reading CPU")
    parser.add_argument(
        "--our-log-level",
        default="INFO",
        help="INFO (as in Azure) writes our request lines, whose storage calls the report counts; WARNING: none",
    )
    parser.add_argument(
        "--store",
        choices=("both", "azurite", "memory"),
        default="both",
        help="both (default): the in-memory comparison, then the Azurite one, in one run; azurite: ours on "
        "Azurite's tables (as the product runs locally); memory: on scim.store.MemoryStorage in its own process "
        "(devhost.serve --memory-store), no Azurite and no storage calibration",
    )
    parser.add_argument(
        "--writers",
        type=int,
        default=8,
        help="on Azurite, after the rounds: POST p50 of this many writers on our one tenant against one writer's "
        "(0: skip)",
    )
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke run of well under a minute")
    args = parser.parse_args(argv)
    if args.quick:
        args.users, args.rounds, args.warmup, args.cold_starts, args.calibration_calls = 16, 2, 8, 1, 30
        args.settle = 0.2
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not Path(args.scim2_python).exists():
        print(f"{args.scim2_python} is missing: run `make bench-compare` (it installs scim2-server)", file=sys.stderr)
        return 2

    def stop_on_term(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop_on_term)
    command = " ".join(shlex.quote(a) for a in ["python", "-m", "bench.compare", *(argv or sys.argv[1:])])
    reference = scim2_about(args.scim2_python)
    stores = ["memory", "azurite"] if args.store == "both" else [args.store]
    for n, store in enumerate(stores):
        if n:
            print(flush=True)
        compare(args, store, command, reference)
    return 0


def compare(args: argparse.Namespace, store: str, command: str, reference: str) -> None:
    """One comparison, ours on `store`: alternating timed rounds, cold starts, and on Azurite one tenant's writers."""
    report = Report(
        started=datetime.now(UTC),
        command=command,
        machine=f"nproc {os.cpu_count()}, {platform.system()} {platform.machine()}",
        python=f"{platform.python_version()} (ours)",
        reference=reference,
        args=args,
        store=store,
    )
    report.load_before = os.getloadavg()
    run_id = uuid.uuid4().hex[:8]
    state = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    azurite = AzuriteService("table")
    servers: list[Server] = []
    azurite_pid: int | None = None
    conn_string: str | None = None
    try:
        if store == "azurite":
            azurite.start(log_path=state / "azurite.log")
            assert azurite.pid is not None
            azurite_pid = azurite.pid
            conn_string = connection_string(azurite.host, azurite.port)
            report.calibration = calibrate(conn_string, args.calibration_calls)

        ours, theirs = start_targets(args, conn_string, state, servers)
        targets = [ours.target, theirs.target]
        shapes, report.shape_notes = probe_shapes(targets, run_id)
        tallies = {t.name: Tally() for t in targets}
        for target in targets:
            run_phase(target, [f"w{i}-{run_id}@contoso.com" for i in range(args.warmup)], args.threads, shapes)
        for r in range(args.rounds):
            for target in targets if r % 2 == 0 else targets[::-1]:
                names = [f"r{r}u{i}-{run_id}@contoso.com" for i in range(args.users)]
                measured_phase(target, azurite_pid, names, args.threads, shapes, tallies[target.name], args.settle)
            print(f"{store}: round {r + 1}/{args.rounds} done, load average {os.getloadavg()[0]:.2f}", file=sys.stderr)
        if store == "azurite" and args.writers > 1:
            report.writers = one_tenant_writers(ours.target, args, shapes, run_id)
        for server in servers:
            server.stop()
        for n in range(args.cold_starts):
            for server in servers if n % 2 == 0 else servers[::-1]:
                started = server.start()
                try:
                    tallies[server.target.name].cold.append(server.wait_ready(started))
                finally:
                    server.stop()
        report.load_after = os.getloadavg()
        report.tallies = tallies
        report.storage_calls = storage_calls_from_log(state / "ours.log")
        report.shapes = shapes
        report.print(ours.target.name, theirs.target.name)
    finally:
        for server in servers:
            server.stop()
        azurite.stop()
        shutil.rmtree(state, ignore_errors=True)


def one_tenant_writers(target: Target, args: argparse.Namespace, shapes: dict[str, bool], run_id: str) -> Writers:
    """POST p50 of one writer, then of `args.writers` writers at once, all on our one tenant (the same load)."""
    users = max(args.users, 4 * args.writers)
    single = run_phase(target, [f"s{i}-{run_id}@contoso.com" for i in range(users // 2)], 1, shapes)
    many = run_phase(target, [f"m{i}-{run_id}@contoso.com" for i in range(users)], args.writers, shapes)
    return Writers(args.writers, single, many)


def storage_calls_from_log(path: Path) -> dict[str, list[int]]:
    """Storage calls of each of our requests, by method and operation, from its request lines (INFO only)."""
    calls: dict[str, list[int]] = {}
    for line in path.read_text(errors="replace").splitlines():
        if '"event":"scim.request"' in line:
            entry = json.loads(line[line.index("{") :])
            calls.setdefault(f"{entry['method']} {entry['operation']}", []).append(int(entry["storageCalls"]))
    return calls


def start_targets(
    args: argparse.Namespace, conn_string: str | None, state: Path, servers: list[Server]
) -> tuple[Server, Server]:
    """Create our tenant and its token (as devhost.run does), then start both servers and wait for each.

    Without a connection string (--store memory) only the token is written to the local secrets file; our host
    registers the tenant in its in-memory store at each start (devhost.serve --memory-store --tenant).
    """
    from scim.secrets import build_secret_store, new_token, secret_name
    from scim.settings import Settings
    from scim.wiring import build_tenant_service

    port, scim2_port = free_port(), free_port()
    base_url = f"http://127.0.0.1:{port}"
    settings = Settings(
        storage_connection_string=conn_string,
        secret_source="local",
        local_secrets_path=state / "secrets.json",
        public_base_url=base_url,
    )
    token: str | None
    if conn_string is None:
        token = new_token()
        build_secret_store(settings, operator=True).add_version(secret_name(TENANT), token)
    else:
        _, token = build_tenant_service(settings).create(TENANT, display_name="bench compare")
    assert token is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCIM_")}
    our_env = {
        **env,
        "PYTHONPATH": str(ROOT),
        # tables only: no changes queue, as scim2-server has none
        **({"SCIM_STORAGE_CONNECTION_STRING": conn_string} if conn_string else {}),
        "SCIM_SECRET_SOURCE": "local",
        "SCIM_STATE_DIR": str(state),
        "SCIM_PUBLIC_BASE_URL": base_url,
    }
    our_cmd = [sys.executable, "-m", "devhost.serve", "--port", str(port), "--log-level", args.our_log_level]
    if conn_string is None:
        our_cmd += ["--memory-store", "--tenant", TENANT]
    if args.scim2_front == "cli":
        scim2_cmd = [str(Path(args.scim2_python).with_name("scim2-server")), "--port", str(scim2_port)]
    else:
        scim2_cmd = [args.scim2_python, str(ROOT / "bench" / "compare" / "scim2_host.py"), "--port", str(scim2_port)]
    scim2_cmd += ["--bearer-token", SCIM2_TOKEN]
    scim2_env = {k: v for k, v in env.items() if k != "PYTHONPATH"}
    ours = Server(Target("us", port, f"/scim/v2/{TENANT}/Users", token), our_cmd, our_env, state / "ours.log")
    theirs = Server(
        Target("scim2-server", scim2_port, "/v2/Users", SCIM2_TOKEN), scim2_cmd, scim2_env, state / "scim2.log"
    )
    for server in (ours, theirs):
        servers.append(server)
        server.wait_ready(server.start())
    return ours, theirs


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted: every process started was stopped", file=sys.stderr)
        sys.exit(130)
