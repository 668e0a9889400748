"""`scim-admin tenant …`: a tenant's life (create, list, show, limits, enable/disable, its Secret Tokens, delete)
and its stored data (check, reindex, changes). scim.cli puts these commands on its `tenant` group.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from typing import Any

import click

from scim.cli_operator import (
    Operator,
    client_credentials_data,
    client_credentials_text,
    emit,
    json_option,
    operator_errors,
    pass_operator,
    takes_effect,
)
from scim.cli_text import echo, echo_json, inline
from scim.platform.changes import Change, message, with_names
from scim.platform.tenants import Tenant
from scim.settings import PRIMARY_ACCOUNT
from scim.store import ChangeRecord, decode_cursor, encode_cursor


def tenant_data(tenant: Tenant) -> dict[str, Any]:
    return {
        "id": tenant.id,
        "displayName": tenant.display_name,
        "created": tenant.created.isoformat(),
        "enabled": tenant.enabled,
        "maxActiveUsers": tenant.max_active_users,
        "account": tenant.account or PRIMARY_ACCOUNT,
    }


def limit_text(limit: int | None) -> str:
    return "none" if limit is None else str(limit)


class LimitType(click.ParamType[int | None]):
    """A maximum number of active users: a whole number >= 0, or `none` for no limit."""

    name = "N|none"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int | None:
        if value is None or isinstance(value, int):
            return value
        text = str(value).strip().lower()
        if text in ("none", "unlimited"):
            return None
        if text.isdigit():
            return int(text)
        self.fail(f"{value!r} is not a whole number >= 0 or 'none'", param, ctx)


LIMIT = LimitType()


@click.command("create")
@click.argument("tenant_id")
@click.option("--name", help="Display name (default: the id).")
@click.option("--max-users", type=LIMIT, default=None, help="Maximum active users (default: none, no limit).")
@click.option(
    "--keep-existing-token",
    is_flag=True,
    help="Register a tenant whose token already exists in the secret store (deployments from before tenants).",
)
@click.option(
    "--auth",
    type=click.Choice(["token", "oauth", "both"]),
    default="token",
    show_default=True,
    help="How Entra connects: a Secret Token, OAuth2 client credentials, or both (during a migration).",
)
@click.option(
    "--account",
    metavar="NAME",
    help="The data account for the tenant's data (see `tenant accounts`); default: the placement rule's choice.",
)
@json_option
@pass_operator
@operator_errors
def create(  # noqa: PLR0917 - click passes every option as an argument
    op: Operator,
    tenant_id: str,
    name: str | None,
    max_users: int | None,
    keep_existing_token: bool,
    auth: str,
    account: str | None,
    as_json: bool,
) -> None:
    """Register TENANT_ID and print what the Entra admin pastes: the Tenant URL and the Secret Token
    (--auth token), or the four OAuth2 client credentials values (--auth oauth), or both.

    Tenant ids are lower case: 1-63 characters of a-z, 0-9 and '-'. Its data goes to the data account the
    placement rule picks (printed), or to --account NAME.
    """
    placement = op.tenants.placement(account)
    created, token = op.tenants.create(
        tenant_id,
        display_name=name,
        max_active_users=max_users,
        keep_existing_token=keep_existing_token,
        with_token=auth != "oauth",
        account=placement.account,
    )
    url = op.tenants.tenant_url(created.id)
    data: dict[str, Any] = {**tenant_data(created), "tenantUrl": url, "placement": placement.reason}
    lines = [f"Tenant {created.id} created on data account {placement.account} ({placement.reason})."]
    if auth != "oauth":
        lines.append(f"  Tenant URL:   {url}")
        lines.append(f"  Secret Token: {token}" if token else "  Secret Token: (unchanged: the existing one)")
        lines.append("Paste both into Entra (Provisioning > Admin Credentials), then Test Connection.")
        data["secretToken"] = token
    if auth != "token":
        credentials = op.clients.add_client(created.id)
        lines.append(client_credentials_text(credentials))
        data.update(client_credentials_data(credentials))
    emit(as_json, data, "\n".join(lines))


@click.command("list")
@json_option
@pass_operator
@operator_errors
def list_tenants(op: Operator, as_json: bool) -> None:
    """List every tenant."""
    tenants = op.tenants.all()
    rows = [f"{'ID':<24} {'ENABLED':<8} {'MAX USERS':<10} {'ACCOUNT':<12} NAME"]
    rows += [
        f"{t.id:<24} {'yes' if t.enabled else 'no':<8} {limit_text(t.max_active_users):<10} "
        f"{op.tenants.account_of(t):<12} {t.display_name}"
        for t in tenants
    ]
    emit(as_json, [tenant_data(t) for t in tenants], "\n".join(rows) if tenants else "No tenants yet.")


@click.command("show")
@click.argument("tenant_id")
@json_option
@pass_operator
@operator_errors
def show(op: Operator, tenant_id: str, as_json: bool) -> None:
    """Show a tenant: its Tenant URL, users, active users, groups, limit, tokens and whether it is enabled."""
    found = op.tenants.get(tenant_id)
    usage = op.tenants.usage(tenant_id)
    versions = op.tenants.token_versions(tenant_id)
    valid = [v for v in versions if v.enabled]
    data = {
        **tenant_data(found),
        "tenantUrl": op.tenants.tenant_url(found.id),
        "users": usage.users,
        "activeUsers": usage.active_users,
        "groups": usage.groups,
        "tokens": [
            {"version": v.version, "created": v.created_on.isoformat() if v.created_on else None, "enabled": v.enabled}
            for v in versions
        ],
    }
    text = "\n".join(
        [
            f"Tenant {found.id} ({found.display_name})",
            f"  Tenant URL:    {data['tenantUrl']}",
            f"  Enabled:       {'yes' if found.enabled else 'no'}",
            f"  Data account:  {op.tenants.account_of(found)}",
            f"  Users:         {usage.users} ({usage.active_users} active)",
            f"  Limit:         {limit_text(found.max_active_users)} active users",
            f"  Groups:        {usage.groups}",
            f"  Valid tokens:  {len(valid)}"
            + (" (rotation under way: retire-token when Entra has the new one)" if len(valid) > 1 else ""),
            f"  Created:       {found.created.isoformat()}",
        ]
    )
    emit(as_json, data, text)


@click.command("rotate-token")
@click.argument("tenant_id")
@json_option
@pass_operator
@operator_errors
def rotate_token(op: Operator, tenant_id: str, as_json: bool) -> None:
    """Print a new Secret Token; the previous one stays valid until `retire-token`."""
    token = op.tenants.rotate_token(tenant_id)
    url = op.tenants.tenant_url(tenant_id)
    text = (
        f"New Secret Token for {tenant_id}: {token}\n"
        f"  Tenant URL: {url}\n"
        "Paste it into Entra and Test Connection; the previous token keeps working until you run\n"
        f"  scim-admin tenant retire-token {tenant_id}"
    )
    emit(as_json, {"id": tenant_id, "tenantUrl": url, "secretToken": token}, text)


@click.command("retire-token")
@click.argument("tenant_id")
@click.option(
    "--now",
    is_flag=True,
    help="After a leak: retire every token, the newest too, and print a new one (Entra fails until it has it).",
)
@json_option
@pass_operator
@operator_errors
def retire_token(op: Operator, tenant_id: str, now: bool, as_json: bool) -> None:
    """Invalidate every token of the tenant except the newest (with --now: every token, and print a new one)."""
    bound = op.settings.revocation_seconds
    data: dict[str, Any] = {"id": tenant_id, "effectiveWithinSeconds": bound}
    if now:
        token, retired = op.tenants.revoke_tokens(tenant_id)
        data.update(retired=retired, secretToken=token, tenantUrl=op.tenants.tenant_url(tenant_id))
        text = (
            f"Retired all {retired} token(s) of {tenant_id}; every worker refuses them {takes_effect(bound)}.\n"
            f"New Secret Token: {token}\n"
            "Entra's requests get 401 until you paste it (Provisioning > Admin Credentials) and Test Connection."
        )
    else:
        retired = op.tenants.retire_token(tenant_id)
        data["retired"] = retired
        text = f"Retired {retired} old token(s) of {tenant_id}; every worker refuses them {takes_effect(bound)}."
    emit(as_json, data, text)


@click.command("set-limit")
@click.argument("tenant_id")
@click.argument("max_users", type=LIMIT)
@json_option
@pass_operator
@operator_errors
def set_limit(op: Operator, tenant_id: str, max_users: int | None, as_json: bool) -> None:
    """Set the maximum number of active users (N), or remove the limit (none)."""
    updated = op.tenants.set_limit(tenant_id, max_users)
    bound = op.settings.revocation_seconds
    emit(
        as_json,
        {**tenant_data(updated), "effectiveWithinSeconds": bound},
        f"Tenant {tenant_id}: at most {limit_text(max_users)} active users, on every worker {takes_effect(bound)}.",
    )


@click.command("disable")
@click.argument("tenant_id")
@json_option
@pass_operator
@operator_errors
def disable(op: Operator, tenant_id: str, as_json: bool) -> None:
    """Refuse every request for the tenant (401, as for an unknown tenant); its data is kept."""
    updated = op.tenants.set_enabled(tenant_id, False)
    bound = op.settings.revocation_seconds
    emit(
        as_json,
        {**tenant_data(updated), "effectiveWithinSeconds": bound},
        f"Tenant {tenant_id} disabled: every worker refuses its requests {takes_effect(bound)}.",
    )


@click.command("enable")
@click.argument("tenant_id")
@json_option
@pass_operator
@operator_errors
def enable(op: Operator, tenant_id: str, as_json: bool) -> None:
    """Serve the tenant again."""
    updated = op.tenants.set_enabled(tenant_id, True)
    bound = op.settings.revocation_seconds
    emit(
        as_json,
        {**tenant_data(updated), "effectiveWithinSeconds": bound},
        f"Tenant {tenant_id} enabled: every worker serves it {takes_effect(bound)}.",
    )


@click.command("delete")
@click.argument("tenant_id")
@click.option("--yes", is_flag=True, help="Really delete: users, groups, memberships, tokens and the tenant.")
@json_option
@pass_operator
@operator_errors
def delete(op: Operator, tenant_id: str, yes: bool, as_json: bool) -> None:
    """Delete the tenant's users, groups and memberships in batches, its tokens, then the tenant."""
    if not yes:
        raise click.UsageError(f"this deletes every user and group of {tenant_id}: add --yes to confirm")
    deleted = op.tenants.delete(tenant_id)
    rows = ", ".join(f"{count} {kind.lower()} rows" for kind, count in deleted.items())
    emit(as_json, {"id": tenant_id, "deletedRows": deleted}, f"Tenant {tenant_id} deleted ({rows}).")


