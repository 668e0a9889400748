"""`scim-admin tenant setup-link`: a one-time link the customer's IT admin opens to connect Entra alone.

A thin door onto scim.platform.setup_links (the management API calls the same service with its caller's name).
"""

from __future__ import annotations

import getpass
from typing import Any

import click

from scim.cli_operator import Operator, emit, json_option, operator_errors, pass_operator
from scim.platform.setup_links import LinkState, SetupLinks, describe, parse_expiry
from scim.secrets import build_secret_store
from scim.store import SetupLinkRow
from scim.wiring import build_storage


def _operator_name() -> str:
    """Who minted or revoked a link, as the activity log names a CLI operator."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _service(op: Operator) -> SetupLinks:
    settings = op.settings
    if not settings.public_base_url:
        raise click.ClickException("SCIM_PUBLIC_BASE_URL is needed to print a setup link")
    return SetupLinks(
        build_storage(settings),
        op.tenants,
        op.clients,
        build_secret_store(settings, operator=True),
        public_base_url=settings.public_base_url,
    )


def _link_data(row: SetupLinkRow, state: LinkState) -> dict[str, Any]:
    return {
        "linkId": row.link_id,
        "kind": row.kind,
        "state": state.value,
        "created": row.created.isoformat(),
        "createdBy": row.created_by,
        "expires": row.expires.isoformat(),
        "revealed": row.revealed.isoformat() if row.revealed else None,
        "revoked": row.revoked.isoformat() if row.revoked else None,
        "revokedBy": row.revoked_by or None,
    }


@click.command("setup-link")
@click.argument("tenant_id")
@click.option(
    "--expires", default="72h", show_default=True, help="How long the link works: 90m, 72h, 7d (30d at most)."
)
@click.option(
    "--auth",
    type=click.Choice(["token", "oauth"]),
    default=None,
    help="The credential behind the link (default: OAuth2 client credentials for a tenant with a client and no "
    "Secret Token, else a Secret Token).",
)
@click.option("--list", "listing", is_flag=True, help="List the tenant's links and their state; mint nothing.")
@click.option("--revoke", metavar="LINK_ID|all", help="Revoke a link (its id from --list), or every one.")
@json_option
@pass_operator
@operator_errors
def setup_link(  # noqa: PLR0917 - click passes every option as an argument
    op: Operator, tenant_id: str, expires: str, auth: str | None, listing: bool, revoke: str | None, as_json: bool
) -> None:
    """Print a one-time link to a setup page for TENANT_ID's IT admin: it walks them through Entra's setup,
    reveals a fresh Secret Token (or OAuth2 client secret) once, and shows what the platform has seen.

    The credential is made now, like rotate-token: the previous one keeps working until you retire it. The link
    holds no credential and is stored hashed; a link that expires or is revoked unrevealed has its credential
    disabled (by the next setup-link command for the tenant, or by --revoke). A new link replaces one nobody
    has opened yet.
    """
    if listing and revoke:
        raise click.UsageError("give --list or --revoke, not both")
    service = _service(op)
    by = _operator_name()
    if listing:
        service.sweep(tenant_id, by=by)
        links = service.links(tenant_id)
        lines = [f"{'LINK ID':<13} {'KIND':<6} {'STATE':<19} WHEN", *(describe(row, state) for row, state in links)]
        text = "\n".join(lines) if links else f"Tenant {tenant_id} has no setup links."
        emit(as_json, [_link_data(row, state) for row, state in links], text)
        return
    if revoke:
        revoked = service.revoke(tenant_id, revoke.strip().lower(), by=by)
        ids = [row.link_id for row in revoked]
        emit(
            as_json,
            {"id": tenant_id, "revoked": ids},
            f"Revoked {len(ids)} setup link(s) of {tenant_id}" + (f": {', '.join(ids)}." if ids else "."),
        )
        return
    minted = service.mint(tenant_id, by=by, expires=parse_expiry(expires), kind=auth)
    row = minted.row
    text = "\n".join(
        [
            f"Setup link for {tenant_id} (id {row.link_id}, expires {row.expires:%Y-%m-%d %H:%M} UTC):",
            f"  {minted.url}",
            "Send it to the tenant's IT admin. It reveals a new "
            + ("OAuth2 client secret" if row.kind == "oauth" else "Secret Token")
            + " once; the previous one keeps working until you retire it.",
            f"Revoke it with: scim-admin tenant setup-link {tenant_id} --revoke {row.link_id}",
        ]
    )
    emit(as_json, {"id": tenant_id, "url": minted.url, **_link_data(row, LinkState.READY)}, text)
