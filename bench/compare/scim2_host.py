"""scim2-server's application behind the same kind of HTTP front as our local host, for bench/compare/run.py.

Run with scim2-server's own venv
(`.venv-scim2-server/bin/python bench/compare/scim2_host.py --port P --bearer-token T`); it imports nothing
of ours. The application is built as the `scim2-server` command builds it (RFC 7643's
schemas, User with the enterprise extension and Group, the default ServiceProviderConfig, a static bearer
token, in-memory storage), but served the way devhost.server serves ours: http.server's
ThreadingHTTPServer, HTTP/1.1 keep-alive, Nagle off, no access log. The `scim2-server` command itself
serves HTTP/1.0 through wsgiref (a new connection and thread per request, and an access line on stderr),
which would measure its HTTP front rather than its SCIM request path; compare.py --scim2-front cli uses it.
"""

from __future__ import annotations

import argparse
import io
import secrets
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

from scim2_models import ScimProvider
from scim2_server.memory import InMemoryStorage
from scim2_server.service import ScimService
from scim2_server.testserver.application import BEARER_TOKEN_SCHEME, BearerTokenApplication
from scim2_server.utils import load_default_resource_types, load_default_schemas, load_default_service_provider_config


def build_application(tokens: list[str]) -> BearerTokenApplication:
    """The WSGI application the `scim2-server --bearer-token ...` command serves."""
    config = load_default_service_provider_config()
    config.authentication_schemes = [*(config.authentication_schemes or []), BEARER_TOKEN_SCHEME]
    provider = ScimProvider.from_discovery(
        load_default_schemas().values(), load_default_resource_types().values(), config=config, policy=None
    )
    service = ScimService(provider, secret=secrets.token_urlsafe(32))
    return BearerTokenApplication(InMemoryStorage(), provider, service=service, bearer_tokens=tokens)


def make_server(application: Any, host: str, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            target = urlsplit(self.path)
            bound_host, bound_port = self.server.server_address[:2]
            environ: dict[str, Any] = {
                "REQUEST_METHOD": self.command,
                "SCRIPT_NAME": "",
                "PATH_INFO": unquote(target.path),
                "QUERY_STRING": target.query,
                "SERVER_NAME": str(bound_host),
                "SERVER_PORT": str(bound_port),
                "SERVER_PROTOCOL": self.request_version,
                "wsgi.url_scheme": "http",
                "wsgi.input": io.BytesIO(body),
                "wsgi.errors": sys.stderr,
                "wsgi.version": (1, 0),
                "wsgi.multithread": True,
                "wsgi.multiprocess": False,
                "wsgi.run_once": False,
            }
            if length:
                environ["CONTENT_LENGTH"] = str(length)
            for key, value in self.headers.items():
                name = key.upper().replace("-", "_")
                if name == "CONTENT_TYPE":
                    environ["CONTENT_TYPE"] = value
                elif name != "CONTENT_LENGTH":
                    environ["HTTP_" + name] = value
            started: list[Any] = []

            def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
                started[:] = [status, headers]

            out = b"".join(application(environ, start_response))
            status, headers = started
            self.send_response(int(status.split(" ", 1)[0]))
            for key, value in headers:
                if key.lower() != "content-length":
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hostname", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--bearer-token", action="append", default=[])
    args = parser.parse_args()
    server = make_server(build_application(args.bearer_token), args.hostname, args.port)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    print(f"listening on http://{args.hostname}:{server.server_address[1]}/v2", flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
