"""The operator key of the /operator/ pages: rotated and retired like a tenant's Secret Token.

A rotation adds a version and leaves the previous one valid (whoever holds it keeps working); `retire`
disables every version but the newest, so a key that leaked or left with a person stops working. Workers
read the key through the request path's cached secret source (scim.secrets.CachedSecretSource: one bounded
read-through cache per worker, entries re-read after `SCIM_TOKEN_CACHE_SECONDS`), so a retirement takes
effect on every worker within that time.
"""

from __future__ import annotations

from scim.platform.clients import VersionedSecret
from scim.platform.tenants import TenantTokenStateError
from scim.secrets import SecretStore, SecretVersion, new_token


class OperatorKeys:
    """Adds and retires versions of the operator secret (settings.operator_secret_name)."""

    def __init__(self, secrets: SecretStore, name: str) -> None:
        self._secret = VersionedSecret(secrets, name)
        self.name = name

    def valid(self) -> list[SecretVersion]:
        """The valid versions (never their values), newest first."""
        return self._secret.valid()

    def rotate(self) -> str:
        """A new operator key (returned once); the previous one stays valid until `retire`."""
        if len(self._secret.valid()) >= 2:
            raise TenantTokenStateError(
                "there are already two valid operator keys: run `scim-admin operator-key retire` once the newest "
                "is in use, then rotate again"
            )
        key = new_token()
        self._secret.add(key)
        return key

    def retire(self) -> int:
        """Disable every valid operator key but the newest; the number disabled."""
        valid = self._secret.valid()
        if not valid:
            raise TenantTokenStateError("there is no operator key: run `scim-admin operator-key rotate`")
        return self._secret.disable(valid[1:])
