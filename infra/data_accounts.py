"""Every SCIM data account the templates create gets the same least-privilege grants (issue 24).

main.bicep creates the primary data account and, with `dataAccountCount` above 1, a loop of more; a tenant's
data may be on any of them. A data account is a module of `modules/storage.bicep` given `tableNames`. For each,
some roles module must be handed that account's name (`<module>.outputs.name`, or `<module>[i].outputs.name`
inside a loop over the same range), and in that module the app's identity (a parameter given
`identity.outputs.principalId`) and the operator (a parameter given `principalId`) must each get Storage Table
Data Contributor scoped to the account's tables, one by one (the operator's on the primary are held by
operator_access.operator_roles, with every command's needs). Otherwise an account would answer the app's
requests with 403 for every tenant placed on it, or the operator's `tenant show` of those tenants would fail.

Each data account also holds the changes queue of the tenants placed on it (`queueNames`), and the app's
identity must get Storage Queue Data Message Sender scoped to a queue (not the account) in the same roles
module: otherwise the changes of those tenants would never leave their change log.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from infra.bicep_reading import ENTRY_TEMPLATE, Templates, _resources, _role_definition
from infra.operator_access import _scope_kind

TABLE_CONTRIBUTOR = "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3"
QUEUE_MESSAGE_SENDER = "c6a89b2d-59bc-44d0-9896-0f6e12d7b80a"
STORAGE_MODULE = "modules/storage.bicep"


def _leaves(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        for value in node.values():
            yield from _leaves(value)
    elif isinstance(node, list):
        for value in node:
            yield from _leaves(value)
    else:
        yield node


def _body(module: dict[str, Any]) -> dict[str, Any]:
    """A module's `{name, scope, params}`, inside its loop or condition if it has one."""
    body: Any = module.get("config") or {}
    while isinstance(body, dict) and "config" in body and ("loop_type" in body or "condition" in body):
        body = body["config"] or {}
    return body if isinstance(body, dict) else {}


def _loop(module: dict[str, Any]) -> Any:
    config = module.get("config") or {}
    loop = config.get("loop_type") if isinstance(config, dict) else None
    if not loop:
        return None
    detail = dict(loop.get("detail") or {})
    detail.pop("item_name", None)
    detail.pop("index_name", None)
    return detail  # what it loops over, whatever its variables are called


def _path(module: dict[str, Any]) -> str:
    return str(((module.get("detail") or {}).get("path")) or "")


def _params_naming(params: dict[str, Any], *names: str) -> list[str]:
    """The module parameters whose value mentions every one of `names` (e.g. 'identity' and 'principalId')."""
    return [key for key, value in params.items() if set(names) <= set(_leaves(value))]


def _grants(template: dict[str, Any], principal: str, role_id: str, scope: str) -> list[str]:
    """Names of the assignments of the role `role_id` to `principal`, each scoped to one `scope` ('table',
    'queue')."""
    found = []
    for name, body in _resources(template, "Microsoft.Authorization/roleAssignments"):
        properties = body.get("properties") or {}
        if properties.get("principalId") != principal:
            continue
        role, _ = _role_definition(properties.get("roleDefinitionId"), template)
        if role == role_id and _scope_kind(body.get("scope"), template) == scope:
            found.append(name)
    return found


def _table_grants(template: dict[str, Any], principal: str) -> list[str]:
    """Names of the assignments of Storage Table Data Contributor to `principal`, each scoped to a table."""
    return _grants(template, principal, TABLE_CONTRIBUTOR, "table")


def data_account_roles(templates: Templates) -> list[str]:
    """Each data account's tables are granted, table by table, to the app's identity and to the operator; each
    has a changes queue, and the app's identity may send to it (scoped to the queue)."""
    entry = templates.get(ENTRY_TEMPLATE)
    if entry is None:
        return []
    modules: dict[str, dict[str, Any]] = entry.get("modules", {})
    findings = []
    for account, module in modules.items():
        if _path(module) != STORAGE_MODULE or not (_body(module).get("params") or {}).get("tableNames"):
            continue
        if not (_body(module).get("params") or {}).get("queueNames"):
            findings.append(
                f"{ENTRY_TEMPLATE}: data account module {account} creates no changes queue (queueNames): the "
                "changes of the tenants placed on it would have no queue on their account"
            )
        grantors = [
            (name, other)
            for name, other in modules.items()
            if name != account and _params_naming(_body(other).get("params") or {}, account, "outputs", "name")
        ]
        if not grantors:
            findings.append(
                f"{ENTRY_TEMPLATE}: data account module {account} is handed to no roles module: the app's "
                "identity could not reach the tenants placed on it"
            )
            continue
        for name, grantor in grantors:
            where = f"infra/{_path(grantor)}"
            template = templates.get(where)
            if template is None:
                continue
            if _loop(grantor) != _loop(module):
                findings.append(
                    f"{ENTRY_TEMPLATE}: module {name} does not loop over what {account} loops over: some data "
                    "accounts would get no roles"
                )
            params = _body(grantor).get("params") or {}
            principals = {"the app's identity": _params_naming(params, "identity", "principalId")}
            if _loop(module) is not None:  # the primary's operator grants are operator_roles' to hold
                principals["the operator"] = [key for key, value in params.items() if value == "principalId"]
            app = principals["the app's identity"]
            if not any(_grants(template, key, QUEUE_MESSAGE_SENDER, "queue") for key in app):
                findings.append(
                    f"{where}: the app's identity gets no Storage Queue Data Message Sender on the changes queue "
                    f"of data account {account} (module {name}), scoped to the queue"
                )
            for who, keys in principals.items():
                if not any(_table_grants(template, key) for key in keys):
                    findings.append(
                        f"{where}: {who} gets no Storage Table Data Contributor on the tables of data account "
                        f"{account} (module {name}), table by table"
                    )
    return findings
