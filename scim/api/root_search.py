"""POST /.search at the tenant root (RFC 7644 §3.4.3): one query over every resource type we serve.

Users come first, then groups; startIndex and count run across both. A filter or sortBy naming an attribute
that one type lacks matches nothing of that type (RFC 7644 §3.4.2.1), and is an error only if no type has it.
"""

from __future__ import annotations

from typing import Any

from scim2_models import InvalidSyntaxException, SCIMException, SearchRequest

from scim.api.common import base_url, page_bounds, parse_json
from scim.api.context import RequestContext
from scim.api.groups import GroupRoutes
from scim.api.query import list_body, search_request
from scim.api.users import UserRoutes
from scim.http import Response
from scim.models import GroupResource
from scim.protocol.documents import require_schema
from scim.settings import Settings


def root_search(settings: Settings, users: UserRoutes, groups: GroupRoutes, ctx: RequestContext) -> Response:
    payload = parse_json(ctx, settings.max_body_bytes)
    request, tenant = ctx.request, ctx.tenant
    if not isinstance(payload, dict):
        raise InvalidSyntaxException(detail="The request body must be a SearchRequest JSON object")
    require_schema(payload, str(SearchRequest.__schema__))
    body = {key: value for key, value in payload.items() if key != "schemas"}
    queries: dict[str, SearchRequest[Any] | None] = {}
    errors: list[SCIMException] = []
    for name, model in (("users", users.model_for(tenant)), ("groups", GroupResource)):
        try:
            queries[name] = search_request(model, body)
        except SCIMException as exc:
            queries[name] = None
            errors.append(exc)
    if len(errors) == len(queries):
        raise errors[0]

    base = base_url(request, 1)
    any_query = next(q for q in queries.values() if q is not None)
    start, count = page_bounds(settings, any_query.start_index, any_query.count)
    resources: list[dict[str, Any]] = []
    total = 0
    users_end = 0
    if (user_query := queries["users"]) is not None:
        page = users.users.search(tenant, user_query, start, count)
        resources += [users.render(user, base, user_query) for user in page.resources]
        total += page.total
        users_end = start - 1 + len(page.resources)
    if (group_query := queries["groups"]) is not None:
        group_start = max(1, start - total)
        # A users page cut short by its size (itemsPerPage < count) is not followed by groups: the next page
        # starts at startIndex + itemsPerPage, which must still be a user.
        wanted = count - len(resources) if users_end >= total else 0
        members = False  # a root search never pages through members
        page_g = groups.groups.search(tenant, group_query, group_start, wanted, members=members)
        resources += [groups.render(group, base, group_query) for group in page_g.resources]
        total += page_g.total
    return Response.scim_json(200, list_body(total, start, resources))
