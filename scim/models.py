"""The SCIM resource models we serve and the tolerance policy Entra needs, built on scim2-models."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from scim2_models import (
    AnyExtension,
    Email,
    EnterpriseUser,
    Group,
    Manager,
    Reference,
    Required,
    ScimPolicy,
    User,
)

from scim.protocol.names import comparison_key


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

SEARCH_POLICY = ENTRA_POLICY.model_copy(update={"comparison_key": comparison_key})
"""ENTRA_POLICY comparing userName and group displayName by identity_key, as their index rows do: the policy
filters match and sort under (a ``with`` block around a search).

Not ENTRA_POLICY itself: under any comparison_key but the default, scim2-models checks every string of every
written resource against it, which made a create's validation 14 times slower (0.4 ms to 6 ms, measured);
our key refuses nothing, so that check could find nothing. PATCH value filters select entries of multi-valued
attributes (emails, members), never by these two attributes."""
