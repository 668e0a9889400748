"""How long a Table Storage call may take: bounded retries with backoff and jitter, short timeouts.

The SDK's defaults retry a call for minutes (10 retries, backoff up to 120 s, the server's Retry-After
honoured as is, 300 s timeouts), far past what Entra waits. Here a call makes at most ``retries + 1``
attempts, each bounded by the connection and read timeouts, with jittered sleeps between them, and the
whole call is cut at ``call_timeout`` seconds; what is still failing then becomes StorageUnavailableError
and a 503 with Retry-After to Entra. TableStorage takes the transport as an option: tests inject faults
there (tests/faults.py), so that the real store code runs under them. The retry policy replaces the SDK's private
TablesRetryPolicy in the client's private policy list: see scim.store.azure for the pinned versions.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from azure.core.configuration import ConnectionConfiguration
from azure.core.exceptions import (
    ServiceRequestError,
    ServiceRequestTimeoutError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from azure.core.pipeline.policies import DistributedTracingPolicy, HttpLoggingPolicy, NetworkTraceLoggingPolicy
from azure.core.pipeline.transport import HttpTransport
from azure.core.rest import HttpRequest
from azure.core.rest._http_response_impl import HttpResponseImpl
from azure.core.utils import CaseInsensitiveDict
from azure.data.tables._policies import TablesRetryPolicy

from scim.store.azure.wire import Answer, ConnectionPool, WireError


@dataclass(frozen=True)
class RetryBudget:
    """Per storage call. The worst case of one call is about call_timeout seconds (default 15 s)."""

    retries: int = 3
    backoff_seconds: float = 0.4
    """Sleep before retry n (n >= 2) is backoff * 2**(n-1), jittered to between half and all of it."""
    max_sleep_seconds: float = 3.0
    """Caps every sleep, a server's Retry-After included (Table Storage asks for no more than a few seconds)."""
    connection_timeout: float = 3.0
    read_timeout: float = 10.0
    call_timeout: float = 15.0

    def client_options(self) -> dict[str, Any]:
        """Keyword options for TableServiceClient (azure-core's RetryPolicy and transport)."""
        return {
            "retry_total": self.retries,
            "retry_connect": self.retries,
            "retry_read": self.retries,
            "retry_status": self.retries,
            "retry_backoff_factor": self.backoff_seconds,
            "retry_backoff_max": self.max_sleep_seconds,
            "timeout": self.call_timeout,
            "connection_timeout": self.connection_timeout,
            "read_timeout": self.read_timeout,
        }


class JitteredRetryPolicy(TablesRetryPolicy):
    """The Tables retry policy with every pause jittered and capped, a server's Retry-After included.

    Pause before retry n is backoff * 2**(n-1), drawn uniformly between half and all of it, at most
    max_sleep_seconds: overlapping retries from many workers spread out instead of arriving together.
    """

    def __init__(self, budget: RetryBudget, **kwargs: Any) -> None:
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]
        self.budget = budget

    def sleep(self, settings: dict[str, Any], transport: Any, response: Any = None) -> None:
        attempt = max(len(settings["history"]), 1)
        wanted = self.budget.backoff_seconds * 2 ** (attempt - 1)
        if response is not None:
            wanted = max(wanted, float(self.get_retry_after(response) or 0))
        capped = min(wanted, self.budget.max_sleep_seconds)
        if capped > 0:
            time.sleep(random.uniform(capped / 2, capped))  # noqa: S311 - jitter, not security


UNUSED_POLICIES = (NetworkTraceLoggingPolicy, DistributedTracingPolicy, HttpLoggingPolicy)
"""Per-call policies that do nothing here but cost CPU on every call (~15% of a point read's pipeline):
network tracing is off (no logging_enable), no tracing plugin is installed (no OpenTelemetry), and the
SDK's HTTP logger is held at WARNING (scim.wiring), below which HttpLoggingPolicy writes nothing."""


def install_retry_policy(client: Any, budget: RetryBudget) -> None:
    """Put the jittered policy in place of the SDK's in a TableServiceClient's policy list, which every table
    client it hands out shares (the SDK takes no retry policy object as an option), and take UNUSED_POLICIES
    out of that list."""
    policies: list[Any] = client._policies
    for n, policy in enumerate(policies):
        if isinstance(policy, TablesRetryPolicy):
            policies[n] = JitteredRetryPolicy(budget, **budget.client_options())
            break
    else:
        raise RuntimeError("azure-data-tables has no TablesRetryPolicy to replace: check the pinned version")
    policies[:] = [policy for policy in policies if not isinstance(policy, UNUSED_POLICIES)]


POOLED_CONNECTIONS = 32
"""Idle connections kept per storage host: 8 request threads (infra: httpConcurrency) each with up to 8 point
reads in flight (scim.store.reads); a connection opened past the pool is closed after its call, and in Azure
every new one is a TLS handshake."""


