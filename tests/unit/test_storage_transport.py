"""KeepAliveTransport (scim.store.azure.wire) against a scripted HTTP/1.1 server on loopback: what it sends, how it
reads each framing of an answer, when it reuses a connection, and which azure-core error each failure becomes
(the retry policy decides on those types). Azurite's side is in tests/integration/test_azure_patches.py."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest
from azure.core.exceptions import ServiceRequestError, ServiceResponseError, ServiceResponseTimeoutError
from azure.core.rest import HttpRequest

from scim.store import KeepAliveTransport

Reply = Callable[[bytes], bytes | None]
"""The raw bytes to answer one request with (given its head and body); None closes the connection unanswered."""


class ScriptedServer:
    """Answers each request with the next reply of the script; counts connections accepted."""

    def __init__(self, replies: list[Reply], close_after: int | None = None) -> None:
        self.replies = replies
        self.close_after = close_after
        """After this many replies in all, the server closes the connection it answered on (a keep-alive timeout)."""
        self.closed = threading.Event()
        self.requests: list[bytes] = []
        self.accepted = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while self.replies:
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffer += chunk
                head, _, buffer = buffer.partition(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                while len(buffer) < length:
                    buffer += conn.recv(65536)
                body, buffer = buffer[:length], buffer[length:]
                self.requests.append(head + b"\r\n\r\n" + body)
                reply = self.replies.pop(0)(head + b"\r\n\r\n" + body)
                if reply is None:
                    return
                conn.sendall(reply)
                if len(self.requests) == self.close_after:
                    conn.shutdown(socket.SHUT_RDWR)
                    self.closed.set()
                    return

    def url(self, path: str = "/t()") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.listener.close()


def answer(raw: bytes) -> Reply:
    return lambda _request: raw


OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"


@pytest.fixture
def transport() -> Iterator[KeepAliveTransport]:
    with KeepAliveTransport(connection_timeout=2.0, read_timeout=2.0) as sender:
        yield sender


def serve(replies: list[Reply], close_after: int | None = None) -> Iterator[ScriptedServer]:
    server = ScriptedServer(replies, close_after)
    yield server
    server.close()


def test_a_request_is_sent_with_its_headers_body_and_length(transport: KeepAliveTransport) -> None:
    for server in serve([answer(OK)]):
        request = HttpRequest("POST", server.url("/$batch?x=1"), headers={"x-ms-version": "2019-02-02"}, content="é")
        response = transport.send(request)
        assert (response.status_code, response.read(), response.headers["content-type"]) == (
            200,
            b"{}",
            "application/json",
        )
        head = server.requests[0]
        assert head.startswith(b"POST /$batch?x=1 HTTP/1.1\r\n")
        assert b"\r\nx-ms-version: 2019-02-02\r\n" in head
        assert f"\r\nHost: 127.0.0.1:{server.port}\r\n".encode() in head
        assert head.endswith(b"\r\nContent-Length: 2\r\n\r\n" + "é".encode())


def test_answers_are_read_in_every_framing_on_one_kept_connection(transport: KeepAliveTransport) -> None:
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: 1\r\n\r\n"
    interim = b"HTTP/1.1 100 Continue\r\n\r\n" + OK
    no_content = b'HTTP/1.1 204 No Content\r\nETag: W/"1"\r\nSet-Thing: a\r\nSet-Thing: b\r\n\r\n'
    for server in serve([answer(chunked), answer(interim), answer(no_content), answer(OK)]):
        bodies = [transport.send(HttpRequest("GET", server.url())).read() for _ in range(2)]
        empty = transport.send(HttpRequest("DELETE", server.url()))
        assert bodies == [b"abcde", b"{}"]
        assert (empty.status_code, empty.read(), empty.headers["set-thing"]) == (204, b"", "a, b")
        assert transport.send(HttpRequest("GET", server.url())).read() == b"{}"
        assert server.accepted == 1 and transport.pool.opened == 1


def test_connection_close_and_a_peer_that_closed_an_idle_connection_get_a_new_connection(
    transport: KeepAliveTransport,
) -> None:
    closing = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx"
    for server in serve([answer(closing), answer(OK), answer(OK)], close_after=2):
        assert transport.send(HttpRequest("GET", server.url())).read() == b"x"
        assert transport.send(HttpRequest("GET", server.url())).read() == b"{}"
        assert server.accepted == 2
        assert server.closed.wait(5)  # the server closed the idle second connection, sending no header about it
        assert transport.send(HttpRequest("GET", server.url())).read() == b"{}"
        assert server.accepted == 3


def test_failures_become_the_azure_core_errors_the_retry_policy_reads(transport: KeepAliveTransport) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    with pytest.raises(ServiceRequestError):  # nothing listening: not sent, safe to retry
        transport.send(HttpRequest("POST", f"http://127.0.0.1:{port}/t"))
    for server in serve([lambda _request: None]):
        with pytest.raises(ServiceResponseError):  # closed after the request arrived: maybe applied
            transport.send(HttpRequest("GET", server.url()))
    slow = KeepAliveTransport(connection_timeout=2.0, read_timeout=0.2)
    for server in serve([lambda _request: (threading.Event().wait(1.0), OK)[1]]):
        with pytest.raises(ServiceResponseTimeoutError):
            slow.send(HttpRequest("GET", server.url()))
    slow.close()
