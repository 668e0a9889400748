"""What each `scim-admin` command needs of Azure, and whether the Bicep grants it to the operator (issue #21).

The operator is the deployer: azd passes the signed-in user as `principalId`, and main.bicep hands it to the
modules that assign its roles. OPERATOR_NEEDS lists, per command, the data actions it performs on each SCIM
table and on the Key Vault (read from scim/platform and scim/cli*: which table each use case reads or
writes, which secret calls it makes). `operator_roles` (a `make check-infra` rule) finds every need that no
role the templates give the deployer covers; `permission_table` is the README's table of the same facts.

Scopes are read as kinds: a role on a table (any of the SCIM tables the module loops over), on a storage
account, on the vault, on a queue, or with no scope (the resource group: all of them). A conditional or
looped assignment counts as made: the templates' defaults are what the README's steps assume.

Usage: python -m infra.operator_access .venv-pycep/bin/python (prints the README's table from the real templates).
"""

from __future__ import annotations

import fnmatch
import re
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from infra.azure_reference import BUILT_IN_ROLES, ROLE_DATA_ACTIONS
from infra.bicep_reading import ENTRY_TEMPLATE, Template, Templates, _resources, _role_definition

_ENTITIES = "Microsoft.Storage/storageAccounts/tableServices/tables/entities/"
_SECRETS = "Microsoft.KeyVault/vaults/secrets/"
READ, ADD, UPDATE, DELETE = (
    f"{_ENTITIES}read",
    f"{_ENTITIES}add/action",
    f"{_ENTITIES}update/action",
    f"{_ENTITIES}delete",
)
LIST, GET, SET, ENABLE = (
    f"{_SECRETS}readMetadata/action",
    f"{_SECRETS}getSecret/action",
    f"{_SECRETS}setSecret/action",
    f"{_SECRETS}update/action",
)
SHORT = {READ: "read", ADD: "add", UPDATE: "update", DELETE: "delete", LIST: "list", GET: "get", SET: "set"}
SHORT[ENABLE] = "update"

VAULT = "vault"
TABLES = ("Tenants", "Users", "Groups", "Activity")
"""The SCIM tables, by kind (`<prefix>Tenants`, ...)."""

Needs = dict[str, tuple[str, ...]]
"""Resource ("Tenants", "Users", ... or "vault") -> data actions."""

_TENANT_READ: Needs = {"Tenants": (READ,)}
# Every change of a tenant's secrets rewrites its row with the verifiers of its valid Secret Tokens, read from the
# vault (a listing and a value per valid version): the endpoint checks tokens against the row, not the vault.
_TOKENS_WRITE: Needs = {"Tenants": (READ, UPDATE), VAULT: (LIST, GET, SET, ENABLE)}
_TOKENS_DISABLE: Needs = {"Tenants": (READ, UPDATE), VAULT: (LIST, GET, ENABLE)}
_TENANT_UPDATE: Needs = {"Tenants": (READ, UPDATE)}

