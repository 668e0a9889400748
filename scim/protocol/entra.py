"""Entra's dialect rewritten into the RFC shapes scim2-models reads (shared/entra-behaviour.md §2.5)."""

from __future__ import annotations

from typing import Any


def _is_manager_path(path: object) -> bool:
    if not isinstance(path, str):
        return False
    lowered = path.strip().lower()
    return lowered == "manager" or lowered.endswith(":manager")


def _is_enterprise_key(key: object) -> bool:
    return isinstance(key, str) and key.lower().endswith(":enterprise:2.0:user")


def manager_value(value: Any) -> Any:
    """The manager in any shape Entra or its test collection sends, as RFC's ``{"value": id}``.

    Entra sends a bare id string; older SDK examples send ``[{"$ref": …, "value": id}]``; Microsoft's
    SCIM test collection sends ``{"Value": id}`` (attribute names are case-insensitive, RFC 7643 §2.1).
    An empty id means no manager.
    """
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, str):
        return {"value": value} if value else None
    if isinstance(value, dict):
        lowered = {str(key).lower(): val for key, val in value.items()}
        result = {"value": lowered.get("value")} if "value" in lowered else {}
        if lowered.get("$ref"):
            result["$ref"] = lowered["$ref"]
        if lowered.get("displayname"):
            result["displayName"] = lowered["displayname"]
        return result if result.get("value") else None
    return value


def _enterprise_with_manager(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    return {key: manager_value(val) if str(key).lower() == "manager" else val for key, val in value.items()}


def _rewrite_operation(operation: dict[str, Any]) -> dict[str, Any]:
    op = dict(operation)
    path = op.get("path")
    kind = str(op.get("op", "")).lower()
    if _is_manager_path(path):
        if kind == "remove":
            # Entra removes the manager with the old manager's id in `value`; the attribute is single-valued,
            # so the value selects nothing more than the path does.
            op.pop("value", None)
        elif "value" in op:
            op["value"] = manager_value(op["value"])
            if op["value"] is None:  # replace with an empty manager: remove it
                op = {"op": "remove", "path": path}
    elif path is None and isinstance(op.get("value"), dict):
        op["value"] = {
            key: manager_value(val)
            if _is_manager_path(key)
            else _enterprise_with_manager(val)
            if _is_enterprise_key(key)
            else val
            for key, val in op["value"].items()
        }
    elif _is_enterprise_key(path) and "value" in op:
        op["value"] = _enterprise_with_manager(op["value"])
    return op


def normalise_patch(payload: Any) -> Any:
    """Rewrite manager values in a PatchOp body; anything else is left for validation to judge."""
    if not isinstance(payload, dict):
        return payload
    operations = payload.get("Operations")
    if not isinstance(operations, list):
        return payload
    rewritten = [_rewrite_operation(op) if isinstance(op, dict) else op for op in operations]
    return {**payload, "Operations": rewritten}


def normalise_user(payload: Any) -> Any:
    """Rewrite the manager, in any shape, inside the enterprise extension of a create/replace body."""
    if not isinstance(payload, dict):
        return payload
    return {
        key: _enterprise_with_manager(value) if _is_enterprise_key(key) else value for key, value in payload.items()
    }
