"""Reading the templates as pycep-parser parses them: declarations, resources, literals behind variables, roles.

Shared by the rules of infra/rules.py and infra/operator_access.py. pycep writes an identifier and a string
literal alike, and wraps a looped or conditional body in {"loop_type"|"condition": ..., "config": {...}}.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

Template = Mapping[str, Any]
Templates = Mapping[str, Template]

ENTRY_TEMPLATE = "infra/main.bicep"

_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_TRAILING_INTERPOLATION = re.compile(r"\$\{(\w+)(?:\.(\w+))?\}\s*$")
_RESOURCE_ID_FUNCTIONS = {"subscription_resource_id", "resource_id", "tenant_resource_id", "extension_resource_id"}


def _declarations(template: Template) -> Iterator[tuple[str, Any]]:
    """Every value a template declares, with a label: resource and module bodies, variables, defaults, outputs."""
    for name, resource in template.get("resources", {}).items():
        yield f"resource {name}", resource.get("config")
    for name, module in template.get("modules", {}).items():
        yield f"module {name}", module.get("config")
    for name, variable in template.get("variables", {}).items():
        yield f"var {name}", variable.get("value")
    for name, parameter in template.get("parameters", {}).items():
        yield f"param {name}", parameter.get("default")
    for name, output in template.get("outputs", {}).items():
        yield f"output {name}", output.get("value")


def _keys(node: Any, path: str) -> Iterator[tuple[str, str, Any]]:
    """(path, key, value) for every key of every object under node, inside arrays and expressions too."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield path, key, value
            yield from _keys(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from _keys(item, f"{path}[{index}]")


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


def _bare(key: str) -> str:
    """An object key as Bicep means it: pycep keeps the quotes of a quoted key."""
    return key.strip("'")


def _resources(template: Template, resource_type: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Name and body of each resource of a type that the template deploys (not `existing` ones)."""
    for name, resource in template.get("resources", {}).items():
        if resource.get("type", "").lower() != resource_type.lower() or resource.get("existing"):
            continue
        body = resource.get("config") or {}
        # A loop or a condition wraps the body: {"loop_type": ..., "condition": ..., "config": {...}}.
        while isinstance(body, dict) and "config" in body and ("loop_type" in body or "condition" in body):
            body = body["config"] or {}
        yield name, body


def _is_expression(node: Any) -> bool:
    return isinstance(node, dict) and ("function" in node or "operator" in node)


def _resolve(node: Any, template: Template, seen: frozenset[str] = frozenset()) -> Any:
    """The literal a node stands for, following variables and `object.key`; None if it depends on inputs.

    pycep writes an identifier and a string literal alike, so a string naming a variable is taken for it.
    """
    variables = template.get("variables", {})
    if isinstance(node, str):
        if node in variables and node not in seen:
            return _resolve(variables[node].get("value"), template, seen | {node})
        return node
    if _is_expression(node):
        operator = node.get("operator", {})
        if operator.get("type") == "property_accessor":
            operands = operator["operands"]
            owner = _resolve(operands["operand_1"], template, seen)
            member = operands["operand_2"]
            if isinstance(owner, dict) and not _is_expression(owner) and isinstance(member, str):
                return owner.get(member)
        return None
    return node


def _accessor_key(node: Any) -> str | None:
    """`key` of an `object.key` expression, else None."""
    if _is_expression(node) and node.get("operator", {}).get("type") == "property_accessor":
        member = node["operator"]["operands"]["operand_2"]
        return member if isinstance(member, str) else None
    return None


def _role_definition(node: Any, template: Template) -> tuple[str | None, str | None]:
    """The role GUID a roleDefinitionId expression names, and the variable key it was read from."""
    if _is_expression(node) and node.get("function", {}).get("type") in _RESOURCE_ID_FUNCTIONS:
        parameters = node["function"].get("parameters", {})
        names = [value for key, value in parameters.items() if key.startswith("resource_name") and value is not None]
        if not names:
            return None, None
        node = names[-1]
    if _is_expression(node) and _accessor_key(node) == "id":
        # `someRoleDefinition.id`, where someRoleDefinition is an `existing` roleDefinitions resource.
        owner = node["operator"]["operands"]["operand_1"]
        resource = template.get("resources", {}).get(owner) if isinstance(owner, str) else None
        if resource and resource.get("type", "").lower() == "microsoft.authorization/roledefinitions":
            node = (resource.get("config") or {}).get("name")
    key = _accessor_key(node)
    value = _resolve(node, template)
    if not isinstance(value, str):
        return None, key
    found = _GUID.search(value)
    if found:
        return found.group(0).lower(), key
    interpolated = _TRAILING_INTERPOLATION.search(value)
    if interpolated:
        name, member = interpolated.groups()
        inner: Any = name
        if member:
            inner = {"operator": {"type": "property_accessor", "operands": {"operand_1": name, "operand_2": member}}}
        return _role_definition(inner, template)
    return None, key


def _squash(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())