OPERATOR_NEEDS: dict[str, Needs] = {
    # creates the tenant row (with its token's verifier), a token version, disables stale versions; --auth
    # oauth|both adds the client secret and, the first time, a signing key; --keep-existing-token reads its values
    "tenant create": {"Tenants": (READ, ADD, UPDATE), VAULT: (LIST, GET, SET, ENABLE)},
    "tenant list": _TENANT_READ,
    # counts the tenants on each data account (one query of the tenants table)
    "tenant accounts": _TENANT_READ,
    "tenant show": {"Tenants": (READ,), "Users": (READ,), "Groups": (READ,), VAULT: (LIST,)},
    "tenant rotate-token": _TOKENS_WRITE,
    "tenant retire-token": _TOKENS_DISABLE,
    "tenant remove-token": _TOKENS_DISABLE,
    "tenant set-limit": _TENANT_UPDATE,
    "tenant disable": _TENANT_UPDATE,
    "tenant enable": _TENANT_UPDATE,
    # disables the tenant, deletes its rows 100 per transaction in each table, disables its secrets
    "tenant delete": {
        "Tenants": (READ, UPDATE, DELETE),
        "Users": (READ, DELETE),
        "Groups": (READ, DELETE),
        "Activity": (READ, DELETE),
        VAULT: (LIST, ENABLE),
    },
    "tenant check": {"Tenants": (READ,), "Users": (READ,), "Groups": (READ,)},
    # writes the tenant row's token verifiers (read from the vault); moves name index rows to the current key: one
    # transaction per resource (index rows and the counter row)
    "tenant reindex": {
        "Tenants": (READ, UPDATE),
        "Users": (READ, ADD, UPDATE, DELETE),
        "Groups": (READ, ADD, UPDATE, DELETE),
        VAULT: (LIST, GET),
    },
    "tenant changes": {"Tenants": (READ,), "Users": (READ,), "Groups": (READ,)},
    "tenant activity": {"Tenants": (READ,), "Users": (READ,), "Groups": (READ,), "Activity": (READ,)},
    "tenant status": {"Tenants": (READ,), "Users": (READ,), "Groups": (READ,), "Activity": (READ,)},
    # the declarations row beside the tenant row (written conditionally on its ETag)
    "tenant attributes add": {"Tenants": (READ, ADD, UPDATE)},
    "tenant attributes list": {"Tenants": (READ,)},
    # scans the tenant's users; --force rewrites each one holding a value (index rows and counter row with it)
    "tenant attributes remove": {"Tenants": (READ, UPDATE), "Users": (READ, ADD, UPDATE, DELETE)},
    "tenant add-client": _TOKENS_WRITE,
    "tenant rotate-client-secret": _TOKENS_WRITE,
    "tenant retire-client-secret": _TOKENS_DISABLE,
    "tenant remove-client": _TOKENS_DISABLE,
    # mints a credential like rotate-token / rotate-client-secret (reads the new value back to find its version),
    # writes the link row in the tenant's partition and its activity record; --revoke and expired links disable
    # a credential nobody revealed; the tenant row is rewritten so workers drop cached secrets
    "tenant setup-link": {
        "Tenants": (READ, ADD, UPDATE),
        "Activity": (ADD, UPDATE),
        VAULT: (LIST, GET, SET, ENABLE),
    },
    "oauth show": {VAULT: (LIST,)},
    "oauth rotate-signing-key": {VAULT: (LIST, SET)},
    "oauth retire-signing-key": {VAULT: (LIST, ENABLE)},
    # refused while two keys are valid (it lists them first)
    "operator-key rotate": {VAULT: (LIST, SET)},
    # disables every operator-key version but the newest
    "operator-key retire": {VAULT: (LIST, ENABLE)},
    # every row of the tenants' partitions, and the values of their secrets (encrypted into the file)
    "export": {"Tenants": (READ,), "Users": (READ,), "Groups": (READ,), VAULT: (LIST, GET)},
    # the rows written back (insert or merge: add and update), secrets compared with what the vault holds, then
    # each tenant row's token verifiers written from the vault
    "import": {
        "Tenants": (READ, ADD, UPDATE),
        "Users": (ADD, UPDATE),
        "Groups": (ADD, UPDATE),
        VAULT: (LIST, GET, SET),
    },
}

_COMMAND = re.compile(
    r"scim-admin (?:(tenant attributes) (?:[a-z0-9<>-]+ )?(add|list|remove)"
    r"|((?:tenant|oauth|operator-key) [a-z][a-z-]*|export|import))\b"
)
"""`tenant attributes` is a group that takes the tenant before its command: `tenant attributes contoso add`."""


def readme_commands(readme: str) -> list[str]:
    """Every `scim-admin <group> <command>` the README tells an operator to run, in order of first mention."""
    found = [f"{group} {command}" if group else other for group, command, other in _COMMAND.findall(readme)]
    return list(dict.fromkeys(found))


def unmapped_commands(commands: Iterable[str]) -> list[str]:
    return [command for command in commands if command not in OPERATOR_NEEDS]


# --- what the templates give the deployer ------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    """One role assignment to the deployer: the role, the kind of scope, where it is written."""

    role: str
    scope: str
    """'table', 'account', 'vault', 'queue' or 'group'."""
    where: str

    @property
    def actions(self) -> tuple[str, ...]:
        return ROLE_DATA_ACTIONS.get(self.role, ())

    @property
    def role_name(self) -> str:
        return BUILT_IN_ROLES.get(self.role, self.role)


_SCOPE_KINDS = {
    "microsoft.storage/storageaccounts/tableservices/tables": "table",
    "microsoft.storage/storageaccounts": "account",
    "microsoft.keyvault/vaults": "vault",
    "microsoft.storage/storageaccounts/queueservices/queues": "queue",
}
_COVERING = {"table": ("table", "account", "group"), VAULT: ("vault", "group")}


