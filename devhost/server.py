"""Serve an Azure Functions v2 `FunctionApp`'s HTTP triggers over HTTP, as `func start` would locally.

The Core Tools cannot be installed on every machine, so this host reads routePrefix from host.json,
matches each HTTP trigger's route template and methods (literal segments before parameters, catch-alls
last, case-insensitive like the Functions host), builds a `func.HttpRequest`, calls the function and
writes its `func.HttpResponse` back. Timer triggers run on a fixed interval in a background thread
(`TimerRunner`), not on their NCRONTAB schedule: locally what matters is that they run.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import azure.functions as func

log = logging.getLogger("devhost")

MAX_REQUEST_BYTES = 100 * 1024 * 1024
"""The Functions host's default body limit (104,857,600 bytes); FUNCTIONS_REQUEST_BODY_SIZE_LIMIT changes it."""

SOCKET_TIMEOUT_SECONDS = 30.0
"""A connection that sends nothing for this long is closed: an idle or slow client cannot hold a thread."""

_CONTENT_LENGTH = re.compile(r"[0-9]{1,20}")

LISTEN_BACKLOG = 1024
"""Connections the kernel queues before the host accepts them (capped by net.core.somaxconn, 4096 on
current Linux): a burst of Entra-like clients waits for a thread instead of being reset. Python's default
for socketserver is 5, which dropped connections of a 20-client burst."""


def request_body_limit(environ: Mapping[str, str]) -> int:
    """FUNCTIONS_REQUEST_BODY_SIZE_LIMIT (bytes), as the Functions host reads it; 100 MB when unset."""
    raw = (environ.get("FUNCTIONS_REQUEST_BODY_SIZE_LIMIT") or "").strip()
    if not raw:
        return MAX_REQUEST_BYTES
    if not _CONTENT_LENGTH.fullmatch(raw) or int(raw) <= 0:
        raise ValueError(f"FUNCTIONS_REQUEST_BODY_SIZE_LIMIT must be a positive number of bytes, not {raw!r}")
    return int(raw)


@dataclass(frozen=True)
class Route:
    template: str
    pattern: re.Pattern[str]
    methods: frozenset[str]
    function: Callable[[func.HttpRequest], func.HttpResponse]
    rank: tuple[int, int]


def _compile(template: str) -> tuple[re.Pattern[str], tuple[int, int]]:
    parts: list[str] = []
    literals = 0
    catch_all = 0
    for segment in template.strip("/").split("/"):
        if segment.startswith("{*") and segment.endswith("}"):
            parts.append(f"(?P<{segment[2:-1]}>.*)")
            catch_all = 1
        elif segment.startswith("{") and segment.endswith("}"):
            parts.append(f"(?P<{segment[1:-1].split(':')[0]}>[^/]+)")
        else:
            parts.append(re.escape(segment))
            literals += 1
    return re.compile("^" + "/".join(parts) + "/?$", re.IGNORECASE), (catch_all, -literals)


