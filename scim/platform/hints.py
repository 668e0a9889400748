"""What to do about an answer Entra got from us: one plain-language hint per kind of failure.

The same advice as the README's table "What our errors mean in Entra's provisioning logs", keyed on what
a record holds (status, scimType, detail), so the CLI and the operator pages say the same thing.
"""

from __future__ import annotations

from collections.abc import Callable

from scim.store import ActivityRecord

MISSING_MAIL = 'map mail to emails[type eq "work"].value (Provisioning > Mappings), and give the user a mail value'
LICENSE_CAP = "raise the limit (scim-admin tenant set-limit) or scope to assigned users in Entra"
USERNAME_TAKEN = "a user with this userName already exists; check matching attributes"
UNDECLARED_ATTRIBUTE = (
    "Entra maps a custom extension attribute this tenant has not declared (nothing was stored): declare it with "
    "the scim-admin tenant attributes … add command in the detail, or remove the mapping in Entra"
)
DISPLAYNAME_TAKEN = "a group with this displayName already exists; check matching attributes"


_Rule = tuple[Callable[[ActivityRecord], bool], str]

_RULES: list[_Rule] = [
    (lambda r: r.operation == "lost", "the platform could not store some activity here; figures around it may be low"),
    (lambda r: r.status < 400, ""),
    (lambda r: r.status == 400 and "scim-admin tenant attributes" in r.detail, UNDECLARED_ATTRIBUTE),
    (lambda r: r.status == 400 and r.scim_type == "invalidValue" and "mail" in r.detail.lower(), MISSING_MAIL),
    (lambda r: r.status == 403 and ("licen" in r.detail.lower() or "limit" in r.detail.lower()), LICENSE_CAP),
    (lambda r: r.status == 409 and r.resource_type == "Group", DISPLAYNAME_TAKEN),
    (lambda r: r.status == 409, USERNAME_TAKEN),
    (
        lambda r: r.status == 401,
        "the Secret Token is wrong for this Tenant URL; after a rotation paste the new token into Entra",
    ),
    (
        lambda r: r.status == 404,
        "unknown id here (deleted outside Entra?): Restart provisioning or Provision on demand re-creates it",
    ),
    (
        lambda r: r.status == 400 and r.scim_type == "invalidValue",
        "fix the value in Entra or the attribute mapping named in the detail",
    ),
    (
        lambda r: r.status == 400 and r.scim_type == "invalidSyntax",
        "a custom mapping or expression produces the wrong type; check the attribute mappings",
    ),
    (lambda r: r.status == 400, "a mapping to an attribute the platform does not define; check custom mappings"),
    (lambda r: r.status == 412, "transient: the resource changed meanwhile; Entra retries"),
    (lambda r: r.status == 413, "the request is larger than SCIM_MAX_BODY_BYTES; raise the setting if legitimate"),
    (
        lambda r: r.status >= 500,
        "transient on our side; Entra retries with back-off. If it persists, look in Application Insights",
    ),
]


def hint(record: ActivityRecord) -> str:
    """The fix for a record, or '' when there is nothing to do: the first rule that matches."""
    return next((text for matches, text in _RULES if matches(record)), "")
