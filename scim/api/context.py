"""What one SCIM request carries from the dispatcher to its handler, passed explicitly (no ContextVars)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scim.http import Request
from scim.platform.tenants import Tenant
from scim.store import RoundTripCounter


@dataclass
class RequestContext:
    """One request: made by ScimApi.dispatch, filled in as authentication and the body parser run."""

    request: Request
    """The request, its URL on the configured public base."""
    tenant: str
    """The tenant id from the URL."""
    record: Tenant | None = None
    """The tenant record authentication returned: read once per request."""
    payload: Any = None
    """The body as parse_json returned it: the activity log's record of what was sent, never parsed twice."""
    calls: RoundTripCounter = field(default_factory=RoundTripCounter)
    """This request's storage calls: the dispatcher counts into it with scim.store.counting(ctx.calls)."""

    @property
    def active_limit(self) -> int | None:
        """The authenticated tenant's maximum active users (the license cap)."""
        return self.record.max_active_users if self.record is not None else None

    @property
    def storage_calls(self) -> int:
        """Storage calls made for this request so far (retries included, its pooled point reads too)."""
        return self.calls.count
