"""The one description of this SCIM service: what /Schemas, /ResourceTypes and /ServiceProviderConfig publish.

Everything here is generated from the models we validate with (scim2-models' ScimProvider), so what we
publish cannot drift from what we accept. Serving a new resource type is one line in RESOURCE_MODELS.
"""

from __future__ import annotations

import functools
from typing import Any

from scim2_models import (
    Attribute,
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    ETag,
    Extension,
    Filter,
    Pagination,
    Patch,
    Required,
    Resource,
    ResourceType,
    Schema,
    ScimProvider,
    ServiceProviderConfig,
    Sort,
)

from scim.models import ENTRA_POLICY, GroupResource, UserResource, extension_name, user_model
from scim.protocol.extensions import CustomAttributes

RESOURCE_MODELS: tuple[type[Resource[Any]], ...] = (
    UserResource,
    GroupResource,
)
"""The resource types we serve, each with the extensions it carries, in the order /ResourceTypes lists them."""


def _catalog(resources: tuple[type[Resource[Any]], ...]) -> list[type[Resource[Any]] | type[Extension]]:
    """The bare resource and extension models a ScimProvider wants, from the composed ones we serve."""
    catalog: list[type[Resource[Any]] | type[Extension]] = []
    for model in resources:
        extensions = list(model.get_extension_models().values())
        catalog.append(model.__bases__[0] if extensions else model)  # User[EnterpriseUser] -> User
        catalog.extend(extension for extension in extensions if extension not in catalog)
    return catalog


def _standard_names(model: type[Resource[Any]] | type[Extension], schema: Schema) -> Schema:
    """Publish the RFC's name and description ("User", not our subclass's "PlatformUser") for a tolerant
    subclass of a scim2-models class with the same schema URN; the attributes stay those of our class."""
    standard = next(
        (
            base
            for base in model.__mro__
            if base.__module__.startswith("scim2_models.") and base.__dict__.get("__schema__")
        ),
        None,
    )
    if standard is None or str(standard.__dict__["__schema__"]) != str(schema.id):
        return schema
    return schema.model_copy(update={"name": standard.__name__, "description": standard.__doc__ or standard.__name__})


def _requiring_email(schema: Schema) -> Schema:
    """The User schema when SCIM_REQUIRE_EMAIL is on: `emails` and its `value` are required, as we enforce."""

    def tighten(attribute: Attribute) -> Attribute:
        if attribute.name != "emails":
            return attribute
        subs = [
            sub.model_copy(update={"required": Required.true}) if sub.name == "value" else sub
            for sub in attribute.sub_attributes or []
        ]
        return attribute.model_copy(update={"required": Required.true, "sub_attributes": subs})

    return schema.model_copy(update={"attributes": [tighten(a) for a in schema.attributes or []]})


def bulk_support(max_operations: int, max_payload_size: int) -> Bulk:
    """RFC 7643 §5 `bulk`: POST /Bulk (scim.api.bulk) and the two limits RFC 7644 §3.7.4 requires it to publish."""
    return Bulk(supported=True, max_operations=max_operations, max_payload_size=max_payload_size)


def service_provider_config(max_results: int) -> ServiceProviderConfig:
    """RFC 7643 §5: only what this service really does; `bulk` is the deployment's, set by bulk_support when
    scim.api.discovery publishes the configuration (its limits are settings)."""
    return ServiceProviderConfig(
        documentation_uri=None,
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=max_results),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=True),
        etag=ETag(supported=True),
        authentication_schemes=[
            AuthenticationScheme(
                type=AuthenticationScheme.Type.oauthbearertoken,
                name="Bearer token",
                description="Send the tenant's Secret Token as 'Authorization: Bearer <token>'",
                primary=True,
            )
        ],
        pagination=Pagination(cursor=False, index=True, default_page_size=None, max_page_size=max_results),
    )


def _custom_names(declarations: CustomAttributes, schema: Schema) -> Schema:
    """A tenant's own extension under its URN's name (user_model names its class by position)."""
    if not any(declared.schema == str(schema.id) for declared in declarations) or schema.name == "EnterpriseUser":
        return schema
    name = extension_name(str(schema.id))
    return schema.model_copy(update={"name": name, "description": f"{name}: custom attributes of this tenant"})


class ServiceDescription:
    """The provider plus the schemas it publishes, as this deployment's settings and a tenant's declared
    custom attributes (scim.protocol.extensions) shape them."""

    def __init__(self, max_results: int, require_email: bool, declarations: CustomAttributes = ()) -> None:
        resources = (user_model(declarations), *RESOURCE_MODELS[1:])
        self.provider = ScimProvider(
            models=_catalog(resources),
            resource_types=[ResourceType.from_resource(model) for model in resources],
            config=service_provider_config(max_results),
            policy=ENTRA_POLICY,
        )
        user_schema = str(UserResource.__schema__)
        named = [
            _custom_names(declarations, _standard_names(m, s))
            for m, s in zip(self.provider.models, self.provider.schemas, strict=True)
        ]
        self.schemas: tuple[Schema, ...] = tuple(
            _requiring_email(schema) if require_email and schema.id == user_schema else schema for schema in named
        )

    @property
    def resource_types(self) -> tuple[ResourceType, ...]:
        return self.provider.resource_types

    @property
    def config(self) -> ServiceProviderConfig:
        assert self.provider.config is not None
        return self.provider.config

    def schema(self, schema_id: str) -> Schema | None:
        """A schema by its URN, compared case-insensitively as URNs are (RFC 8141 §3)."""
        return next((s for s in self.schemas if str(s.id).casefold() == schema_id.casefold()), None)

    def resource_type(self, resource_type_id: str) -> ResourceType | None:
        return next((t for t in self.resource_types if str(t.id).casefold() == resource_type_id.casefold()), None)


@functools.lru_cache(maxsize=256)
def describe_service(max_results: int, require_email: bool, declarations: CustomAttributes = ()) -> ServiceDescription:
    """Built once per process, setting values and set of declarations (tenants that declare the same share
    one): the description is immutable."""
    return ServiceDescription(max_results, require_email, declarations)
