"""The one exception→response table of the SCIM routes: what each failure a handler lets through answers.

Services raise SCIM errors for what the request got wrong and let storage and secret failures through
untranslated; this table turns both into the response, once, for every SCIM route.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from scim2_models import SCIMException, UnauthorizedException

from scim.errors import InternalServerException, ServiceUnavailableException, error_response
from scim.http import Response
from scim.protocol.text import log_safe
from scim.secrets import SecretSourceUnavailableError
from scim.store import StorageUnavailableError

log = logging.getLogger("scim")

UNAVAILABLE: tuple[type[Exception], ...] = (SecretSourceUnavailableError, StorageUnavailableError, TimeoutError)
"""A dependency that did not answer: 503 with Retry-After at every front door, never a 401 (Entra would report
bad credentials and quarantine the job)."""


@dataclass(frozen=True)
class Failure:
    """The answer to a failed request, and the failure's name for the request's log line (dependencies only)."""

    response: Response
    error: str | None = None


def _unauthorized(exc: Exception) -> Failure:
    assert isinstance(exc, SCIMException)
    return Failure(error_response(exc, {"WWW-Authenticate": 'Bearer realm="scim"'}))


def _unavailable(exc: Exception) -> Failure:
    return Failure(error_response(ServiceUnavailableException()), type(exc).__name__)


def _scim_error(exc: Exception) -> Failure:
    assert isinstance(exc, SCIMException)
    return Failure(error_response(exc))


FAILURES: tuple[tuple[tuple[type[Exception], ...], Callable[[Exception], Failure]], ...] = (
    ((UnauthorizedException,), _unauthorized),
    (UNAVAILABLE, _unavailable),
    ((SCIMException,), _scim_error),
)
"""First match wins: a subclass row before its base's."""


def failure_response(exc: Exception, *, tenant: str, operation: str) -> Failure:
    """The table's answer to exc; anything it does not name is a 500 whose traceback goes to the log only."""
    for kinds, render in FAILURES:
        if isinstance(exc, kinds):
            return render(exc)
    log.error(
        "scim request failed: tenant=%s operation=%s",
        log_safe(tenant),
        operation,
        exc_info=exc,
    )
    return Failure(error_response(InternalServerException()))
