"""A client of the management API (/manage/v1/) for the platform's backend: copy it into your code base.

It needs only the standard library; `entra_token_provider` (below) uses azure-identity to get the access
token as the backend's managed identity (or any credential DefaultAzureCredential finds). What it does for you:

- sends a new Idempotency-Key with every create and **retries with the same key** after a timeout, a dropped
  connection, 429 or 503, so a create is never done twice and never shows a second token. A retry whose
  first attempt did go through answers ``replayed: true`` and no secret: the secret of the first answer is not
  kept anywhere, so if you lost it, rotate the token (``rotate_token``) and retire the old one;
- waits as long as Retry-After says on 429 and 503 (up to `max_wait` seconds a call);
- pages through lists with the opaque ``next`` cursor;
- raises `ManageError` with the RFC 9457 problem (type, status, detail) for every other refusal.

Keep the secrets it returns (``secretToken``, ``oauthClient.clientSecret``, a setup link's ``url``) out of your
logs: show them to the customer once, to paste into Entra (or send the link to their IT admin), and do not
store them.

    from examples.manage_client import ManageClient, entra_token_provider
    client = ManageClient("https://<app>.azurewebsites.net/manage/v1",
                          entra_token_provider("api://<management API app id>"))
    created = client.create_tenant(display_name="Contoso Ltd", max_active_users=500)
    print(created["tenant"]["tenantUrl"], created["secretToken"])   # to the customer, once
"""

from __future__ import annotations

import json
import random
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

RETRIED_STATUSES = (429, 502, 503, 504)


class ManageError(Exception):
    """The API refused the request: `problem` is its RFC 9457 problem details."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(f"{status} {problem.get('title', '')}: {problem.get('detail', '')}")
        self.status = status
        self.problem = problem

    @property
    def kind(self) -> str:
        """The problem type's last part (e.g. 'credential-state', 'tenant-not-found'), or 'about:blank'."""
        return str(self.problem.get("type", "about:blank")).rsplit(":", 1)[-1]


def entra_token_provider(audience: str) -> Callable[[], str]:
    """Access tokens for the management API from Microsoft Entra ID (azure-identity), renewed before expiry."""
    from azure.identity import DefaultAzureCredential

    credential = DefaultAzureCredential()
    held: dict[str, Any] = {"token": None, "expires": 0}

    def token() -> str:
        if held["token"] is None or held["expires"] - time.time() < 300:
            access = credential.get_token(f"{audience.rstrip('/')}/.default")
            held.update(token=access.token, expires=access.expires_on)
        return str(held["token"])

    return token


