"""Start and stop the Azurite storage emulator's table and queue services (npm `azurite`, from package-lock.json)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent

# Azurite's documented, public development account; it is not a secret.
ACCOUNT_NAME = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def private_dir(path: Path) -> Path:
    """The directory, created if missing, readable by its owner only (0700): it holds user data and secrets.

    An existing directory is narrowed too (one made world-readable by an earlier version, or under a wide umask).
    """
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


class PortInUseError(RuntimeError):
    """A port make run needs is taken; the message names it and the setting that moves it."""

    def __init__(self, port: int, setting: str) -> None:
        super().__init__(
            f"port {port} ({setting}) is in use, perhaps by another `make run`: stop that, or choose a free "
            f"port, e.g. {setting}={port + 10} make run"
        )
        self.port = port
        self.setting = setting


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether nothing listens on host:port now (a bind test; SO_REUSEADDR as servers bind)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def connection_string(host: str, port: int, queue_port: int | None = None) -> str:
    text = (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
        f"TableEndpoint=http://{host}:{port}/{ACCOUNT_NAME};"
    )
    if queue_port is not None:
        text += f"QueueEndpoint=http://{host}:{queue_port}/{ACCOUNT_NAME};"
    return text


class AzuriteService:
    """One Azurite service ("table" or "queue") on loopback: in memory (tests) or with its data in a folder."""

    def __init__(self, kind: str, port: int | None = None, location: Path | None = None, host: str = "127.0.0.1"):
        self.kind = kind
        self.host = host
        self.port = port or free_port(host)
        self.location = location
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """The emulator's process id while it runs (benchmarks read its CPU time from /proc)."""
        return self._process.pid if self._process is not None else None

    def command(self) -> list[str]:
        binary = ROOT / "node_modules" / ".bin" / f"azurite-{self.kind}"
        if not binary.exists():
            raise RuntimeError("Azurite is not installed: run `npm ci` (make does this for you)")
        cmd = [
            str(binary),
            f"--{self.kind}Host",
            self.host,
            f"--{self.kind}Port",
            str(self.port),
            "--skipApiVersionCheck",
            "--disableTelemetry",
            "--loose",
        ]
        if self.location is None:
            cmd.append("--inMemoryPersistence")
        else:
            cmd += ["--location", str(private_dir(self.location))]
        return cmd

    def launch(self, log_path: Path | None = None) -> None:
        # Otherwise the readiness check below would pass against whatever already listens there.
        if not port_is_free(self.port, self.host):
            raise PortInUseError(self.port, f"AZURITE_{self.kind.upper()}_PORT")
        if log_path is not None:
            log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = log_path.open("ab")
        out = self._log if self._log is not None else subprocess.DEVNULL
        self._process = subprocess.Popen(
            self.command(), stdout=out, stderr=subprocess.STDOUT, cwd=str(ROOT), start_new_session=True
        )

    def wait_listening(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                code = self._process.returncode if self._process is not None else None
                raise RuntimeError(f"Azurite {self.kind} exited with code {code} (port {self.port} in use?)")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"Azurite {self.kind} did not listen on {self.host}:{self.port} in time")

    def start(self, timeout: float = 30.0, log_path: Path | None = None) -> AzuriteService:
        self.launch(log_path)
        try:
            self.wait_listening(time.monotonic() + timeout)
        except RuntimeError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            # Azurite closes gracefully (and saves its data to disk) on SIGINT only.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> AzuriteService:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Azurite:
    """Azurite's table and queue services on loopback, started together (the two processes in parallel)."""

    def __init__(
        self,
        port: int | None = None,
        location: Path | None = None,
        host: str = "127.0.0.1",
        queue_port: int | None = None,
    ) -> None:
        self.host = host
        self.table = AzuriteService("table", port, location, host)
        self.queue = AzuriteService("queue", queue_port, location, host)
        self.location = location

    @property
    def port(self) -> int:
        return self.table.port

    @property
    def queue_port(self) -> int:
        return self.queue.port

    @property
    def connection_string(self) -> str:
        return connection_string(self.host, self.port, self.queue_port)

    def start(self, timeout: float = 30.0, log_path: Path | None = None) -> Azurite:
        services = (self.table, self.queue)
        try:
            for service in services:
                service.launch(log_path.with_name(f"{log_path.stem}-{service.kind}.log") if log_path else None)
            deadline = time.monotonic() + timeout
            for service in services:
                service.wait_listening(deadline)
        except RuntimeError:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self.queue.stop()
        self.table.stop()

    def __enter__(self) -> Azurite:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
