"""The SCIM resource models we serve and the tolerance policy Entra needs, built on scim2-models."""

from __future__ import annotations

from scim2_models import EnterpriseUser, ScimPolicy, User

UserResource = User[EnterpriseUser]
"""Core User with the enterprise extension, as Entra's default mappings send it."""

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
