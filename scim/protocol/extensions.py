"""A tenant's custom extension attributes (Entra's "Edit attribute list"): what may be declared, and how.

Entra lets an admin add target attributes named by a URN, e.g.
``urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:employeeLevel``, single-valued and of a
simple type only (string, boolean, integer, dateTime; shared/entra-behaviour.md §4). The platform operator
declares the same attribute for the tenant (``scim-admin tenant attributes``); this module checks a
declaration, encodes a tenant's declarations for storage, and words the refusal of an undeclared one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

ATTRIBUTE_TYPES = ("string", "boolean", "integer", "dateTime")
"""The simple types Entra allows for a custom attribute (RFC 7643 §2.3 names them so)."""

ENTERPRISE_USER_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ENTERPRISE_ATTRIBUTES = frozenset(
    name.lower() for name in ("employeeNumber", "costCenter", "organization", "division", "department", "manager")
)
"""The enterprise extension's own attributes (RFC 7643 §4.3): a declaration may not take one of their names."""

RESERVED_NAMES = frozenset({"schemas", "id", "meta", "externalid"})
"""Names scim2-models gives every extension or resource: an attribute of that name could not be told apart."""

MAX_ATTRIBUTES = 100
"""Custom attributes one tenant may declare: Entra's attribute list has a few dozen at most."""
MAX_EXTENSIONS = 10
"""Extension URNs one tenant may use."""
MAX_URN_CHARS = 200

_URN_RE = re.compile(r"urn:[A-Za-z0-9][A-Za-z0-9._-]*(?::[A-Za-z0-9._-]+)+", re.IGNORECASE)
_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9]{0,63}")
_REFUSED_URN_PREFIXES = ("urn:ietf:params:scim:schemas:core:", "urn:ietf:params:scim:api:")
INT64 = (-(2**63), 2**63 - 1)


class DeclarationError(ValueError):
    """A declaration the platform refuses; the message says why and what would be accepted."""


@dataclass(frozen=True, order=True)
class CustomAttribute:
    """One declared attribute: ``schema`` is its extension URN, ``name`` its attribute name in it."""

    schema: str
    name: str
    type: str = "string"
    case_exact: bool = False
    unique: bool = False

    @property
    def path(self) -> str:
        """The URN-qualified attribute, as Entra names it in a PATCH path (RFC 7644 §3.10)."""
        return f"{self.schema}:{self.name}"

    def as_dict(self) -> dict[str, object]:
        return {"attribute": self.path, **asdict(self)}


CustomAttributes = tuple[CustomAttribute, ...]
"""A tenant's declarations, sorted: hashable, so the model and discovery built from them are cached by value."""


def parse_path(spec: str) -> tuple[str, str]:
    """``<urn>:<name>`` split into the extension URN and the attribute name (the name follows the last colon)."""
    schema, _, name = spec.strip().rpartition(":")
    if not schema or not _URN_RE.fullmatch(schema) or len(schema) > MAX_URN_CHARS:
        raise DeclarationError(
            f"{spec!r} is not <extension URN>:<name>, e.g. "
            "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:employeeLevel"
        )
    if not _NAME_RE.fullmatch(name):
        raise DeclarationError(
            f"the attribute name {name!r} must start with a letter and hold only letters and digits (64 at most)"
        )
    return schema, name


def declare(
    existing: Sequence[CustomAttribute], spec: str, *, type_: str, case_exact: bool = False, unique: bool = False
) -> CustomAttributes:
    """The declarations with one more attribute, or DeclarationError saying why not."""
    schema, name = parse_path(spec)
    if type_ not in ATTRIBUTE_TYPES:
        raise DeclarationError(f"the type must be one of {', '.join(ATTRIBUTE_TYPES)}, not {type_!r}")
    lowered = schema.lower()
    if lowered.startswith(_REFUSED_URN_PREFIXES):
        raise DeclarationError(f"{schema} is a core schema of SCIM: custom attributes go in an extension URN")
    if lowered == ENTERPRISE_USER_SCHEMA.lower():
        schema = ENTERPRISE_USER_SCHEMA
        if name.lower() in ENTERPRISE_ATTRIBUTES:
            raise DeclarationError(f"{name} is a standard attribute of the enterprise extension (RFC 7643 §4.3)")
    if name.lower() in RESERVED_NAMES:
        raise DeclarationError(f"{name} is reserved in every SCIM schema; choose another name")
    if unique and type_ not in ("string", "integer"):
        raise DeclarationError("only a string or an integer attribute can be --unique (it gets an index row)")
    same_urn = [a for a in existing if a.schema.lower() == lowered]
    if any(a.name.lower() == name.lower() for a in same_urn):
        raise DeclarationError(f"{schema}:{name} is already declared (names compare ignoring case)")
    if same_urn and same_urn[0].schema != schema and schema != ENTERPRISE_USER_SCHEMA:
        raise DeclarationError(f"this tenant spells the extension {same_urn[0].schema}; use that spelling")
    if len(existing) >= MAX_ATTRIBUTES:
        raise DeclarationError(f"a tenant may declare at most {MAX_ATTRIBUTES} custom attributes")
    if not same_urn and len({a.schema for a in existing}) >= MAX_EXTENSIONS:
        raise DeclarationError(f"a tenant may use at most {MAX_EXTENSIONS} extension URNs")
    return tuple(sorted([*existing, CustomAttribute(schema, name, type_, case_exact, unique)]))


def find(declarations: Iterable[CustomAttribute], spec: str) -> CustomAttribute | None:
    """The declaration a ``<urn>:<name>`` names (compared ignoring case, as SCIM names and URNs are)."""
    schema, _, name = spec.strip().rpartition(":")
    return next(
        (a for a in declarations if a.schema.lower() == schema.lower() and a.name.lower() == name.lower()), None
    )


def encode(declarations: Sequence[CustomAttribute]) -> str:
    """What the store keeps (scim.store.TenantSchemaRow.declarations)."""
    return json.dumps([asdict(a) for a in declarations], separators=(",", ":"))


def decode(text: str) -> CustomAttributes:
    """A stored text back as declarations; empty text is none."""
    if not text:
        return ()
    return tuple(sorted(CustomAttribute(**entry) for entry in json.loads(text)))


def declare_command(tenant: str, path: str) -> str:
    """The operator's command that declares an attribute: what a refusal of an undeclared one names."""
    return f"scim-admin tenant attributes {tenant} add {path} --type {'|'.join(ATTRIBUTE_TYPES)}"


def undeclared_detail(tenant: str, path: str) -> str:
    """The words of a refusal of a value for an attribute the tenant has not declared (nothing is stored)."""
    return (
        f"The attribute {path!r} is not declared for this tenant, so its value cannot be stored (nothing was "
        f"stored). Ask the platform operator to declare it: {declare_command(tenant, path)}"
    )
