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
from dataclasses import dataclass
from typing import Any

import requests
from azure.core.pipeline.transport import RequestsTransport
from azure.data.tables._policies import TablesRetryPolicy
from requests.adapters import HTTPAdapter


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


def install_retry_policy(client: Any, budget: RetryBudget) -> None:
    """Put the jittered policy in place of the SDK's in a TableServiceClient's policy list, which every table
    client it hands out shares (the SDK takes no retry policy object as an option)."""
    policies: list[Any] = client._policies
    for n, policy in enumerate(policies):
        if isinstance(policy, TablesRetryPolicy):
            policies[n] = JitteredRetryPolicy(budget, **budget.client_options())
            return
    raise RuntimeError("azure-data-tables has no TablesRetryPolicy to replace: check the pinned version")


_PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY")


POOLED_CONNECTIONS = 32
"""Connections kept per storage host: 8 request threads (infra: httpConcurrency) each with up to 8 point reads
in flight (scim.store.reads) would overflow requests' default of 10, and every connection opened past the pool
is a new TLS handshake in Azure, closed after one call."""


class PooledRequestsTransport(RequestsTransport):  # type: ignore[misc]
    """The SDK's requests transport with a pool of POOLED_CONNECTIONS connections per host."""

    def _init_session(self, session: requests.Session) -> None:
        super()._init_session(session)
        for prefix, mounted in list(session.adapters.items()):
            retries = getattr(mounted, "max_retries", 0)  # the SDK's: none (its policy retries, not urllib3)
            session.mount(prefix, HTTPAdapter(pool_maxsize=POOLED_CONNECTIONS, max_retries=retries))


def bounded_transport(budget: RetryBudget) -> RequestsTransport:
    """The SDK's requests transport with the budget's connection and read timeouts.

    requests reads proxy variables, CA-bundle variables and ~/.netrc from the environment on every request (a
    stat and a scan of os.environ each time: ~15% of a point read's CPU). Where no proxy is configured, as in
    a Function app, that lookup is off (TLS is then verified against certifi's roots, which hold Azure's);
    with HTTPS_PROXY, HTTP_PROXY or ALL_PROXY set, requests reads the environment as usual.
    """
    use_env = any(os.environ.get(name) or os.environ.get(name.lower()) for name in _PROXY_VARIABLES)
    return PooledRequestsTransport(
        connection_timeout=budget.connection_timeout, read_timeout=budget.read_timeout, use_env_settings=use_env
    )