@click.command("check")
@click.argument("tenant_id")
@json_option
@pass_operator
@operator_errors
def check(op: Operator, tenant_id: str, as_json: bool) -> None:
    """Check the tenant's stored data is consistent: index rows, counters, memberships. Exit 1 if not."""
    report = op.tenants.check(tenant_id)
    lines = [
        f"Tenant {tenant_id}: {report.resources.get('Users', 0)} users, {report.resources.get('Groups', 0)} groups, "
        f"{report.memberships} memberships",
        *(
            [
                f"  member index: {report.unindexed_users} user(s) without an entry, {report.orphan_entries} "
                "entry(ies) without a user (not violations: `tenant reindex` puts them right)"
            ]
            if report.unindexed_users or report.orphan_entries
            else []
        ),
        *(f"  {v.table} {v.row_key}: {v.problem}" for v in report.violations),
        "Consistent." if report.ok else f"{len(report.violations)} violation(s).",
    ]
    emit(as_json, report.as_dict(), "\n".join(lines))
    if not report.ok:
        sys.exit(1)


@click.command("reindex")
@click.argument("tenant_ids", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every tenant.")
@json_option
@pass_operator
@operator_errors
def reindex(op: Operator, tenant_ids: tuple[str, ...], every: bool, as_json: bool) -> None:
    """Move index rows written before userName and displayName compared by NFKC and case folding to the new key.

    Run once after upgrading (safe to repeat, and while Entra provisions). A user or group whose name another one
    already has under the new key keeps its old row and is listed: rename one of the two. Exit 1 if any is.
    """
    if every == bool(tenant_ids):
        raise click.UsageError("name the tenants, or give --all")
    ids = [t.id for t in op.tenants.all()] if every else list(tenant_ids)
    data: dict[str, Any] = {}
    lines: list[str] = []
    conflicts = 0
    for tenant_id in ids:
        reports = op.tenants.reindex(tenant_id)
        data[tenant_id] = {kind: asdict(report) for kind, report in reports.items()}
        for kind, report in reports.items():
            conflicts += len(report.conflicts)
            lines.append(f"{tenant_id} {kind}: {report.resources} read, {report.moved} moved")
            taken = "its name is another's under the new key; kept on its old row"
            lines += [f"  {kind} {rid}: {taken}" for rid in report.conflicts]
            lines += [f"  {kind} {rid}: stored document could not be read; left as it is" for rid in report.unreadable]
    emit(as_json, data, "\n".join(lines) or "No tenants.")
    if conflicts:
        sys.exit(1)


@click.command("changes")
@click.argument("tenant_id")
@click.option(
    "--after", "after", type=click.IntRange(min=0), default=0, metavar="SEQ", help="Only changes numbered above SEQ."
)
@click.option(
    "--cursor",
    metavar="TOKEN",
    help="Page one stream from TOKEN (0: the oldest kept) missing no change; the next TOKEN is printed last.",
)
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True, help="At most N changes.")
@click.option(
    "--stream",
    type=click.Choice(["Users", "Groups"], case_sensitive=False),
    help="One stream only (SEQ numbers each stream apart); both, merged by time, if not given.",
)
@json_option
@pass_operator
@operator_errors
def changes(  # noqa: PLR0917 - click passes every option as an argument
    op: Operator, tenant_id: str, after: int, cursor: str | None, limit: int, stream: str | None, as_json: bool
) -> None:
    """The tenant's change log, oldest first, for replay and repair; --json prints the queue messages."""
    op.tenants.get(tenant_id)
    name = stream.capitalize() if stream else None
    records: list[ChangeRecord] | None = None
    next_token = ""
    if cursor is not None:
        if name is None or after:
            raise click.UsageError("--cursor pages one stream: give --stream, and no --after")
        try:
            records, at = op.change_log(tenant_id).page(tenant_id, name, decode_cursor(cursor), limit)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--cursor") from None
        next_token = encode_cursor(at)
    if as_json:
        if records is None:
            echo_json([json.loads(m) for m in op.change_log(tenant_id).messages(tenant_id, after, limit, name)])
        else:
            echo_json([json.loads(message(record)) for record in records])
            echo(f"next: --cursor {next_token}", err=True)
        return
    name_of = op.tenants.resource_names()

    def current_name(change: Change) -> str | None:
        return name_of(tenant_id, change.resource_type, change.resource_id) or None

    log = op.change_log(tenant_id)
    read = log.read(tenant_id, after, limit, name) if records is None else [Change.of(r) for r in records]
    found = with_names(read, current_name)
    header = f"{'STREAM':<7}{'SEQ':>7}  {'TIME (UTC)':<25}  {'OPERATION':<15}{'TYPE':<6}{'ID':<33}NAME"
    lines = [
        f"{c.stream:<7}{c.seq:>7}  {c.time.isoformat(timespec='seconds'):<25}  {c.operation:<15}{c.resource_type:<6}"
        f"{c.resource_id:<33}{inline(c.name or '')}" + (f" ({len(c.members)} members)" if c.members else "")
        for c in found
    ]
    if records is not None:
        echo("\n".join([header, *lines, f"next: --cursor {next_token}"]))
        return
    echo("\n".join([header, *lines]) if lines else f"No changes after {after}.")


@click.command("accounts")
@json_option
@pass_operator
@operator_errors
def accounts(op: Operator, as_json: bool) -> None:
    """List the data accounts, the tenants on each, and where the next `tenant create` would put a tenant."""
    loads = op.tenants.account_loads()
    placement = op.tenants.placement()
    data = {
        "accounts": [{"name": a.name, "tenants": a.tenants, "primary": a.primary} for a in loads],
        "next": placement.account,
        "rule": placement.reason,
    }
    rows = [f"{'ACCOUNT':<24} {'TENANTS':>8}"]
    primary = "  (primary: also the tenants table)"
    rows += [f"{a.name:<24} {a.tenants:>8}" + (primary if a.primary else "") for a in loads]
    rows.append(f"Next tenant: {placement.account} ({placement.reason}); `tenant create --account NAME` overrides.")
    emit(as_json, data, "\n".join(rows))


COMMANDS = (
    create,
    accounts,
    list_tenants,
    show,
    rotate_token,
    retire_token,
    set_limit,
    disable,
    enable,
    delete,
    check,
    reindex,
    changes,
)
