"""Framework-free HTTP request and response shapes, so the SCIM core runs under any host."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SCIM_CONTENT_TYPE = "application/scim+json"


@dataclass(frozen=True)
class Request:
    """One HTTP request as the SCIM handlers see it; header names are lower-cased."""

    method: str
    url: str
    route_params: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    @classmethod
    def build(
        cls,
        method: str,
        url: str,
        *,
        route_params: Mapping[str, str] | None = None,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> Request:
        """Normalise method and header-name case once, at the edge."""
        return cls(
            method=method.upper(),
            url=url,
            route_params=dict(route_params or {}),
            query=dict(query or {}),
            headers={k.lower(): v for k, v in (headers or {}).items()},
            body=body,
        )

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True)
class Response:
    """One HTTP response; the body is already encoded."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def scim_json(cls, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
        """A SCIM JSON response with the SCIM media type."""
        return cls(
            status=status,
            body=json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
            headers={"Content-Type": SCIM_CONTENT_TYPE, **(headers or {})},
        )

    @classmethod
    def empty(cls, status: int = 204, headers: Mapping[str, str] | None = None) -> Response:
        return cls(status=status, body=b"", headers=dict(headers or {}))
