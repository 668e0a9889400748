"""The operator CLI: `python -m scim …` or `scim-admin …`. A thin door onto scim.platform's services.

With no storage setting in the environment it works against the running `make run` recorded in its state
directory (.local/run.json: its Azurite's port, the local secret store under .local/); with the app's settings
(SCIM_STORAGE_TABLE_ENDPOINT, SCIM_SECRET_SOURCE=keyvault, SCIM_KEY_VAULT_URL, …), in the environment or in
the `.env` that `azd env get-values > .env` writes (SCIM_ENV_FILE names another), it works against Azure
through DefaultAzureCredential.

This module is the command tree and nothing else: each command module (scim.cli_tenant, cli_oauth,
cli_activity, cli_transfer) defines plain click commands on scim.cli_operator, and they are put on their
groups here, so a new command is one line below and no module imports this one for its side effects.
"""

from __future__ import annotations

import sys

import click

from scim import cli_activity, cli_attributes, cli_oauth, cli_setup_link, cli_tenant, cli_transfer

__all__ = ["main", "run"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Operate the SCIM platform: tenants and their Secret Tokens.

    Without storage settings this works against `make run` (its Azurite and .local/secrets.json).
    With SCIM_STORAGE_TABLE_ENDPOINT, SCIM_SECRET_SOURCE=keyvault and SCIM_KEY_VAULT_URL it works
    against Azure as you (DefaultAzureCredential: `az login`).
    """


@main.group()
def tenant() -> None:
    """Create, list, show, limit, disable, enable, rotate tokens of, and delete tenants."""


for _command in (
    *cli_tenant.COMMANDS,
    *cli_oauth.TENANT_COMMANDS,
    *cli_activity.TENANT_COMMANDS,
    *cli_attributes.COMMANDS,
    cli_setup_link.setup_link,
):
    tenant.add_command(_command)
for _command in (cli_oauth.oauth, cli_activity.operator_key, cli_transfer.export, cli_transfer.import_):
    main.add_command(_command)


def run() -> None:
    """Console-script entry point (`scim-admin`)."""
    sys.exit(main.main(prog_name="scim-admin"))
