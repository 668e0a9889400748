"""The SCIM resource models we serve and the tolerance policy Entra needs, built on scim2-models."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field
from scim2_models import (
    AnyExtension,
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Email,
    EnterpriseUser,
    ETag,
    Filter,
    Group,
    Manager,
    Meta,
    Pagination,
    Patch,
    Reference,
    Required,
    ScimPolicy,
    ServiceProviderConfig,
    Sort,
    User,
)


class PlatformEmail(Email):
    """An e-mail entry whose value is any string: RFC 7643 §4.1.2 says SHOULD be an address, not MUST.

    Microsoft's SCIM test collection sends values such as ``emailName357``; refusing them fails the user.
    """

    value: str | None = None


class PlatformManager(Manager):
    """The enterprise manager with ``$ref`` optional: Entra sends only the id, never a URI."""

    ref: Annotated[Reference[User] | None, Required.false] = Field(  # type: ignore[type-arg]
        None, serialization_alias="$ref", validation_alias="$ref"
    )


class PlatformUser(User[AnyExtension]):
    """The core User as we accept it (same schema URN; discovery is generated from this class)."""

    emails: list[PlatformEmail] | None = None  # type: ignore[assignment]


class PlatformEnterpriseUser(EnterpriseUser):
    """The enterprise extension as we accept it (same schema URN)."""

    manager: PlatformManager | None = None


UserResource = PlatformUser[PlatformEnterpriseUser]
"""Core User with the enterprise extension, as Entra's default mappings send it."""

GroupResource = Group
"""The core Group; Entra also lists its private ADSCIM schema URN, which ENTRA_POLICY ignores."""

GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_USER_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

ENTRA_POLICY = ScimPolicy(
    # Entra lists private schema URNs (ADSCIM) and sends unmapped top-level attributes.
    unknown=ScimPolicy.Unknown.ignore,
    # Default-dialect member removal: {"op":"Remove","path":"members","value":[{"value":id}]}.
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    # Add/Replace on emails[type eq "work"].value for a user without one creates the entry.
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)
"""How far we depart from RFC 7644 to accept what Entra really sends (shared/entra-behaviour.md §2-3)."""


def service_provider_config(location: str, max_results: int) -> dict[str, Any]:
    """RFC 7643 §5: what this service supports, as Entra and conformance tools read it."""
    config = ServiceProviderConfig(
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
        meta=Meta(resource_type="ServiceProviderConfig", location=location),
    )
    return config.model_dump()
