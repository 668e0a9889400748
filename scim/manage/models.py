"""The management API's bodies: the pydantic models its handlers read and write, and its OpenAPI schemas.

Requests refuse unknown fields (a typo must not be silently ignored); answers use camelCase like the SCIM
side. Secrets appear in three models only (`TenantCreated`, `TokenIssued`, `OAuthClient` inside them), the
answers of create and rotate; no other answer has a field that could hold one. A setup link's URL (which
reveals a credential once) is in `SetupLinkCreated` only, the answer of its create.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

TENANT_ID_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$"


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class TenantCreate(_Model):
    """A new customer tenant."""

    id: str | None = Field(
        default=None,
        pattern=TENANT_ID_PATTERN,
        description="The tenant id in the Tenant URL (lower case a-z, 0-9, '-'; 1-63). Omitted: one is made up.",
    )
    display_name: str | None = Field(default=None, max_length=256, description="Default: the id.")
    max_active_users: int | None = Field(
        default=None, ge=0, le=10_000_000, description="The license cap: most active users; null for no limit."
    )
    auth: Literal["token", "oauth", "both"] = Field(
        default="token",
        description="How Entra connects: a Secret Token, OAuth2 client credentials, or both (during a migration).",
    )


class LimitUpdate(_Model):
    """The tenant's license cap."""

    max_active_users: int | None = Field(ge=0, le=10_000_000, description="Most active users; null: no limit.")


class TokenRetire(_Model):
    """Which Secret Tokens to retire."""

    all: bool = Field(
        default=False,
        description="After a leak: retire every token, the newest too, and answer a new one (Entra is refused "
        "until it is pasted). Default: every token but the newest.",
    )


class Tenant(_Model):
    """A customer tenant as the platform sees it (never a secret)."""

    id: str
    display_name: str
    created: datetime
    enabled: bool
    max_active_users: int | None
    tenant_url: str = Field(description="What the customer pastes into Entra as the Tenant URL.")


class TenantDetail(Tenant):
    """A tenant with what it holds now and how many credentials are valid (never their values)."""

    users: int
    active_users: int
    groups: int
    valid_secret_tokens: int
    valid_client_secrets: int


class TenantPage(_Model):
    items: list[Tenant]
    next: str | None = Field(description="The cursor of the next page (pass as ?cursor=); null on the last page.")


class OAuthClient(_Model):
    """The values Entra's 'OAuth2 client credentials grant' takes (the secret only in create and rotate answers)."""

    token_endpoint: str
    client_id: str
    client_secret: str | None = Field(description="Shown once; null when a create is replayed.")


class TenantCreated(_Model):
    """The answer to a create: what the customer's Entra admin pastes. The secrets are in this answer only."""

    tenant: Tenant
    secret_token: str | None = Field(
        description="The Secret Token, shown once; null for an OAuth-only tenant and when the create is replayed."
    )
    oauth_client: OAuthClient | None = None
    replayed: bool = Field(
        description="True when this answers a retried create (same Idempotency-Key): the tenant is the one created "
        "then, and no secret is shown again. Rotate the token if the first answer was lost."
    )


class TokenIssued(_Model):
    """A new Secret Token (rotate, or retire all) or client secret; the previous one per the operation."""

    id: str
    tenant_url: str
    secret_token: str | None = None
    oauth_client: OAuthClient | None = None
    retired: int = Field(default=0, description="Credentials made invalid by this call.")
    effective_within_seconds: int = Field(description="Every worker applies the change within this bound.")


class Retired(_Model):
    """Credentials retired; every worker refuses them within the bound."""

    id: str
    retired: int
    effective_within_seconds: int


class TenantChanged(Tenant):
    """A tenant after a change of its record (limit, enabled), and when every worker applies it."""

    effective_within_seconds: int


class Deleted(_Model):
    id: str
    deleted_rows: dict[str, int]


class Counts(_Model):
    requests: int
    errors: int


class DayCounts(Counts):
    writes: int


class HourCounts(Counts):
    start: datetime


class UserCounts(_Model):
    active: int
    disabled: int
    total: int


class License(_Model):
    active: int
    limit: int | None


class Refused(_Model):
    last24h: int
    last: datetime | None


class TenantStatus(_Model):
    """What Entra did lately: the last request, the last cycle and 24 h, users, groups, license use."""

    id: str
    last_request: datetime | None
    last_cycle: Counts
    last24h: DayCounts
    users: UserCounts
    groups: int
    license: License
    hours: list[HourCounts]
    refused: Refused = Field(description="Requests refused for want of valid credentials (anyone can send them).")


