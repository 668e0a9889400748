"""RFC 7644 §4 discovery: /ServiceProviderConfig, /Schemas and /ResourceTypes of a tenant, read-only.

Authenticated like every other route: RFC 7644 §4 does not exempt these endpoints, Entra sends its bearer
token on them anyway, and an open endpoint under /scim/v2/<tenant> would tell anyone which tenants exist.
"""

from __future__ import annotations

from typing import Any

from scim2_models import Context, ForbiddenException, ListResponse, Meta, NotFoundException, Resource

from scim.api.common import base_url as _base_url
from scim.api.context import RequestContext
from scim.api.scim import Operation, ScimApi
from scim.http import Request, Response
from scim.provider import ServiceDescription, bulk_support, describe_service

__all__ = ["resource_type", "resource_types", "schema", "schemas", "service_provider_config"]


def _description(api: ScimApi, tenant: str = "") -> ServiceDescription:
    """This deployment's description; with a tenant, /Schemas and /ResourceTypes carry its custom attributes."""
    declarations = api.users.declarations(tenant) if tenant else ()
    return describe_service(api.settings.max_page_size, api.settings.require_email, declarations)


def _refuse_filter(request: Request) -> None:
    # RFC 7644 §4: a filter here SHOULD get 403, so that no client believes its conditions were applied.
    if "filter" in request.query:
        raise ForbiddenException(detail="Discovery endpoints cannot be filtered; omit the filter parameter")


def _located(resource: Resource[Any], resource_type: str, location: str) -> dict[str, Any]:
    located = resource.model_copy(update={"meta": Meta(resource_type=resource_type, location=location)})
    return located.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)


def _list(resources: list[dict[str, Any]]) -> Response:
    # RFC 7644 §4: paging parameters are ignored; every entry fits one page.
    body = {
        "schemas": [str(ListResponse.__schema__)],
        "totalResults": len(resources),
        "startIndex": 1,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }
    return Response.scim_json(200, body)


def service_provider_config(api: ScimApi, request: Request) -> Response:
    def get(ctx: RequestContext) -> Response:
        request = ctx.request
        _refuse_filter(request)
        limits = api.settings
        bulk = bulk_support(limits.bulk_max_operations, limits.max_body_bytes)
        config = _description(api).config.model_copy(update={"bulk": bulk})
        return Response.scim_json(200, _located(config, "ServiceProviderConfig", _base_url(request, 0)))

    return api.dispatch(request, "service_provider_config", "", {"GET": Operation("get", get)})


def schemas(api: ScimApi, request: Request) -> Response:
    def get(ctx: RequestContext) -> Response:
        request = ctx.request
        _refuse_filter(request)
        base_url = _base_url(request, 1)
        described = _description(api, ctx.tenant).schemas
        return _list([_located(s, "Schema", f"{base_url}/Schemas/{s.id}") for s in described])

    return api.dispatch(request, "schemas", "", {"GET": Operation("get", get)})


def schema(api: ScimApi, request: Request) -> Response:
    def get(ctx: RequestContext) -> Response:
        request = ctx.request
        _refuse_filter(request)
        found = _description(api, ctx.tenant).schema(request.route_params["id"])
        if found is None:
            raise NotFoundException(detail="No such schema; GET /Schemas lists the schemas this service uses")
        return Response.scim_json(200, _located(found, "Schema", f"{_base_url(request, 2)}/Schemas/{found.id}"))

    return api.dispatch(request, "schema", "", {"GET": Operation("get", get)})


def resource_types(api: ScimApi, request: Request) -> Response:
    def get(ctx: RequestContext) -> Response:
        request = ctx.request
        _refuse_filter(request)
        base_url = _base_url(request, 1)
        return _list(
            [
                _located(t, "ResourceType", f"{base_url}/ResourceTypes/{t.id}")
                for t in _description(api, ctx.tenant).resource_types
            ]
        )

    return api.dispatch(request, "resource_types", "", {"GET": Operation("get", get)})


def resource_type(api: ScimApi, request: Request) -> Response:
    def get(ctx: RequestContext) -> Response:
        request = ctx.request
        _refuse_filter(request)
        found = _description(api, ctx.tenant).resource_type(request.route_params["id"])
        if found is None:
            raise NotFoundException(detail="No such resource type; GET /ResourceTypes lists them")
        location = f"{_base_url(request, 2)}/ResourceTypes/{found.id}"
        return Response.scim_json(200, _located(found, "ResourceType", location))

    return api.dispatch(request, "resource_type", "", {"GET": Operation("get", get)})
