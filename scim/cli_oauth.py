"""The operator's OAuth2 commands: a tenant's client (`tenant add-client`, `rotate-client-secret`,
`retire-client-secret`) and the deployment's signing keys (`oauth rotate-signing-key`, …).

scim.cli puts TENANT_COMMANDS on its `tenant` group and `oauth` on `main`; a thin door onto scim.platform.clients.
"""

from __future__ import annotations

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


@click.command("add-client")
@click.argument("tenant_id")
@json_option
@pass_operator
@operator_errors
def add_client(op: Operator, tenant_id: str, as_json: bool) -> None:
    """Let TENANT_ID connect with OAuth2 client credentials; print the four values Entra needs.

    Its Secret Token, if any, keeps working: retire it once Entra uses client credentials.
    """
    credentials = op.clients.add_client(tenant_id)
    emit(as_json, {"id": tenant_id, **client_credentials_data(credentials)}, client_credentials_text(credentials))


@click.command("rotate-client-secret")
@click.argument("tenant_id")
@json_option
@pass_operator
@operator_errors
def rotate_client_secret(op: Operator, tenant_id: str, as_json: bool) -> None:
    """Print a new client secret; the previous one stays valid until `retire-client-secret`."""
    credentials = op.clients.rotate_client_secret(tenant_id)
    text = (
        f"New client secret for {tenant_id}: {credentials.client_secret}\n"
        f"  Client identifier: {credentials.client_id}\n"
        "Enter it in Entra as Client secret and Test Connection; the previous secret keeps working until\n"
        f"  scim-admin tenant retire-client-secret {tenant_id}"
    )
    emit(as_json, {"id": tenant_id, **client_credentials_data(credentials)}, text)


@click.command("retire-client-secret")
@click.argument("tenant_id")
@json_option
@pass_operator
@operator_errors
def retire_client_secret(op: Operator, tenant_id: str, as_json: bool) -> None:
    """Invalidate every client secret of the tenant except the newest."""
    retired = op.clients.retire_client_secret(tenant_id)
    bound = op.settings.revocation_seconds
    emit(
        as_json,
        {"id": tenant_id, "retired": retired, "effectiveWithinSeconds": bound},
        f"Retired {retired} old client secret(s) of {tenant_id}; the token endpoint refuses them {takes_effect(bound)}"
        f" (access tokens already issued with them expire within {op.settings.oauth_token_seconds} s).",
    )


@click.command("remove-client")
@click.argument("tenant_id")
@json_option
@pass_operator
@operator_errors
def remove_client(op: Operator, tenant_id: str, as_json: bool) -> None:
    """Invalidate every client secret: no new access tokens (issued ones expire within their lifetime)."""
    op.tenants.get(tenant_id)
    removed = op.clients.remove_client(tenant_id)
    bound = op.settings.revocation_seconds
    emit(
        as_json,
        {"id": tenant_id, "retired": removed, "effectiveWithinSeconds": bound},
        f"Retired {removed} client secret(s) of {tenant_id}; the token endpoint refuses them {takes_effect(bound)}.",
    )


@click.command("remove-token")
@click.argument("tenant_id")
@json_option
@pass_operator
@operator_errors
def remove_token(op: Operator, tenant_id: str, as_json: bool) -> None:
    """End a migration to OAuth2: invalidate every Secret Token of a tenant that has a client."""
    if not op.clients.client_secret_versions(tenant_id):
        raise click.ClickException(
            f"tenant {tenant_id} has no OAuth2 client: removing its Secret Token would lock Entra out "
            f"(run `tenant add-client {tenant_id}` first)"
        )
    removed = op.tenants.remove_tokens(tenant_id)
    bound = op.settings.revocation_seconds
    emit(
        as_json,
        {"id": tenant_id, "retired": removed, "effectiveWithinSeconds": bound},
        f"Retired {removed} Secret Token(s) of {tenant_id}; every worker refuses them {takes_effect(bound)}.",
    )


@click.group("oauth")
def oauth() -> None:
    """The deployment's access-token signing keys (one set for every tenant)."""


@oauth.command("show")
@json_option
@pass_operator
@operator_errors
def show_keys(op: Operator, as_json: bool) -> None:
    """Show the valid signing keys (versions, never values) and the token endpoint."""
    keys = op.clients.signing_keys()
    data = {
        "tokenEndpoint": op.clients.token_endpoint,
        "signingKeys": [
            {"version": k.version, "created": k.created_on.isoformat() if k.created_on else None} for k in keys
        ],
    }
    lines = [f"OAuth token endpoint: {op.clients.token_endpoint}", f"Valid signing keys: {len(keys)} (newest signs)"]
    lines += [f"  {k.version}  created {k.created_on.isoformat() if k.created_on else '?'}" for k in keys]
    emit(as_json, data, "\n".join(lines))


@oauth.command("rotate-signing-key")
@json_option
@pass_operator
@operator_errors
def rotate_signing_key(op: Operator, as_json: bool) -> None:
    """Add a signing key; it signs new tokens, and the previous one verifies until `retire-signing-key`."""
    op.clients.rotate_signing_key()
    emit(
        as_json,
        {"rotated": True},
        f"New signing key added. Workers sign with it {takes_effect(op.settings.revocation_seconds)}; once tokens\n"
        "signed by the previous key have expired (SCIM_OAUTH_TOKEN_SECONDS), run: scim-admin oauth retire-signing-key",
    )


@oauth.command("retire-signing-key")
@json_option
@pass_operator
@operator_errors
def retire_signing_key(op: Operator, as_json: bool) -> None:
    """Disable every signing key but the newest: tokens they signed are refused from then on."""
    retired = op.clients.retire_signing_key()
    bound = op.settings.revocation_seconds
    emit(
        as_json,
        {"retired": retired, "effectiveWithinSeconds": bound},
        f"Retired {retired} old signing key(s); every worker refuses tokens they signed {takes_effect(bound)}.",
    )


TENANT_COMMANDS = (add_client, rotate_client_secret, retire_client_secret, remove_client, remove_token)
