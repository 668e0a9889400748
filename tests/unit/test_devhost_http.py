"""The local host over a real socket: framing it refuses, the body limit, the socket timeout, no Host in URLs."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import azure.functions as func
import pytest

from devhost.server import MAX_REQUEST_BYTES, make_server, request_body_limit, serve_in_thread


def echo_app() -> func.FunctionApp:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="echo", methods=["GET", "POST"])
    def echo(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(f"{req.url} {len(req.get_body())}")

    return app


@pytest.fixture(scope="module")
def address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    host_json = Path(tmp_path_factory.mktemp("host")) / "host.json"
    host_json.write_text('{"extensions": {"http": {"routePrefix": ""}}}')
    server = make_server(echo_app(), "127.0.0.1", 0, host_json, max_body_bytes=1000, timeout=0.5)
    serve_in_thread(server)
    yield "127.0.0.1", server.server_address[1]
    server.shutdown()
    server.server_close()


def exchange(address: tuple[str, int], head: str, body: bytes = b"") -> tuple[int, bytes]:
    """Send one raw request; the status and body of the answer."""
    with socket.create_connection(address, timeout=5) as conn:
        conn.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
            if b"\r\n\r\n" in data:
                headers, _, rest = data.partition(b"\r\n\r\n")
                length = next(
                    int(line.split(b":")[1])
                    for line in headers.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                )
                if len(rest) >= length:
                    return int(headers.split()[1]), rest[:length]
    raise AssertionError(f"no complete answer: {data!r}")


def post(length: str, extra: str = "") -> str:
    return f"POST /echo HTTP/1.1\nHost: 127.0.0.1\nContent-Length: {length}\n{extra}Connection: close\n"


@pytest.mark.parametrize("length", ["-1", "abc", "1e3", "+5", "99999999999999999999999"])
def test_malformed_content_length_is_400(address: tuple[str, int], length: str) -> None:
    assert exchange(address, post(length))[0] == 400


def test_conflicting_content_lengths_are_400(address: tuple[str, int]) -> None:
    assert exchange(address, post("2", "Content-Length: 3\n"), b"abc")[0] == 400


def test_a_body_over_the_limit_is_413_before_it_is_sent(address: tuple[str, int]) -> None:
    # The answer comes although the 10 GB body never does.
    assert exchange(address, post("10000000000"))[0] == 413


def test_bodies_within_the_limit_are_passed_on(address: tuple[str, int]) -> None:
    status, body = exchange(address, post("1000"), b"x" * 1000)
    assert (status, body.split()[1]) == (200, b"1000")


def test_chunked_bodies_get_411_and_other_codings_501(address: tuple[str, int]) -> None:
    chunked = "POST /echo HTTP/1.1\nHost: h\nTransfer-Encoding: chunked\n"
    assert exchange(address, chunked, b"3\r\nabc\r\n0\r\n\r\n")[0] == 411
    # Content-Length next to Transfer-Encoding is the request-smuggling shape: refused too.
    assert exchange(address, post("3", "Transfer-Encoding: chunked\n"), b"abc")[0] == 411
    assert exchange(address, "POST /echo HTTP/1.1\nHost: h\nTransfer-Encoding: gzip\n")[0] == 501


def test_the_host_header_never_reaches_the_request_url(address: tuple[str, int]) -> None:
    status, body = exchange(address, "GET /echo HTTP/1.1\nHost: evil.example\nConnection: close\n")
    assert status == 200
    assert body.split()[0] == f"http://127.0.0.1:{address[1]}/echo".encode()


def test_an_idle_connection_is_closed_after_the_socket_timeout(address: tuple[str, int]) -> None:
    with socket.create_connection(address, timeout=5) as conn:
        conn.sendall(b"POST /echo HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc")  # 7 bytes never come
        started = time.monotonic()
        assert conn.recv(1024) == b""
        assert time.monotonic() - started < 3


def test_body_limit_setting() -> None:
    assert request_body_limit({}) == MAX_REQUEST_BYTES == 104_857_600
    assert request_body_limit({"FUNCTIONS_REQUEST_BODY_SIZE_LIMIT": "2097152"}) == 2_097_152
    with pytest.raises(ValueError, match="FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"):
        request_body_limit({"FUNCTIONS_REQUEST_BODY_SIZE_LIMIT": "-1"})


def test_a_burst_of_128_simultaneous_connections_is_answered_without_a_reset(tmp_path: Path) -> None:
    """Entra and load tests open many connections at once: none may be reset while it waits to be accepted."""
    host_json = tmp_path / "host.json"
    host_json.write_text('{"extensions": {"http": {"routePrefix": ""}}}')
    server = make_server(echo_app(), "127.0.0.1", 0, host_json)
    assert server.request_queue_size >= 128
    serve_in_thread(server)
    clients = 128
    start = threading.Barrier(clients)
    answers: list[int] = []
    failures: list[BaseException] = []

    def one() -> None:
        try:
            with socket.create_connection(server.server_address[:2], timeout=60) as conn:
                start.wait(timeout=60)  # every connection is open (or queued) before any request is sent
                conn.sendall(b"GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                data = b""
                while chunk := conn.recv(65536):
                    data += chunk
            answers.append(int(data.split(b" ", 2)[1]))
        except BaseException as exc:  # a reset, a refused connection or a timeout
            failures.append(exc)

    threads = [threading.Thread(target=one) for _ in range(clients)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        server.shutdown()
        server.server_close()
    assert failures == []
    assert answers == [200] * clients