class ActivityItem(_Model):
    """One answer Entra got (a refusal or error, with what to do), a committed change, or a platform change
    (resourceType Tenant) with the door that made it."""

    time: datetime
    operation: str
    resource_type: str
    id: str
    name: str
    status: int | None = Field(description="The status answered; null for a change (its answer is not kept).")
    scim_type: str
    detail: str
    hint: str
    door: str | None = Field(description="Who made a platform change: 'cli' or 'manage-api:<app id>'; else null.")
    change_seq: int | None
    custom_attributes: dict[str, str | int | bool | None] | None = Field(
        default=None,
        description="Of a user's change on a tenant that declared custom attributes: those the change set, by name "
        "(the URN-qualified name where two extensions declare the same one), null for a value it removed; string "
        "values past 64 characters are cut. Else null.",
    )
    custom_attributes_omitted: int = Field(
        default=0, description="How many more custom attributes the change set than customAttributes shows (bounded)."
    )


class ActivityPage(_Model):
    items: list[ActivityItem]
    next: str | None


class ChangeItem(_Model):
    """One committed write, in its stream's sequence (the queue message's fields, without the resource)."""

    stream: Literal["Users", "Groups"]
    seq: int
    time: datetime
    operation: str
    resource_type: str
    id: str
    name: str | None
    version: str
    members: list[str]


class ChangePage(_Model):
    """A page of the change feed: paging with `next` answers every committed change once, none missing, even
    though numbers of different resources are not in commit order."""

    items: list[ChangeItem]
    positions: dict[str, str] = Field(
        description="Where the feed is in each stream paged: a token the CLI takes too "
        "(`scim-admin tenant changes <id> --stream <stream> --cursor <token>`). Not a sequence number."
    )
    next: str = Field(
        description="Pass as ?cursor= (with the same stream parameter) to read the changes after these; poll with "
        "it later for more. An empty page keeps the position."
    )


class SetupLinkCreate(_Model):
    """A one-time setup link for the tenant's IT admin (as `scim-admin tenant setup-link`)."""

    expires_in: str = Field(
        default="72h",
        pattern=r"^[1-9][0-9]{0,5}[mhd]$",
        description="How long the link works: minutes, hours or days (90m, 72h, 7d); 5 minutes to 30 days.",
    )
    auth: Literal["token", "oauth"] | None = Field(
        default=None,
        description="The credential behind the link: a new Secret Token, or a new OAuth2 client secret. Default: "
        "oauth for a tenant with a client and no Secret Token, else token.",
    )


class SetupLink(_Model):
    """A setup link as listed: never its URL (only its SHA-256 is stored) nor the credential behind it."""

    link_id: str = Field(description="What the link is listed and revoked by (not enough to open it).")
    kind: Literal["token", "oauth"]
    state: Literal["ready", "revealed", "expired", "revoked", "tenant-disabled", "credential-retired", "unknown"] = (
        Field(description="ready: not opened yet; revealed: its credential was shown (once); then why it ended.")
    )
    created: datetime
    created_by: str = Field(description="Who minted it: cli:<user> or manage-api:<app id>.")
    expires: datetime
    revealed: datetime | None
    revoked: datetime | None
    revoked_by: str | None


class SetupLinkCreated(SetupLink):
    """A new link: its URL is in this answer only. Opening it reveals a new credential once, the previous one
    working until retired."""

    url: str | None = Field(
        description="The link, shown once: send it to the tenant's IT admin alone. null when the create is replayed "
        "(the URL is stored nowhere): mint another with a new Idempotency-Key, it replaces this one if unopened."
    )
    replayed: bool = Field(description="True when this answers a retried create (same Idempotency-Key).")


class SetupLinkPage(_Model):
    items: list[SetupLink]
    next: str | None = Field(description="The cursor of the next page (pass as ?cursor=); null on the last page.")


class SetupLinksRevoked(_Model):
    """Links revoked: the page refuses them at once; a credential nobody revealed is disabled with them."""

    id: str
    revoked: list[str] = Field(description="The ids of the links revoked by this call (none: nothing was open).")
    effective_within_seconds: int = Field(
        description="Every worker refuses a disabled unrevealed credential within this bound. A revealed "
        "credential stays valid (Entra may use it): retire the token to end it."
    )


RESPONSE_MODELS: tuple[type[BaseModel], ...] = (
    Tenant,
    TenantDetail,
    TenantPage,
    TenantCreated,
    TokenIssued,
    Retired,
    TenantChanged,
    Deleted,
    TenantStatus,
    ActivityPage,
    ChangePage,
    SetupLink,
    SetupLinkCreated,
    SetupLinkPage,
    SetupLinksRevoked,
)
REQUEST_MODELS: tuple[type[BaseModel], ...] = (TenantCreate, LimitUpdate, TokenRetire, SetupLinkCreate)
