"""`scim-admin tenant attributes TENANT add|list|remove`: a tenant's custom extension attributes (issue 25).

Entra's admin adds an attribute such as ``urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:
employeeLevel`` to the app's attribute list; the operator declares the same one here, and the tenant's users
then store, return and filter it (scim.platform.tenant_attributes). scim.cli puts the group on `tenant`.
"""

from __future__ import annotations

from typing import Any

import click

from scim.cli_operator import Operator, emit, json_option, operator_errors, pass_operator, takes_effect
from scim.platform.tenant_attributes import AttributeInUseError, TenantAttributeService
from scim.protocol.extensions import ATTRIBUTE_TYPES, CustomAttribute
from scim.wiring import build_storage


def _service(op: Operator) -> TenantAttributeService:
    def exists(tenant_id: str) -> bool:
        op.tenants.get(tenant_id)  # TenantNotFoundError names the tenant
        return True

    return TenantAttributeService(build_storage(op.settings), tenant_exists=exists)


def _line(attribute: CustomAttribute) -> str:
    flags = [flag for flag, on in (("case-exact", attribute.case_exact), ("unique", attribute.unique)) if on]
    return f"  {attribute.path}  {attribute.type}{'  ' + ', '.join(flags) if flags else ''}"


@click.group("attributes")
@click.argument("tenant_id")
@click.pass_context
def attributes(ctx: click.Context, tenant_id: str) -> None:
    """Declare, list and remove the tenant's custom extension attributes (Entra's "Edit attribute list")."""
    ctx.meta["tenant_id"] = tenant_id


def _tenant() -> str:
    return str(click.get_current_context().meta["tenant_id"])


@attributes.command("add")
@click.argument("attribute")
@click.option("--type", "type_", type=click.Choice(ATTRIBUTE_TYPES), required=True, help="The attribute's type.")
@click.option("--case-exact", is_flag=True, help="Compare string values with letter case (default: ignore it).")
@click.option("--unique", is_flag=True, help="No two users may hold the same value; eq filters use an index.")
@json_option
@pass_operator
@operator_errors
def add(  # noqa: PLR0917 - click passes every option as an argument
    op: Operator, attribute: str, type_: str, case_exact: bool, unique: bool, as_json: bool
) -> None:
    """Declare ATTRIBUTE, written <extension URN>:<name> as in Entra's attribute list."""
    tenant_id = _tenant()
    added = _service(op).add(tenant_id, attribute, type_=type_, case_exact=case_exact, unique=unique)
    bound = op.settings.tenant_cache_seconds
    emit(
        as_json,
        {"tenant": tenant_id, **added.as_dict(), "effectiveWithinSeconds": bound},
        f"Tenant {tenant_id}: {added.path} ({added.type}) declared; every worker stores it {takes_effect(bound)}.",
    )


@attributes.command("list")
@json_option
@pass_operator
@operator_errors
def list_(op: Operator, as_json: bool) -> None:
    """The tenant's declared custom attributes."""
    tenant_id = _tenant()
    declared = _service(op).declared(tenant_id)
    text = "\n".join([f"Tenant {tenant_id}: {len(declared)} custom attribute(s)", *map(_line, declared)])
    emit(as_json, {"tenant": tenant_id, "attributes": [a.as_dict() for a in declared]}, text)


@attributes.command("remove")
@click.argument("attribute")
@click.option("--force", is_flag=True, help="Remove it even though users hold values: deletes those values.")
@json_option
@pass_operator
@operator_errors
def remove(op: Operator, attribute: str, force: bool, as_json: bool) -> None:
    """Remove a declaration; refused while stored users hold a value of it, unless --force."""
    tenant_id = _tenant()
    try:
        removed = _service(op).remove(tenant_id, attribute, force=force)
    except AttributeInUseError as exc:
        raise click.ClickException(str(exc)) from exc
    dropped = removed.dropped_from
    data: dict[str, Any] = {"tenant": tenant_id, **removed.attribute.as_dict(), "droppedFrom": list(dropped)}
    text = f"Tenant {tenant_id}: {removed.attribute.path} removed."
    if dropped:
        text += f" Its values were deleted from {len(dropped)} user(s): {', '.join(dropped)}."
    emit(as_json, data, text)


COMMANDS = (attributes,)
