"""What the operator CLI says when Azure refuses it: which role is missing, on what (README, "Operator roles").

A refusal is not an outage: "cannot reach Table Storage" would send the operator looking for a network
problem when the fix is a role assignment (or `az login`).
"""

from __future__ import annotations

from scim.secrets import SecretStoreRefusedError
from scim.store import StorageAccessDeniedError

ROLES_SECTION = 'README, "Operator roles"'


def storage_refused_text(exc: StorageAccessDeniedError) -> str:
    """One line: the table, Storage's answer, and the role (or the sign-in) that is missing."""
    if exc.status is None:
        return (
            f"{exc}: no Azure sign-in could be used for Table Storage; run `az login` (the CLI acts as you "
            "through DefaultAzureCredential)"
        )
    return (
        f"{exc}: the account you signed in with (`az login`) needs the role Storage Table Data Contributor "
        f"on table {exc.table} of the data storage account (azd grants it to the deployer, see {ROLES_SECTION}); "
        "a role assigned in the last few minutes may not have reached Storage yet"
    )


def secrets_refused_text(exc: SecretStoreRefusedError) -> str | None:
    """The same for Key Vault's 401/403; None for any other refusal (a local file, a bad request)."""
    if exc.status not in (401, 403):
        return None
    return (
        f"cannot use the secret store: {exc}: the account you signed in with (`az login`) needs the role "
        "Key Vault Secrets Officer on the "
        f"Key Vault (SCIM_KEY_VAULT_URL; azd grants it to the deployer, see {ROLES_SECTION}); a role assigned "
        "in the last few minutes may not have reached Key Vault yet"
    )
