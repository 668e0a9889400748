"""The OAuth2 token endpoint, POST /oauth2/token: the client credentials grant (RFC 6749 §4.4).

Entra's "OAuth2 client credentials grant" posts `grant_type=client_credentials` with the client id and
secret, form-encoded in the body or as HTTP Basic (§2.3.1; both accepted, both at once refused), and
sends the access token it gets as `Authorization: Bearer` to the SCIM routes. Errors are RFC 6749 §5.2
JSON; a client id that does not exist is refused exactly like a wrong secret. The secret is checked first:
a correct one always gets its token, and only a caller that keeps failing (per client id and source) is
told to wait (scim.oauth.throttle), so nobody can lock a tenant's client out. A failed request logs its
client id only if it names a registered tenant (a swapped id and secret would otherwise log the secret).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import time
from typing import Any
from urllib.parse import parse_qsl, unquote_plus, urlsplit

from scim2_models import UnauthorizedException

from scim.api.failures import UNAVAILABLE
from scim.auth import TenantAuthenticator
from scim.http import Request, Response
from scim.oauth.throttle import FailedClientLogins
from scim.oauth.tokens import AccessTokens, SigningKeyMissingError
from scim.protocol.text import log_safe

log = logging.getLogger("scim")

TOKEN_UNAVAILABLE: tuple[type[Exception], ...] = (*UNAVAILABLE, SigningKeyMissingError)
"""The SCIM routes' dependency failures (scim.api.failures), and no signing key yet: 503 in OAuth's error form."""

MAX_BODY_BYTES = 4096
"""A token request is a few hundred bytes; a larger body is refused before it is parsed."""

FORM = "application/x-www-form-urlencoded"
GRANT = "client_credentials"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
CHALLENGE = {"WWW-Authenticate": 'Basic realm="scim-oauth", charset="UTF-8"'}


def scim_audience(url: str, public_base_url: str | None) -> str:
    """This deployment's SCIM base URL, the `aud` of its access tokens: SCIM_PUBLIC_BASE_URL, else the
    request's origin (the same rule as Location headers), followed by /scim/v2."""
    if public_base_url:
        return f"{public_base_url}/scim/v2"
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/scim/v2"


