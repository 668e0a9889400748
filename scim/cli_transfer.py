"""`scim-admin export` and `scim-admin import`: tenants, their data and their secrets, out of one deployment
and into another (README: "Take it down and bring it back"). The work is scim.platform.transfer's."""

from __future__ import annotations

import os
from pathlib import Path

import click

from scim.cli_operator import Operator, emit, json_option, operator_errors, pass_operator
from scim.oauth.keys import SIGNING_KEY_SECRET
from scim.platform.transfer import TenantTransfer
from scim.secrets import build_secret_store

PASSPHRASE_SETTING = "SCIM_EXPORT_PASSPHRASE"  # noqa: S105 - a setting's name
MIN_PASSPHRASE = 12


def _transfer(op: Operator) -> TenantTransfer:
    settings = op.settings
    return TenantTransfer(
        op.tenants,
        op.tenants.accounts.primary,
        build_secret_store(settings, operator=True),
        [SIGNING_KEY_SECRET, settings.operator_secret_name],
    )


def _passphrase(op: Operator, passphrase_file: str | None, confirm: bool) -> str:
    """From --passphrase-file, else SCIM_EXPORT_PASSPHRASE, else asked for (never an argument: shells log those)."""
    if passphrase_file:
        lines = Path(passphrase_file).read_text(encoding="utf-8").splitlines()
        text = lines[0] if lines else ""
    else:
        text = op.environ.get(PASSPHRASE_SETTING) or click.prompt(
            "Passphrase for the export's secrets", hide_input=True, confirmation_prompt=confirm
        )
    if len(text) < MIN_PASSPHRASE:
        raise click.UsageError(f"the passphrase must be at least {MIN_PASSPHRASE} characters")
    return text


@click.command("export")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--tenant", "tenant_ids", multiple=True, help="Only this tenant (repeatable); default: every tenant.")
@click.option(
    "--secrets",
    type=click.Choice(["encrypted", "vault"]),
    default="encrypted",
    show_default=True,
    help="Carry the tokens and client secrets encrypted with a passphrase, or only name them (a vault that survives).",
)
@click.option("--passphrase-file", type=click.Path(exists=True, dir_okay=False), help="First line: the passphrase.")
@json_option
@pass_operator
@operator_errors
def export(  # noqa: PLR0917 - click passes every option as an argument
    op: Operator, path: Path, tenant_ids: tuple[str, ...], secrets: str, passphrase_file: str | None, as_json: bool
) -> None:
    """Write tenants (rows, users, groups, memberships, change log) and their secrets to PATH, before `azd down`."""
    passphrase = _passphrase(op, passphrase_file, confirm=True) if secrets == "encrypted" else None
    partial = path.with_name(path.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        summary = _transfer(op).export(out, list(tenant_ids) or None, passphrase)
    partial.replace(path)
    rows = ", ".join(f"{count} {kind}" for kind, count in summary.rows.items())
    text = f"Exported {len(summary.tenants)} tenant(s) to {path} ({rows} rows; {len(summary.secrets)} secrets " + (
        "encrypted)." if summary.secrets_mode == "encrypted" else "left in the vault, named only)."
    )
    emit(as_json, {"path": str(path), **summary.as_dict()}, text)


@click.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--passphrase-file", type=click.Path(exists=True, dir_okay=False), help="First line: the passphrase.")
@json_option
@pass_operator
@operator_errors
def import_(op: Operator, path: Path, passphrase_file: str | None, as_json: bool) -> None:
    """Bring back the tenants of an export: same ids, names, limits, tokens, client secrets, users and groups."""
    transfer = _transfer(op)
    with path.open(encoding="utf-8") as source:
        header, _ = transfer.read_header(source)
    encrypted = (header.get("secrets") or {}).get("mode") == "encrypted"
    passphrase = _passphrase(op, passphrase_file, confirm=False) if encrypted else None
    with path.open(encoding="utf-8") as source:
        summary = transfer.import_(source, passphrase)
    rows = ", ".join(f"{count} {kind}" for kind, count in summary.rows.items())
    text = (
        f"Imported {len(summary.tenants)} tenant(s): {', '.join(summary.tenants) or 'none'} ({rows} rows). "
        "Their Tenant URLs, Secret Tokens and OAuth clients work as before."
    )
    emit(as_json, {"path": str(path), **summary.as_dict()}, text)