class _WholeResponse(HttpResponseImpl):
    """An azure-core response whose body was read whole by the transport (Table answers are small)."""

    def __init__(self, request: HttpRequest, answer: Answer) -> None:
        headers = CaseInsensitiveDict()
        for name, value in answer.headers:
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        super().__init__(
            request=request,
            internal_response=answer,
            status_code=answer.status,
            reason=answer.reason,
            headers=headers,
            content_type=headers.get("content-type"),
            stream_download_generator=None,
        )
        self._content = answer.body

    def close(self) -> None:
        self._is_closed = True

    def read(self) -> bytes:
        self._is_stream_consumed = True
        self._is_closed = True
        return self._content or b""

    def iter_bytes(self, **kwargs: Any) -> Iterator[bytes]:
        yield self.read()

    def iter_raw(self, **kwargs: Any) -> Iterator[bytes]:
        yield self.read()


def _body_bytes(request: HttpRequest) -> bytes:
    content = getattr(request, "content", None)
    if content is None:
        return b""
    if isinstance(content, (bytes, bytearray)):
        return bytes(content)
    if isinstance(content, str):
        return content.encode("utf-8")
    raise TypeError(f"a storage request body of type {type(content).__name__} is not supported")


class KeepAliveTransport(HttpTransport[HttpRequest, HttpResponseImpl]):
    """azure-core's transport interface on scim.store.azure.wire: pooled keep-alive sockets, no requests/urllib3.

    The SDK's pipeline (signing, retry policy, request hooks) runs unchanged in front of it; connect failures
    become ServiceRequestError (retried), failures once a request may have been sent ServiceResponseError, and
    timeouts their Timeout variants, as azure-core's own transports raise them.
    """

    def __init__(self, *, connection_timeout: float, read_timeout: float, pool_size: int = POOLED_CONNECTIONS) -> None:
        self.connection_config = ConnectionConfiguration(
            connection_timeout=connection_timeout, read_timeout=read_timeout
        )
        self.pool = ConnectionPool(pool_size)

    def __enter__(self) -> KeepAliveTransport:
        return self

    def __exit__(self, *args: Any) -> None:
        self.close()

    def open(self) -> None:
        """Connections are opened per request, as needed."""

    def close(self) -> None:
        self.pool.close()

    @staticmethod
    def answer(
        request: HttpRequest, status: int, reason: str, headers: list[tuple[str, str]], body: bytes
    ) -> HttpResponseImpl:
        """A response as this transport returns them (tests/faults.py answers injected errors with it)."""
        return _WholeResponse(request, Answer(status, reason, headers, body))

    def send(self, request: HttpRequest, **kwargs: Any) -> _WholeResponse:
        connect_timeout = float(kwargs.get("connection_timeout") or self.connection_config.timeout)
        read_timeout = float(kwargs.get("read_timeout") or self.connection_config.read_timeout)
        url = urlsplit(request.url)
        scheme = url.scheme.lower()
        host = url.hostname or ""
        port = url.port or (443 if scheme == "https" else 80)
        target = url.path or "/"
        if url.query:
            target += "?" + url.query
        body = _body_bytes(request)
        lines = [f"{request.method} {target} HTTP/1.1"]
        names = set()
        for name, value in request.headers.items():
            lower = name.lower()
            if lower in ("content-length", "host", "connection"):
                continue
            names.add(lower)
            lines.append(f"{name}: {value}")
        lines.append(f"Host: {url.netloc.rpartition('@')[2]}")
        if body or request.method.upper() in ("POST", "PUT", "PATCH", "MERGE"):
            lines.append(f"Content-Length: {len(body)}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
        try:
            connection, _reused = self.pool.take(scheme, host, port, connect_timeout)
        except WireError as exc:
            error = ServiceRequestTimeoutError if exc.timeout else ServiceRequestError
            raise error(str(exc), error=exc) from exc
        try:
            answer = connection.exchange(head, body, read_timeout, expect_body=request.method.upper() != "HEAD")
        except WireError as exc:
            connection.close()
            failed = ServiceResponseTimeoutError if exc.timeout else ServiceResponseError
            raise failed(str(exc), error=exc) from exc
        except BaseException:
            connection.close()
            raise
        self.pool.give_back(scheme, host, port, connection)
        return _WholeResponse(request, answer)


_PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY")


def bounded_transport(budget: RetryBudget) -> HttpTransport[Any, Any]:
    """The storage transport with the budget's connection and read timeouts.

    KeepAliveTransport speaks to the storage host directly. Where a proxy is configured (HTTPS_PROXY,
    HTTP_PROXY or ALL_PROXY, which a Function app does not set), the SDK's requests transport is used
    instead, reading the proxy from the environment as requests does.
    """
    if any(os.environ.get(name) or os.environ.get(name.lower()) for name in _PROXY_VARIABLES):
        from azure.core.pipeline.transport import RequestsTransport

        proxied: HttpTransport[Any, Any] = RequestsTransport(
            connection_timeout=budget.connection_timeout, read_timeout=budget.read_timeout, use_env_settings=True
        )
        return proxied
    return KeepAliveTransport(connection_timeout=budget.connection_timeout, read_timeout=budget.read_timeout)
