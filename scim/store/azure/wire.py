"""HTTP/1.1 to the storage service on plain sockets: keep-alive connections pooled per host, bodies read whole.

Table Storage answers are small (a row, a page of rows bounded by the store, a $batch answer) and its requests
need nothing of a general HTTP client: no redirects, proxies, cookies, compression or multipart. requests,
urllib3 and http.client together spent ~2.5 ms of CPU per call validating each header, parsing the answer's
headers through the `email` package and reading the environment; this writes the request in one buffer and
reads the status line, the headers and a Content-Length or chunked body directly (RFC 9112).

Connections are taken from and given back to a pool per (scheme, host, port); one whose peer closed it while
idle (Node's keep-alive timeout, a load balancer) is noticed before reuse and dropped, as urllib3 does.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
from dataclasses import dataclass

_CRLF = b"\r\n"
MAX_HEADER_BYTES = 64 * 1024
"""An answer whose head is larger is not Table Storage's: refused rather than buffered."""


class WireError(Exception):
    """The exchange failed; ``sent`` says whether any of the request may have reached the server."""

    def __init__(self, message: str, *, sent: bool, timeout: bool = False) -> None:
        super().__init__(message)
        self.sent = sent
        self.timeout = timeout


@dataclass
class Answer:
    """One HTTP answer, read whole."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes


class Connection:
    """One socket to one host, reused across requests while both sides keep it open."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = b""
        self.reusable = True

    def idle_peer_closed(self) -> bool:
        """Whether the peer closed (or wrote to) this idle connection: readable now means it cannot be reused."""
        if self._buffer:
            return True
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def exchange(self, head: bytes, body: bytes, read_timeout: float, expect_body: bool) -> Answer:
        try:
            self.sock.settimeout(read_timeout)
            self.sock.sendall(head + body if len(body) < 65536 else head)
            if len(body) >= 65536:
                self.sock.sendall(body)
        except TimeoutError as exc:
            raise WireError("timed out sending the request", sent=True, timeout=True) from exc
        except OSError as exc:
            raise WireError(f"sending the request failed: {exc}", sent=True) from exc
        try:
            return self._read_answer(expect_body)
        except TimeoutError as exc:
            raise WireError("timed out reading the answer", sent=True, timeout=True) from exc
        except OSError as exc:
            raise WireError(f"reading the answer failed: {exc}", sent=True) from exc

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise WireError("the server closed the connection before answering in full", sent=True)
        self._buffer += chunk

    def _read_until(self, marker: bytes, limit: int) -> bytes:
        while True:
            end = self._buffer.find(marker)
            if end >= 0:
                found, self._buffer = self._buffer[:end], self._buffer[end + len(marker) :]
                return found
            if len(self._buffer) > limit:
                raise WireError("the answer's head is too large", sent=True)
            self._fill()

    def _read_exactly(self, size: int) -> bytes:
        while len(self._buffer) < size:
            self._fill()
        found, self._buffer = self._buffer[:size], self._buffer[size:]
        return found

    def _read_answer(self, expect_body: bool) -> Answer:
        status, reason, headers, framing = self._read_head()
        if not expect_body or status in (204, 304):
            body = b""
        elif framing == "chunked":
            body = self._read_chunks()
        elif framing is not None:
            body = self._read_exactly(int(framing))
        else:
            body = self._read_to_close()
        return Answer(status, reason, headers, body)

    def _read_head(self) -> tuple[int, str, list[tuple[str, str]], str | None]:
        """Status, reason, headers and the body's framing ("chunked", a Content-Length, or None: to close)."""
        while True:
            lines = self._read_until(_CRLF + _CRLF, MAX_HEADER_BYTES).decode("latin-1").split("\r\n")
            version, _, rest = lines[0].partition(" ")
            code, _, reason = rest.partition(" ")
            if not version.startswith("HTTP/1.") or not code.isdigit():
                raise WireError(f"not an HTTP/1.x answer: {lines[0][:80]!r}", sent=True)
            if int(code) >= 200:
                break  # 1xx interim answers (100 Continue) are read past
        self.reusable = version != "HTTP/1.0"
        headers: list[tuple[str, str]] = []
        framing: str | None = None
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                name, value = name.strip(), value.strip()
                headers.append((name, value))
                lower = name.lower()
                if lower == "content-length" and framing is None:
                    framing = value
                elif lower == "transfer-encoding" and "chunked" in value.lower():
                    framing = "chunked"
                elif lower == "connection" and "close" in value.lower():
                    self.reusable = False
        return int(code), reason, headers, framing

    def _read_chunks(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int(self._read_until(_CRLF, MAX_HEADER_BYTES).split(b";", 1)[0].strip(), 16)
            if size == 0:
                while self._read_until(_CRLF, MAX_HEADER_BYTES):
                    pass  # trailer fields, ignored
                return b"".join(parts)
            parts.append(self._read_exactly(size))
            self._read_exactly(2)

    def _read_to_close(self) -> bytes:
        self.reusable = False
        while True:
            chunk = self.sock.recv(65536)
            if not chunk:
                found, self._buffer = self._buffer, b""
                return found
            self._buffer += chunk

    def close(self) -> None:
        self.reusable = False
        with contextlib.suppress(OSError):
            self.sock.close()


class ConnectionPool:
    """Idle connections per (scheme, host, port), at most ``size`` kept per host; more may be open at once."""

    def __init__(self, size: int, ssl_context: ssl.SSLContext | None = None) -> None:
        self.size = size
        self._ssl_context = ssl_context
        self._idle: dict[tuple[str, str, int], list[Connection]] = {}
        self._lock = threading.Lock()
        self.opened = 0
        """Connections opened since the pool was made (tests read it: keep-alive means few)."""

    def take(self, scheme: str, host: str, port: int, connect_timeout: float) -> tuple[Connection, bool]:
        """An idle connection to the host (True: reused), or a new one."""
        key = (scheme, host, port)
        while True:
            with self._lock:
                idle = self._idle.get(key)
                connection = idle.pop() if idle else None
            if connection is None:
                return self._connect(scheme, host, port, connect_timeout), False
            if not connection.idle_peer_closed():
                return connection, True
            connection.close()

    def give_back(self, scheme: str, host: str, port: int, connection: Connection) -> None:
        if connection.reusable:
            with self._lock:
                idle = self._idle.setdefault((scheme, host, port), [])
                if len(idle) < self.size:
                    idle.append(connection)
                    return
        connection.close()

    def _connect(self, scheme: str, host: str, port: int, timeout: float) -> Connection:
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if scheme == "https":
                sock = self._tls().wrap_socket(sock, server_hostname=host)
        except TimeoutError as exc:
            raise WireError(f"connecting to {host}:{port} timed out", sent=False, timeout=True) from exc
        except OSError as exc:
            raise WireError(f"connecting to {host}:{port} failed: {exc}", sent=False) from exc
        with self._lock:
            self.opened += 1
        return Connection(sock)

    def _tls(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            import certifi  # the roots requests used (they hold Azure's); imported only for https

            self._ssl_context = ssl.create_default_context(cafile=certifi.where())
        return self._ssl_context

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                connection.close()