def _scope_kind(scope: Any, template: Template) -> str:
    if scope is None:
        return "group"
    if isinstance(scope, dict):  # tables[i]
        scope = ((scope.get("operator") or {}).get("operands") or {}).get("operand_1")
    resource = template.get("resources", {}).get(scope) if isinstance(scope, str) else None
    if resource is None:
        return "unknown"
    return _SCOPE_KINDS.get(str(resource.get("type", "")).lower(), "unknown")


def _assignments_to(template: Template, principal: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, body in _resources(template, "Microsoft.Authorization/roleAssignments"):
        if (body.get("properties") or {}).get("principalId") == principal:
            yield name, body


def _module_file(module: dict[str, Any]) -> str:
    path = str(((module.get("detail") or {}).get("path")) or "")
    return f"infra/{path}" if path and not path.startswith("infra/") else path


def deployer_grants(templates: Templates) -> list[Grant] | None:
    """The roles the templates give the deployer (main.bicep's `principalId`); None if there is no deployer."""
    entry = templates.get(ENTRY_TEMPLATE)
    if entry is None or "principalId" not in entry.get("parameters", {}):
        return None
    places: list[tuple[str, str]] = [(ENTRY_TEMPLATE, "principalId")]
    for module in entry.get("modules", {}).values():
        params = ((module.get("config") or {}).get("params")) or {}
        places += [(_module_file(module), key) for key, value in params.items() if value == "principalId"]
    grants = []
    for file, principal in places:
        template = templates.get(file)
        if template is None:
            continue
        for name, body in _assignments_to(template, principal):
            role, _ = _role_definition((body.get("properties") or {}).get("roleDefinitionId"), template)
            if role is not None:
                grants.append(Grant(role, _scope_kind(body.get("scope"), template), f"{file}: resource {name}"))
    return grants


def granting(grants: Iterable[Grant], resource: str, action: str) -> list[Grant]:
    """The grants whose role and scope allow `action` on `resource` (a SCIM table's kind, or 'vault')."""
    kinds = _COVERING[VAULT if resource == VAULT else "table"]
    return [
        grant
        for grant in grants
        if grant.scope in kinds and any(fnmatch.fnmatchcase(action, pattern) for pattern in grant.actions)
    ]


def operator_roles(templates: Templates) -> list[str]:
    """Every data action a `scim-admin` command needs is granted to the deployer by some role the templates
    assign it, on a scope that covers the table or the vault (issue #21: without it every tenant command 403s)."""
    grants = deployer_grants(templates)
    if grants is None:
        return []
    missing: dict[tuple[str, str], list[str]] = {}
    for command, needs in OPERATOR_NEEDS.items():
        for resource, actions in needs.items():
            for action in actions:
                if not granting(grants, resource, action):
                    missing.setdefault((resource, action), []).append(command)
    role = {VAULT: "Key Vault Secrets Officer on the vault"}
    return [
        f"{ENTRY_TEMPLATE}: the deployer (principalId) is given no role allowing {action} on "
        f"{'the Key Vault' if resource == VAULT else f'table <prefix>{resource}'}, which `scim-admin "
        f"{'`, `'.join(commands)}` need; give it {role.get(resource, 'Storage Table Data Contributor on that table')}"
        for (resource, action), commands in missing.items()
    ]


def permission_table(templates: Templates, commands: Iterable[str]) -> str:
    """The README's table: command, data actions on each table and on the vault, the roles that grant them."""
    grants = deployer_grants(templates) or []
    rows = ["| command | tables: data actions | Key Vault secrets | granted by |", "| --- | --- | --- | --- |"]
    for command in commands:
        needs = OPERATOR_NEEDS[command]
        tables = "; ".join(f"{t}: {', '.join(SHORT[a] for a in needs[t])}" for t in TABLES if t in needs)
        secrets = ", ".join(SHORT[a] for a in needs.get(VAULT, ()))
        roles = sorted({g.role_name for r, acts in needs.items() for a in acts for g in granting(grants, r, a)[:1]})
        rows.append(f"| `scim-admin {command}` | {tables or '—'} | {secrets or '—'} | {', '.join(roles) or 'none'} |")
    return "\n".join(rows)


def main() -> int:
    from infra.check_infra import INFRA, ROOT, parse_bicep

    paths = sorted(INFRA.rglob("*.bicep"))
    parsed = parse_bicep(sys.argv[1], paths)
    templates = {p.relative_to(ROOT).as_posix(): parsed[str(p)]["template"] for p in paths}
    print(permission_table(templates, OPERATOR_NEEDS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