def read_route_prefix(host_json: Path) -> str:
    """extensions.http.routePrefix from host.json; 'api' when unset, as in the Functions host."""
    try:
        config = json.loads(host_json.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "api"
    prefix = config.get("extensions", {}).get("http", {}).get("routePrefix", "api")
    return str(prefix).strip("/")


_FUNCTIONS: weakref.WeakKeyDictionary[func.FunctionApp, list[Any]] = weakref.WeakKeyDictionary()


def app_functions(app: func.FunctionApp) -> list[Any]:
    """The app's functions, listed once per app: the SDK refuses a second get_functions() call."""
    if app not in _FUNCTIONS:
        _FUNCTIONS[app] = app.get_functions()
    return _FUNCTIONS[app]


def collect_routes(app: func.FunctionApp, route_prefix: str) -> list[Route]:
    """Every HTTP trigger of the app, most specific first."""
    routes: list[Route] = []
    for function in app_functions(app):
        trigger = function.get_trigger()
        spec = trigger.get_dict_repr() if trigger is not None else {}
        if spec.get("type") != "httpTrigger":
            continue
        template = spec.get("route") or function.get_function_name()
        full = "/".join(part for part in (route_prefix, str(template).strip("/")) if part)
        pattern, rank = _compile(full)
        methods = frozenset(str(getattr(m, "value", m)).upper() for m in spec.get("methods") or [])
        routes.append(Route(full, pattern, methods or frozenset({"GET", "POST"}), function.get_user_function(), rank))
    routes.sort(key=lambda r: r.rank)
    return routes


class FunctionsHost:
    """Dispatches raw HTTP requests to the app's functions."""

    def __init__(self, app: func.FunctionApp, route_prefix: str) -> None:
        self.routes = collect_routes(app, route_prefix)

    def dispatch(
        self, method: str, target: str, headers: dict[str, str], body: bytes, base: str
    ) -> tuple[int, dict[str, str], bytes]:
        parts = urlsplit(target)
        path = parts.path.strip("/")
        for route in self.routes:
            match = route.pattern.match(path)
            if match is None:
                continue
            if method not in route.methods:
                return 405, {"Content-Type": "text/plain"}, b"Method Not Allowed"
            params = {k: unquote(v) for k, v in match.groupdict().items() if v is not None}
            query: dict[str, str] = {}
            for key, value in parse_qsl(parts.query, keep_blank_values=True):
                query.setdefault(key, value)
            request = func.HttpRequest(
                method=method,
                url=base + target,
                headers=headers,
                params=query,
                route_params=params,
                body=body,
            )
            try:
                response = route.function(request)
            except Exception:
                log.exception("function for %s failed", route.template)
                return 500, {"Content-Type": "text/plain"}, b"Internal Server Error"
            out_headers = {k: v for k, v in response.headers.items()}
            if response.mimetype and not any(k.lower() == "content-type" for k in out_headers):
                # As the Python worker's converter does: a charset only for text/* types.
                text = response.mimetype.startswith("text/")
                out_headers["Content-Type"] = (
                    f"{response.mimetype}; charset={response.charset}" if text else response.mimetype
                )
            return response.status_code, out_headers, response.get_body() or b""
        return 404, {"Content-Type": "text/plain"}, b"Not Found"


def make_server(
    app: func.FunctionApp,
    host: str,
    port: int,
    host_json: Path,
    *,
    max_body_bytes: int | None = None,
    timeout: float = SOCKET_TIMEOUT_SECONDS,
) -> ThreadingHTTPServer:
    """An HTTP server (not yet serving) for the app; port 0 picks a free port.

    Request URLs handed to the app start with the bound address, never the client's Host header, so a
    forged Host cannot reach a Location header (the app rebases URLs on SCIM_PUBLIC_BASE_URL when set).
    Bodies need a Content-Length: a chunked body gets 411, another transfer coding 501, and a length
    that is malformed gets 400 or over the limit 413, before any of the body is read.
    """
    functions = FunctionsHost(app, read_route_prefix(host_json))
    body_limit = max_body_bytes if max_body_bytes is not None else request_body_limit(os.environ)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "scim-devhost"
        # Headers and body leave in two writes; with Nagle on, a kept-alive connection then waits for the
        # client's delayed ACK, ~40 ms per response.
        disable_nagle_algorithm = True

        def _handle(self) -> None:
            length = self._content_length()
            if length is None:
                return
            body = self.rfile.read(length) if length else b""
            if len(body) < length:  # the client closed early
                self.close_connection = True
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() != "x-forwarded-for"}
            # As App Service's front end does: the peer's address appended to what the client sent.
            sent = ", ".join(self.headers.get_all("X-Forwarded-For") or [])
            headers["X-Forwarded-For"] = f"{sent}, {self.client_address[0]}" if sent else str(self.client_address[0])
            bound_host, bound_port = self.server.server_address[:2]
            base = f"http://{bound_host}:{bound_port}"
            status, out_headers, out_body = functions.dispatch(self.command, self.path, headers, body, base)
            self._send(status, out_headers, out_body)

        def _content_length(self) -> int | None:
            """The body's length, or None after answering a request whose body cannot be framed or is too large."""
            if self.headers.get_all("Transfer-Encoding"):
                chunked = "chunked" in ",".join(self.headers.get_all("Transfer-Encoding") or []).lower()
                if chunked:
                    self._refuse(411, b"Length Required: send the body with a Content-Length, not chunked")
                else:
                    self._refuse(501, b"Not Implemented: unsupported Transfer-Encoding")
                return None
            values = {value.strip() for value in self.headers.get_all("Content-Length") or []}
            if not values:
                return 0
            if len(values) > 1 or not _CONTENT_LENGTH.fullmatch(next(iter(values))):
                self._refuse(400, b"Bad Request: malformed Content-Length")
                return None
            length = int(next(iter(values)))
            if length > body_limit:
                self._refuse(413, b"Request Entity Too Large")
                return None
            return length

        def _refuse(self, status: int, message: bytes) -> None:
            # The body was not read, so the connection cannot carry another request.
            self._send(status, {"Content-Type": "text/plain", "Connection": "close"}, message)
            self.close_connection = True

        def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for key, value in headers.items():
                if key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle

        def log_message(self, format: str, *args: Any) -> None:
            # The access line holds the query string (filters carry user names): log the path only, escaped.
            log.debug("%s %r", getattr(self, "command", "-"), urlsplit(getattr(self, "path", "") or "").path)

    Handler.timeout = timeout
    return _Server((host, port), Handler)


class _Server(ThreadingHTTPServer):
    """One thread per connection (as ThreadingHTTPServer), with a listen backlog a burst fits in."""

    request_queue_size = LISTEN_BACKLOG
    daemon_threads = True


class _Timer(func.TimerRequest):
    @property
    def past_due(self) -> bool:
        return False


def collect_timers(app: func.FunctionApp) -> list[tuple[str, Callable[..., None], str]]:
    """Every timer trigger of the app: (function name, function, the argument name it takes the timer as)."""
    timers = []
    for function in app_functions(app):
        trigger = function.get_trigger()
        spec = trigger.get_dict_repr() if trigger is not None else {}
        if spec.get("type") == "timerTrigger":
            timers.append((function.get_function_name(), function.get_user_function(), str(spec["name"])))
    return timers


class TimerRunner:
    """Runs the app's timer functions every ``interval`` seconds in a daemon thread until stopped."""

    def __init__(self, app: func.FunctionApp, interval: float) -> None:
        self.timers = collect_timers(app)
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="devhost-timers", daemon=True)

    def run_once(self) -> None:
        for name, function, arg in self.timers:
            try:
                function(**{arg: _Timer()})
            except Exception:
                log.exception("timer function %s failed", name)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.run_once()

    def start(self) -> TimerRunner:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()


def serve_in_thread(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="devhost", daemon=True)
    thread.start()
    return thread