class ManageClient:
    """One deployment's management API; `base_url` ends with /manage/v1."""

    def __init__(
        self,
        base_url: str,
        token: Callable[[], str],
        *,
        timeout: float = 30.0,
        max_wait: float = 60.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        parts = urllib.parse.urlsplit(base_url)
        local = parts.hostname in ("127.0.0.1", "localhost")
        if parts.scheme != "https" and not (parts.scheme == "http" and local):
            raise ValueError("the management API is reached over https (http only on this machine, for tests)")
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._max_wait = max_wait
        self._ssl = ssl_context

    # -- tenants ---------------------------------------------------------------------------------

    def create_tenant(
        self,
        tenant_id: str | None = None,
        *,
        display_name: str | None = None,
        max_active_users: int | None = None,
        auth: str = "token",
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """Create a tenant: {"tenant": {..., "tenantUrl"}, "secretToken" or "oauthClient", "replayed"}.

        Pass your own idempotency_key (e.g. your signup's id) to make a create safe across your own restarts too.
        """
        body: dict[str, Any] = {"auth": auth}
        if tenant_id is not None:
            body["id"] = tenant_id
        if display_name is not None:
            body["displayName"] = display_name
        if max_active_users is not None:
            body["maxActiveUsers"] = max_active_users
        key = idempotency_key or str(uuid.uuid4())
        return self._send("POST", "/tenants", body, headers={"Idempotency-Key": key})

    def tenants(self, page_size: int = 50) -> Iterator[dict[str, Any]]:
        """Every tenant, by id, one page at a time."""
        yield from self._pages("/tenants", {"limit": str(page_size)})

    def tenant(self, tenant_id: str) -> dict[str, Any]:
        return self._send("GET", f"/tenants/{_id(tenant_id)}")

    def rotate_token(self, tenant_id: str) -> dict[str, Any]:
        """A new Secret Token ("secretToken"); the previous one works until `retire_token`."""
        return self._send("POST", f"/tenants/{_id(tenant_id)}/token/rotate")

    def retire_token(self, tenant_id: str, *, all_tokens: bool = False) -> dict[str, Any]:
        """Retire every token but the newest; all_tokens=True (after a leak) retires all and returns a new one."""
        return self._send("POST", f"/tenants/{_id(tenant_id)}/token/retire", {"all": all_tokens})

    def rotate_client_secret(self, tenant_id: str) -> dict[str, Any]:
        return self._send("POST", f"/tenants/{_id(tenant_id)}/client-secret/rotate")

    def retire_client_secret(self, tenant_id: str) -> dict[str, Any]:
        return self._send("POST", f"/tenants/{_id(tenant_id)}/client-secret/retire")

    def set_limit(self, tenant_id: str, max_active_users: int | None) -> dict[str, Any]:
        """The license cap from the customer's plan; None: no limit."""
        return self._send("PUT", f"/tenants/{_id(tenant_id)}/limit", {"maxActiveUsers": max_active_users})

    def disable(self, tenant_id: str) -> dict[str, Any]:
        return self._send("POST", f"/tenants/{_id(tenant_id)}/disable")

    def enable(self, tenant_id: str) -> dict[str, Any]:
        return self._send("POST", f"/tenants/{_id(tenant_id)}/enable")

    def delete(self, tenant_id: str) -> dict[str, Any]:
        return self._send("DELETE", f"/tenants/{_id(tenant_id)}")

    # -- setup links: the customer's IT admin connects Entra alone ---------------------------------

    def create_setup_link(
        self,
        tenant_id: str,
        *,
        expires_in: str = "72h",
        auth: str | None = None,
        idempotency_key: str | None = None,
    ) -> dict[str, Any]:
        """A one-time link to the setup page: {"url", "linkId", "expires", "kind", "state", ...}.

        Send "url" to the tenant's IT admin alone and do not store or log it: opening it reveals a new Secret
        Token (or client secret for auth="oauth") once. A retry with the same key answers "replayed": true and no
        URL; if the URL was lost, mint another (a new link replaces one nobody opened).
        """
        body: dict[str, Any] = {"expiresIn": expires_in, **({"auth": auth} if auth else {})}
        key = idempotency_key or str(uuid.uuid4())
        return self._send("POST", f"/tenants/{_id(tenant_id)}/setup-links", body, headers={"Idempotency-Key": key})

    def setup_links(self, tenant_id: str) -> Iterator[dict[str, Any]]:
        """The tenant's links, oldest first, with their state (ready, revealed, expired, revoked, ...); no URL."""
        yield from self._pages(f"/tenants/{_id(tenant_id)}/setup-links", {})

    def revoke_setup_link(self, tenant_id: str, link_id: str) -> dict[str, Any]:
        """Revoke one link by its id: {"revoked": [ids], ...}; its credential too if nobody revealed it."""
        return self._send("DELETE", f"/tenants/{_id(tenant_id)}/setup-links/{_id(link_id)}")

    def revoke_setup_links(self, tenant_id: str) -> dict[str, Any]:
        """Revoke every open link of the tenant."""
        return self._send("DELETE", f"/tenants/{_id(tenant_id)}/setup-links")

    # -- what Entra did --------------------------------------------------------------------------

    def status(self, tenant_id: str) -> dict[str, Any]:
        return self._send("GET", f"/tenants/{_id(tenant_id)}/status")

    def activity(
        self, tenant_id: str, *, user_name: str | None = None, errors: bool = False, since: str | None = None
    ) -> Iterator[dict[str, Any]]:
        """Newest first: Entra's refused requests (with a hint), committed changes, and platform changes (door)."""
        query = {"errors": "true" if errors else "false"}
        if user_name:
            query["userName"] = user_name
        if since:
            query["since"] = since
        yield from self._pages(f"/tenants/{_id(tenant_id)}/activity", query)

    def changes(
        self, tenant_id: str, cursor: str | None = None, *, limit: int = 100, stream: str | None = None
    ) -> dict[str, Any]:
        """One page of changes after `cursor` (None: from the oldest kept): {"items", "positions", "next"}.

        Keep "next" and poll with it (and the same `stream`, "Users" or "Groups"; None: both): every committed
        change comes once, none missed. Do not page by "seq": numbers are not in commit order.
        """
        query = {
            "limit": str(limit),
            **({"cursor": cursor} if cursor else {}),
            **({"stream": stream} if stream else {}),
        }
        return self._send("GET", f"/tenants/{_id(tenant_id)}/changes?{urllib.parse.urlencode(query)}")

    # -- transport -------------------------------------------------------------------------------

    def _pages(self, path: str, query: dict[str, str]) -> Iterator[dict[str, Any]]:
        cursor: str | None = None
        while True:
            sent = {**query, **({"cursor": cursor} if cursor else {})}
            page = self._send("GET", f"{path}?{urllib.parse.urlencode(sent)}")
            yield from page["items"]
            cursor = page.get("next")
            if not cursor:
                return

    def _send(
        self, method: str, path: str, body: Any = None, *, headers: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """One call, retried (same headers, so the same Idempotency-Key) while the failure is transient."""
        data = json.dumps(body).encode() if body is not None else None
        waited = 0.0
        attempt = 0
        while True:
            attempt += 1
            sent = {"Authorization": f"Bearer {self._token()}", "Accept": "application/json", **(headers or {})}
            if data is not None:
                sent["Content-Type"] = "application/json"
            url = f"{self.base_url}{path}"  # http(s) only, checked in __init__
            request = urllib.request.Request(url, data=data, method=method, headers=sent)  # noqa: S310
            try:
                with urllib.request.urlopen(request, timeout=self._timeout, context=self._ssl) as answer:  # noqa: S310
                    return dict(json.loads(answer.read() or b"{}"))
            except urllib.error.HTTPError as exc:
                raw = exc.read()
                try:
                    problem = json.loads(raw) if raw else {}
                except ValueError:
                    problem = {"detail": raw[:200].decode("utf-8", "replace")}
                if exc.code not in RETRIED_STATUSES:
                    raise ManageError(exc.code, problem) from None
                pause = _retry_after(exc.headers.get("Retry-After"), attempt)
                error: Exception = ManageError(exc.code, problem)
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                pause, error = _retry_after(None, attempt), exc
            if waited + pause > self._max_wait:
                raise error
            time.sleep(pause)
            waited += pause


def _retry_after(header: str | None, attempt: int) -> float:
    if header and header.strip().isdigit():
        return float(header.strip())
    return min(30.0, 0.5 * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not a secret


def _id(tenant_id: str) -> str:
    return urllib.parse.quote(tenant_id, safe="")
