"""SCIM errors that scim2-models does not define, and their rendering as RFC 7644 §3.12 responses."""

from __future__ import annotations

from collections.abc import Mapping

from scim2_models import Context, Error, SCIMException

from scim.http import Response


class MethodNotAllowedException(SCIMException):
    """The route exists but does not take this HTTP method (RFC 7644 §3.12 lists 405)."""

    status = 405
    _default_detail = "This endpoint does not support this HTTP method"

    def __init__(self, *, allowed: tuple[str, ...], detail: str | None = None) -> None:
        super().__init__(detail=detail)
        self.allowed = allowed


class ServiceUnavailableException(SCIMException):
    """Storage or a dependency is overloaded or unreachable; the client should retry later."""

    status = 503
    _default_detail = "The service is temporarily unavailable; retry later"


class UnsupportedMediaTypeException(SCIMException):
    """The request body is not JSON (RFC 7231 §6.5.13); RFC 7644 defines no scimType for it."""

    status = 415
    _default_detail = "Send the body as application/scim+json"


class NotImplementedException(SCIMException):
    """A SCIM feature this service does not offer, such as /Me (RFC 7644 §3.11: "501 (Not Implemented)")."""

    status = 501
    _default_detail = "This service does not implement this SCIM feature"


class InternalServerException(SCIMException):
    """An unexpected failure; the detail never carries internals."""

    status = 500
    _default_detail = "The server failed to process the request; it has been logged"


def error_response(exc: SCIMException, headers: Mapping[str, str] | None = None) -> Response:
    """Render a SCIM exception as an Error message: status as a string, scimType where defined."""
    error: Error = exc.to_error()
    payload = error.model_dump(scim_ctx=Context.DEFAULT)
    extra = dict(headers or {})
    if isinstance(exc, MethodNotAllowedException):
        extra["Allow"] = ", ".join(exc.allowed)
    if isinstance(exc, ServiceUnavailableException):
        extra.setdefault("Retry-After", "10")
    return Response.scim_json(exc.status, payload, extra)
