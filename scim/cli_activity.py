"""`scim-admin tenant activity|status` and `scim-admin operator-key`: the operator's view of what Entra did.

scim.cli puts TENANT_COMMANDS on its `tenant` group and `operator-key` on `main`; a plain table for people,
`--json` for scripts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import click

from scim.cli_operator import Operator, emit, json_option, operator_errors, pass_operator
from scim.cli_text import echo, inline
from scim.platform.activity_report import (
    ActivityReport,
    TenantStatus,
    build_activity_report,
    custom_values,
    parse_since,
)
from scim.platform.doors import door_of
from scim.platform.hints import hint
from scim.platform.operator_keys import OperatorKeys
from scim.secrets import build_secret_store
from scim.store import ActivityRecord


def _report(op: Operator, tenant_id: str) -> ActivityReport:
    found = op.tenants.get(tenant_id)  # TenantNotFoundError for an unknown id
    limit = found.max_active_users
    return build_activity_report(op.tenants.storage_of(tenant_id), lambda tenant: limit)


def _when(record_time: Any) -> str:
    return "never" if record_time is None else f"{record_time:%Y-%m-%d %H:%M:%S}Z"


def record_data(record: ActivityRecord) -> dict[str, Any]:
    values = custom_values(record)
    return {
        "time": record.time.isoformat(),
        "operation": record.operation,
        "resourceType": record.resource_type,
        "id": record.resource_id,
        "name": record.name,
        "status": record.status,
        "scimType": record.scim_type,
        "detail": record.detail,
        "hint": hint(record),
        "latencyMs": record.latency_ms,
        "changeSeq": record.change_seq,
        "door": door_of(record),
        "customAttributes": values.as_json() if values else None,
        "customAttributesOmitted": values.omitted if values else 0,
    }


def status_data(status: TenantStatus) -> dict[str, Any]:
    return {
        "id": status.tenant,
        "lastRequest": status.last_request.isoformat() if status.last_request else None,
        "lastCycle": {"requests": status.cycle_requests, "errors": status.cycle_errors},
        "last24h": {"requests": status.day_requests, "errors": status.day_errors, "writes": status.day_writes},
        "users": {"active": status.active_users, "disabled": status.disabled_users, "total": status.users},
        "groups": status.groups,
        "license": {"active": status.active_users, "limit": status.max_active_users, "text": status.license_use},
        "hours": [{"start": h.start.isoformat(), "requests": h.requests, "errors": h.errors} for h in status.hours],
        "refused": {
            "last24h": status.day_refused,
            "last": status.last_refused.isoformat() if status.last_refused else None,
        },
    }


def _one_line(text: str) -> str:
    return " ".join(text.split())


@click.command("activity")
@click.argument("tenant_id")
@click.option("--since", help="Only records this recent: 90m, 2h, 7d.")
@click.option("--errors", "errors_only", is_flag=True, help="Only 4xx/5xx answers.")
@click.option("--user", help="Only records about this userName (or group displayName), any letter case.")
@click.option("--limit", type=click.IntRange(1, 200), default=50, show_default=True, help="Records per page.")
@click.option("--after", help="Continue after this cursor (printed at the end of a full page).")
@json_option
@pass_operator
@operator_errors
def activity(  # noqa: PLR0917 - click passes every option as an argument
    op: Operator,
    tenant_id: str,
    since: str | None,
    errors_only: bool,
    user: str | None,
    limit: int,
    after: str | None,
    as_json: bool,
) -> None:
    """What Entra sent to TENANT_ID and what we answered, newest first, each error with what to do."""
    page = _report(op, tenant_id).activity(
        tenant_id, since=parse_since(since), errors_only=errors_only, user=user, after=after, limit=limit
    )
    if as_json:
        emit(True, {"records": [record_data(r) for r in page.records], "next": page.next_key}, "")
        return
    if not page.records:
        echo("No activity recorded for this selection.")
        return
    echo(f"{'TIME (UTC)':<21} {'OPERATION':<9} {'TYPE':<6} {'STATUS':>6} {'SCIMTYPE':<13} {'MS':>6}  NAME / ID")
    for r in page.records:
        who = inline(r.name or r.resource_id or "-")
        echo(
            f"{_when(r.time):<21} {r.operation:<9} {r.resource_type or '-':<6} {r.status or '-':>6} "
            f"{r.scim_type or '-':<13} {r.latency_ms:>6.0f}  {who}"
        )
        door = door_of(r)
        if door:  # a platform change: which door made it (the CLI, or a management API caller's app id)
            echo(f"{'':<22}by:   {_one_line(door)}")
        elif r.detail:
            echo(f"{'':<22}said: {_one_line(r.detail)}")
        if hint(r):
            echo(f"{'':<22}fix:  {hint(r)}")
        values = custom_values(r)
        if values:  # the declared custom attributes this write set (null: removed)
            echo(f"{'':<22}set:  {inline(values.as_text())}")
    if page.next_key:
        echo(f"More: add --after '{page.next_key}'")


@click.command("status")
@click.argument("tenant_id")
@json_option
@pass_operator
@operator_errors
def status(op: Operator, tenant_id: str, as_json: bool) -> None:
    """The last Entra request, requests and errors in the last cycle and 24 h, users, groups, license use."""
    found = _report(op, tenant_id).status(tenant_id)
    text = "\n".join(
        [
            f"Tenant {found.tenant}",
            f"  Last Entra request:  {_when(found.last_request)}",
            f"  Last 40 min (cycle): {found.cycle_requests} requests, {found.cycle_errors} errors",
            f"  Last 24 h:           {found.day_requests} requests, {found.day_errors} errors, "
            f"{found.day_writes} writes",
            f"  Users:               {found.active_users} active, {found.disabled_users} disabled",
            f"  Groups:              {found.groups}",
            f"  License use:         {found.license_use}",
            # Apart from the tenant's own traffic: anyone can send a request with a wrong token.
            f"  Refused (no valid credentials): {found.day_refused} in 24 h, last {_when(found.last_refused)}",
        ]
    )
    emit(as_json, status_data(found), text)


@click.group("operator-key")
def operator_key() -> None:
    """The operator credential of the /operator/ pages (a secret in the same store as the tenants' tokens)."""


@operator_key.command("rotate")
@json_option
@pass_operator
@operator_errors
def rotate_operator_key(op: Operator, as_json: bool) -> None:
    """Print a new operator key; the previous one stays valid until `operator-key retire`."""
    settings = op.settings
    key = OperatorKeys(build_secret_store(settings, operator=True), settings.operator_secret_name).rotate()
    text = (
        f"New operator key (secret {settings.operator_secret_name}): {key}\n"
        "Open /operator/sign-in and give it as the password (any user name), or send "
        "'Authorization: Bearer <key>'. The previous key works until `scim-admin operator-key retire`; every\n"
        f"worker accepts the new one at once and drops a retired one within {settings.revocation_seconds} s."
    )
    data = {"secretName": settings.operator_secret_name, "operatorKey": key}
    emit(as_json, {**data, "effectiveWithinSeconds": settings.revocation_seconds}, text)


@operator_key.command("retire")
@json_option
@pass_operator
@operator_errors
def retire_operator_key(op: Operator, as_json: bool) -> None:
    """Invalidate every operator key but the newest (a key that leaked, or left with a person)."""
    settings = op.settings
    retired = OperatorKeys(build_secret_store(settings, operator=True), settings.operator_secret_name).retire()
    seconds = settings.revocation_seconds
    by = datetime.now(UTC) + timedelta(seconds=seconds)
    text = (
        f"Retired {retired} old operator key(s). Every worker refuses them within {seconds} s: "
        f"by {by:%Y-%m-%d %H:%M:%S} UTC."
    )
    data = {"secretName": settings.operator_secret_name, "retired": retired, "refusedBy": by.isoformat()}
    emit(as_json, {**data, "effectiveWithinSeconds": seconds}, text)


TENANT_COMMANDS = (activity, status)