class OAuthError(Exception):
    """An RFC 6749 §5.2 error response."""

    def __init__(self, status: int, error: str, description: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.description = description
        self.headers = headers or {}


def _json(status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(payload, separators=(",", ":")).encode("utf-8")
    return Response(status, body, {"Content-Type": "application/json;charset=UTF-8", **NO_STORE, **(headers or {})})


def _invalid_request(description: str) -> OAuthError:
    return OAuthError(400, "invalid_request", description)


def _invalid_client(description: str = "client authentication failed") -> OAuthError:
    return OAuthError(401, "invalid_client", description, CHALLENGE)


def _form(request: Request) -> dict[str, str]:
    """The body's parameters; RFC 6749 §3.2: empty values count as omitted, none may appear twice."""
    media_type = (request.header("content-type") or "").split(";", 1)[0].strip().lower()
    if media_type != FORM:
        raise _invalid_request(f"send the parameters as {FORM}")
    if len(request.body) > MAX_BODY_BYTES:
        raise _invalid_request("the request body is too large")
    try:
        pairs = parse_qsl(request.body.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _invalid_request("the body is not valid form encoding") from exc
    form: dict[str, str] = {}
    seen: set[str] = set()
    for name, value in pairs:
        if name in seen:  # an empty first value counts: `client_id=&client_id=x` is a duplicate too
            raise _invalid_request(f"the parameter {name} appears more than once")
        seen.add(name)
        if value:
            form[name] = value
    return form


def _basic(authorization: str) -> tuple[str, str]:
    """Client id and secret from HTTP Basic; each is form-urlencoded before encoding (RFC 6749 §2.3.1)."""
    scheme, _, encoded = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        raise _invalid_client("authenticate the client with HTTP Basic or client_id and client_secret in the body")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise _invalid_client("the Basic credentials are not valid base64") from exc
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id or not secret:
        raise _invalid_client("the Basic credentials must be client_id:client_secret")
    return unquote_plus(client_id), unquote_plus(secret)


def _credentials(request: Request, form: dict[str, str]) -> tuple[str, str]:
    authorization = request.header("authorization")
    if authorization:
        if "client_secret" in form:
            raise _invalid_request("authenticate the client one way only: HTTP Basic or the body, not both")
        client_id, secret = _basic(authorization)
        if form.get("client_id", client_id) != client_id:
            raise _invalid_request("client_id in the body differs from the one in HTTP Basic")
        return client_id, secret
    body_id, body_secret = form.get("client_id"), form.get("client_secret")
    if not body_id or not body_secret:
        raise _invalid_client("send client_id and client_secret (in the body or as HTTP Basic)")
    return body_id, body_secret


def request_source(request: Request) -> str:
    """The address the request came from, as the nearest proxy saw it: the last X-Forwarded-For entry (App
    Service's front end appends the client's address; earlier entries are the caller's to forge), without a
    port. Empty when unknown: the failures of such requests share one source per client id."""
    forwarded = (request.header("x-forwarded-for") or "").rsplit(",", 1)[-1].strip()[:64]
    if forwarded.startswith("["):  # [v6]:port
        return forwarded[1:].partition("]")[0]
    host, colon, port = forwarded.rpartition(":")
    if colon and host and ":" not in host and port.isdigit():  # v4:port (a bare v6 address has several colons)
        return host
    return forwarded


def client_label(client_id: str, known: bool) -> str:
    """What a log line may say about a client id: the id of a registered tenant, else only a short digest
    and the length (an unknown "id" may be a secret pasted into the wrong field)."""
    if known:
        return client_id
    digest = hashlib.sha256(client_id.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"unknown.sha256-{digest}.{len(client_id)}-chars"


class TokenEndpoint:
    """Issues access tokens to tenants' clients; one instance per deployment (per worker)."""

    def __init__(
        self,
        auth: TenantAuthenticator,
        tokens: AccessTokens,
        *,
        public_base_url: str | None,
        failures: FailedClientLogins | None = None,
    ) -> None:
        self._auth = auth
        self._tokens = tokens
        self._public_base_url = public_base_url
        self.failures = failures or FailedClientLogins()

    def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        client_id: str | None = None
        try:
            if request.method != "POST":
                raise OAuthError(405, "invalid_request", "use POST", {"Allow": "POST"})
            if request.query:
                raise _invalid_request("send the parameters in the body, never in the URL")
            form = _form(request)
            client_id, secret = _credentials(request, form)
            grant_type = form.get("grant_type")
            if grant_type is None:
                raise _invalid_request("grant_type is missing")
            if grant_type != GRANT:
                raise OAuthError(400, "unsupported_grant_type", f"only grant_type={GRANT} is supported")
            response = self._issue(request, client_id, secret)
        except OAuthError as exc:
            response = _json(exc.status, {"error": exc.error, "error_description": exc.description}, exc.headers)
        except TOKEN_UNAVAILABLE as exc:
            log.warning("oauth token endpoint unavailable: error=%s", type(exc).__name__)
            response = _json(
                503,
                {"error": "temporarily_unavailable", "error_description": "retry later"},
                {"Retry-After": "10"},
            )
        label = "-" if client_id is None else client_label(client_id, self._knows(client_id))
        log.info(
            "oauth token client=%s status=%d ms=%.1f",
            log_safe(label),
            response.status,
            (time.perf_counter() - started) * 1000,
        )
        return response

    def _knows(self, client_id: str) -> bool:
        try:
            return self._auth.knows_client(client_id)
        except Exception:  # a log line never fails the answer it describes
            return False

    def _issue(self, request: Request, client_id: str, secret: str) -> Response:
        source = request_source(request)
        try:
            # First, always: a correct secret gets its token however many wrong ones came before it.
            tenant = self._auth.authenticate_client(client_id, secret)
        except UnauthorizedException as exc:
            wait = self.failures.failed(client_id, source)
            if wait:
                raise OAuthError(
                    429,
                    "slow_down",
                    "too many failed attempts for this client; retry later",
                    {"Retry-After": str(wait)},
                ) from exc
            raise _invalid_client() from exc
        issued = self._tokens.issue(tenant.id, scim_audience(request.url, self._public_base_url))
        return _json(
            200, {"access_token": issued.access_token, "token_type": "Bearer", "expires_in": issued.expires_in}
        )
