"""RFC 9457 problem details: every refusal of the management API is one of these, as application/problem+json.

`type` is ``about:blank`` where the status says it all, otherwise a URN of ours naming the problem (RFC 9457
§3.1.1 allows a URI that is not a locator); the README lists them. `detail` says what to do; it never carries
a secret, a token or personal data.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field

from scim.http import Response

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:scim-functions:manage:problem:"

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    428: "Precondition Required",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class Problem(BaseModel):
    """An RFC 9457 problem details object."""

    model_config = ConfigDict(extra="forbid")

    type: str = Field(default="about:blank", description="A URI naming the problem; about:blank: see the status.")
    title: str = Field(description="A short summary of the problem type.")
    status: int = Field(description="The HTTP status code.")
    detail: str | None = Field(default=None, description="What went wrong in this request, and what to do.")
    instance: str | None = Field(default=None, description="The request path.")


class ProblemError(Exception):
    """Raised by handlers and checks; the dispatcher answers it as problem details."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        kind: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind
        """The problem's name after PROBLEM_TYPE_PREFIX; None: about:blank."""
        self.headers = dict(headers or {})

    def problem(self, instance: str | None = None) -> Problem:
        return Problem(
            type=f"{PROBLEM_TYPE_PREFIX}{self.kind}" if self.kind else "about:blank",
            title=_TITLES.get(self.status, "Error"),
            status=self.status,
            detail=self.detail,
            instance=instance,
        )


def problem_response(error: ProblemError, instance: str | None = None) -> Response:
    body = error.problem(instance).model_dump_json(exclude_none=True).encode("utf-8")
    headers = {"Content-Type": PROBLEM_CONTENT_TYPE, "Cache-Control": "no-store", **error.headers}
    return Response(error.status, body, headers)
