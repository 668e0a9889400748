"""Entra's dialect rewritten into the RFC shapes scim2-models reads (shared/entra-behaviour.md §2.5)."""

from __future__ import annotations

from typing import Any


def _is_manager_path(path: object) -> bool:
    if not isinstance(path, str):
        return False
    lowered = path.strip().lower()
    return lowered == "manager" or lowered.endswith(":manager")


def manager_value(value: Any) -> Any:
    """Entra sends the manager as a bare id string (or an old [{"value": id}] list); RFC wants {"value": id}."""
    if isinstance(value, str):
        return {"value": value} if value else None
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
        return value[0]
    return value


def normalise_patch(payload: Any) -> Any:
    """Rewrite manager values in a PatchOp body; anything else is left for validation to judge."""
    if not isinstance(payload, dict):
        return payload
    operations = payload.get("Operations")
    if not isinstance(operations, list):
        return payload
    rewritten: list[Any] = []
    for operation in operations:
        op = operation
        if isinstance(operation, dict) and "value" in operation:
            op = dict(operation)
            if _is_manager_path(op.get("path")):
                op["value"] = manager_value(op["value"])
            elif op.get("path") is None and isinstance(op["value"], dict):
                op["value"] = {
                    key: manager_value(val) if _is_manager_path(key) else val for key, val in op["value"].items()
                }
        rewritten.append(op)
    return {**payload, "Operations": rewritten}


def normalise_user(payload: Any) -> Any:
    """Rewrite a bare-string manager inside the enterprise extension of a create/replace body."""
    if not isinstance(payload, dict):
        return payload
    result = dict(payload)
    for key, value in payload.items():
        is_enterprise = isinstance(key, str) and key.lower().endswith(":enterprise:2.0:user")
        if is_enterprise and isinstance(value, dict) and "manager" in value:
            result[key] = {**value, "manager": manager_value(value["manager"])}
    return result
