"""The SCIM resource models we serve and the tolerance policy Entra needs, built on scim2-models."""

from __future__ import annotations

import functools
from typing import Annotated, Union

from pydantic import Field
from scim2_models import (
    AnyExtension,
    Attribute,
    CaseExact,
    Email,
    EnterpriseUser,
    Extension,
    Group,
    Manager,
    Mutability,
    Reference,
    Required,
    Returned,
    Schema,
    ScimPolicy,
    Uniqueness,
    User,
)

from scim.protocol.extensions import CustomAttribute, CustomAttributes
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


def _attribute(declared: CustomAttribute) -> Attribute:
    """A declared custom attribute as RFC 7643 §7 describes one: single-valued, simple, readWrite."""
    return Attribute(
        name=declared.name,
        type=Attribute.Type(declared.type),
        multi_valued=False,
        description=f"Custom attribute declared for this tenant ({declared.type})",
        required=Required.false,
        case_exact=CaseExact.true if declared.case_exact else CaseExact.false,
        mutability=Mutability.read_write,
        returned=Returned.default,
        uniqueness=Uniqueness.server if declared.unique else Uniqueness.none,
    )


def extension_name(schema: str) -> str:
    """What /Schemas calls an extension: the URN's name part (``CustomExtensionName`` in Entra's example)."""
    parts = schema.split(":")
    named = [part for part in parts if part and not part[0].isdigit()]
    return named[-2] if len(named) >= 2 and named[-1] in ("User", "Group") else named[-1]


def extension_attributes(declarations: CustomAttributes) -> dict[str, list[CustomAttribute]]:
    """Declarations grouped by extension URN, the enterprise extension's under its standard spelling."""
    grouped: dict[str, list[CustomAttribute]] = {}
    for declared in declarations:
        grouped.setdefault(declared.schema, []).append(declared)
    return grouped


@functools.cache
def user_model(declarations: CustomAttributes) -> type[UserResource]:
    """The User model of a tenant: ours, with its declared custom attributes in their extensions.

    Built once per set of declarations (scim2-models builds extension models from a Schema: Extension.
    from_schema); a tenant that declared nothing gets UserResource itself. Model names are positional
    (CustomExtension0, …): they become field names, which a URN's name part need not be fit for.

    Not evicted: a build costs about 0.1 s of CPU, and the PatchOp and SearchRequest classes cached per model
    (scim.protocol.patch, scim.api.query) would keep an evicted model alive anyway, so a bounded cache here
    would leak a new class at every miss. The keys are the operator's declarations, never request input: one
    model per distinct set of declarations the worker has served.
    """
    if not declarations:
        return UserResource
    enterprise: type[Extension] = PlatformEnterpriseUser
    extensions: list[type[Extension]] = []
    for position, (schema, declared) in enumerate(sorted(extension_attributes(declarations).items())):
        attributes = [_attribute(d) for d in declared]
        if schema == ENTERPRISE_USER_SCHEMA:
            enterprise = PlatformEnterpriseUser.from_schema(
                Schema(id=schema, name="EnterpriseUser", attributes=attributes)
            )
        else:
            extensions.append(
                Extension.from_schema(Schema(id=schema, name=f"CustomExtension{position}", attributes=attributes))
            )
    model: type[UserResource] = PlatformUser[Union[enterprise, *extensions]]  # type: ignore[valid-type]
    model.__custom_attributes__ = declarations  # type: ignore[attr-defined]
    return model


def declarations_of(model: type[object]) -> CustomAttributes:
    """The custom attributes a model of user_model carries (none for UserResource)."""
    declared: CustomAttributes = getattr(model, "__custom_attributes__", ())
    return declared
