"""Tenants out of one deployment and into another, whole: what `azd down` would otherwise take with it.

An export file holds, per tenant, its row of the tenants table (id, name, limit, enabled, data account), every
row of its Users and Groups partitions (users, groups, index rows, counters, memberships, change records, delivery
state), and its secrets: the Secret Token and OAuth2 client secret versions still valid, plus the
deployment's signing keys and operator key. Secrets are either encrypted into the file with a passphrase
(scrypt, then Fernet: AES-128-CBC with HMAC-SHA256) or left in the vault and named only (for a vault that
survives, soft-deleted and recovered). The activity log is not exported: it is a 30-day operational log.

Import checks the passphrase, the secrets left in the vault and that no tenant of the file exists yet before
it writes anything; then it writes the data rows, then the secrets, and the tenants' rows last: a tenant
answers only once everything it needs is back, and an interrupted (or damaged-file) import leaves no tenant
half there and can simply be run again. Each tenant's rows go back to the data account its row names if this
deployment has it, else to the one the placement rule picks (scim.platform.accounts), and its row says so.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from scim.platform.accounts import AccountLoad, place
from scim.platform.tenants import TenantNotFoundError, TenantService
from scim.secrets import SecretStore, client_secret_name, secret_name
from scim.store import VERIFIERS_PROPERTY, EncodedRow, PartitionTransfer, TableStorage

FORMAT = "scim-functions-tenants"
VERSION = 1
DATA_KINDS = ("Users", "Groups")
_FLUSH_ROWS = 500
_SCRYPT = {"n": 2**15, "r": 8, "p": 1}


class TransferFileError(ValueError):
    """The file is not an export, is damaged, or the passphrase does not open it."""


@dataclass
class TransferSummary:
    tenants: list[str]
    rows: dict[str, int] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)
    """Secret names carried (encrypted) or checked (left in the vault)."""
    secrets_mode: str = "encrypted"

    def as_dict(self) -> dict[str, Any]:
        return {"tenants": self.tenants, "rows": self.rows, "secrets": self.secrets, "secretsMode": self.secrets_mode}


def _fernet(passphrase: str, salt: bytes) -> Any:
    from cryptography.fernet import Fernet
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    key = Scrypt(salt=salt, length=32, **_SCRYPT).derive(passphrase.encode("utf-8"))
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secrets: dict[str, list[str]], passphrase: str) -> dict[str, Any]:
    salt = os.urandom(16)
    token = _fernet(passphrase, salt).encrypt(json.dumps(secrets).encode("utf-8"))
    return {"kdf": "scrypt", **_SCRYPT, "salt": base64.b64encode(salt).decode("ascii"), "ciphertext": token.decode()}


def unseal(sealed: dict[str, Any], passphrase: str) -> dict[str, list[str]]:
    from cryptography.fernet import InvalidToken

    try:
        plain = _fernet(passphrase, base64.b64decode(sealed["salt"])).decrypt(sealed["ciphertext"].encode())
    except InvalidToken as exc:
        raise TransferFileError("the passphrase does not open this export's secrets") from exc
    values: dict[str, list[str]] = json.loads(plain)
    return values


class TenantTransfer:
    """Export and import of whole tenants through the tenant service, the store and the secret store."""

    def __init__(
        self, tenants: TenantService, storage: TableStorage, secrets: SecretStore, shared_secrets: Sequence[str]
    ) -> None:
        self._tenants = tenants
        self._rows = PartitionTransfer(storage)
        """The tenants table's account (the primary); each tenant's Users and Groups are on its own account."""
        self._data: dict[str, PartitionTransfer] = {}
        self._placed: dict[str, str] = {}
        self._loads: list[AccountLoad] = []
        self._secrets = secrets
        self._shared = list(shared_secrets)
        """Secrets of the whole deployment (signing keys, operator key), carried with any export."""

    def _valid_values(self, name: str) -> list[str]:
        """The values of the secret's usable versions, oldest first."""
        now = datetime.now(UTC)
        versions = [v for v in self._secrets.versions(name) if v.usable_at(now)]
        versions.sort(key=lambda v: v.created_on or datetime.min.replace(tzinfo=UTC))
        values = (self._secrets.value(name, v.version) for v in versions)
        return [value for value in values if value]

    def _secret_names(self, tenant_ids: Sequence[str]) -> list[str]:
        names = [name for t in tenant_ids for name in (secret_name(t), client_secret_name(t))]
        return names + self._shared

    # -- export ---------------------------------------------------------------------------------------------

    def export(self, out: TextIO, tenant_ids: Sequence[str] | None, passphrase: str | None) -> TransferSummary:
        """Write the tenants (all if None) to `out`; secrets encrypted with the passphrase, or named only if None."""
        rows = [self._tenants.get(t) for t in tenant_ids] if tenant_ids else self._tenants.all()
        ids = [row.id for row in rows]
        carried = {name: values for name in self._secret_names(ids) if (values := self._valid_values(name))}
        summary = TransferSummary(ids, {kind: 0 for kind in ("Tenants", *DATA_KINDS)}, sorted(carried))
        header: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "exported": datetime.now(UTC).isoformat(),
            "tenants": ids,
        }
        if passphrase is None:
            summary.secrets_mode = "vault"
            header["secrets"] = {"mode": "vault", "names": sorted(carried)}
        else:
            header["secrets"] = {"mode": "encrypted", "names": sorted(carried), **seal(carried, passphrase)}
        out.write(json.dumps(header) + "\n")
        for tenant_id in ids:
            data = self._on(self._tenants.account_of(self._tenants.get(tenant_id)))
            for kind in ("Tenants", *DATA_KINDS):
                for stored in (self._rows if kind == "Tenants" else data).rows(kind, tenant_id):
                    row = _without_verifiers(stored) if kind == "Tenants" else stored
                    out.write(json.dumps({"table": kind, "row": row}) + "\n")
                    summary.rows[kind] += 1
        return summary

    # -- import ---------------------------------------------------------------------------------------------

    @staticmethod
    def _lines(source: TextIO) -> Iterator[dict[str, Any]]:
        for number, line in enumerate(source, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError as exc:
                raise TransferFileError(f"line {number} of the export is not JSON: the file is damaged") from exc
            if not isinstance(record, dict):
                raise TransferFileError(f"line {number} of the export is not an object: the file is damaged")
            yield record

    def read_header(self, source: TextIO) -> tuple[dict[str, Any], Iterator[dict[str, Any]]]:
        lines = self._lines(source)
        header = next(lines, None)
        if not header or header.get("format") != FORMAT:
            raise TransferFileError("this is not a scim-admin export (no scim-functions-tenants header)")
        if header.get("version") != VERSION:
            raise TransferFileError(f"export version {header.get('version')!r}; this scim-admin reads {VERSION}")
        return header, lines

    def import_(self, source: TextIO, passphrase: str | None) -> TransferSummary:
        """Bring the file's tenants back; nothing is written unless every check passes first."""
        header, lines = self.read_header(source)
        ids = [str(t) for t in header.get("tenants", [])]
        secrets = header.get("secrets") or {}
        mode = secrets.get("mode")
        values: dict[str, list[str]] = {}
        if mode == "encrypted":
            if passphrase is None:
                raise TransferFileError("this export's secrets are encrypted: give its passphrase")
            values = unseal(secrets, passphrase)
        elif mode == "vault":
            absent = [name for name in secrets.get("names", []) if not self._valid_values(name)]
            if absent:
                raise TransferFileError(
                    "the export left its secrets in the vault, and the vault has no valid version of "
                    f"{', '.join(absent)}: recover the vault (README: Take it down and bring it back), or import "
                    "an export made with a passphrase"
                )
        else:
            raise TransferFileError(f"unknown secrets mode {mode!r} in the export")
        existing = [t for t in ids if self._exists(t)]
        if existing:
            raise TransferFileError(
                f"tenant(s) {', '.join(existing)} already exist here; import refuses to overwrite them "
                "(`scim-admin tenant delete <id> --yes` first, if the export is the copy to keep)"
            )
        summary = TransferSummary(ids, {kind: 0 for kind in ("Tenants", *DATA_KINDS)}, sorted(values), str(mode))
        tenant_rows = self._write_data(lines, set(ids), summary)
        for name, wanted in values.items():
            present = set(self._valid_values(name))
            for value in wanted:  # oldest first, so the newest stays the newest
                if value not in present:
                    self._secrets.add_version(name, value)
        summary.rows["Tenants"] = self._rows.write("Tenants", tenant_rows)
        for tenant_id in ids:
            # The verifiers of the tokens now valid in this deployment's store (an export carries none).
            self._tenants.secrets_changed(tenant_id)
        return summary

    def _on(self, account: str) -> PartitionTransfer:
        if account not in self._data:
            self._data[account] = PartitionTransfer(self._tenants.accounts.get(account))
        return self._data[account]

    def _account_for(self, tenant_id: str, row: EncodedRow | None) -> str:
        """Where an imported tenant's data goes: the account its row names if this deployment has it, else the
        placement rule's pick (the imports so far counted); decided once, at the tenant's first row."""
        if tenant_id in self._placed:
            return self._placed[tenant_id]
        named = ((row or {}).get("properties") or {}).get("Account")
        account = str(named[1]) if row is not None and named else None
        if row is not None and account is None:
            account = self._tenants.accounts.primary_name  # a row naming none: the primary, as it was there
        if account is None or account not in self._tenants.accounts.names:
            if not self._loads:
                self._loads = self._tenants.account_loads()
            account = place(self._loads).account
        self._loads = [
            AccountLoad(load.name, load.tenants + (load.name == account), load.primary) for load in self._loads
        ]
        self._placed[tenant_id] = account
        return account

    def _exists(self, tenant_id: str) -> bool:
        try:
            self._tenants.get(tenant_id)
        except TenantNotFoundError:
            return False
        return True

    def _write_data(self, lines: Iterator[dict[str, Any]], ids: set[str], summary: TransferSummary) -> list[EncodedRow]:
        """Write the Users and Groups rows as they come; return the tenant rows, written last by the caller."""
        tenant_rows: list[EncodedRow] = []
        pending: dict[tuple[str, str], list[EncodedRow]] = {}
        for record in lines:
            kind, row = record.get("table"), record.get("row")
            if not isinstance(row, dict) or row.get("PartitionKey") not in ids:
                raise TransferFileError("a row of the export belongs to no tenant of its header: the file is damaged")
            tenant_id = str(row["PartitionKey"])
            if kind == "Tenants":
                account = self._account_for(tenant_id, row)
                properties = dict(_without_verifiers(row).get("properties") or {})
                properties["Account"] = ["Edm.String", account]
                tenant_rows.append({**row, "properties": properties})
            elif kind in DATA_KINDS:
                account = self._account_for(tenant_id, None)
                batch = pending.setdefault((account, kind), [])
                batch.append(row)
                if len(batch) >= _FLUSH_ROWS:
                    summary.rows[kind] += self._on(account).write(kind, batch)
                    pending[(account, kind)] = []
            else:
                raise TransferFileError(f"unknown table {kind!r} in the export")
        for (account, kind), rows in pending.items():
            summary.rows[kind] += self._on(account).write(kind, rows)
        missing = ids - {row["PartitionKey"] for row in tenant_rows}
        if missing:
            raise TransferFileError(f"the export has no tenant row for {', '.join(sorted(missing))}: it is incomplete")
        return tenant_rows


def _without_verifiers(row: EncodedRow) -> EncodedRow:
    """A tenant row without its Secret Token verifiers: an export never carries them (they are digests of
    credentials, and belong to the store they were read from); an import writes its own from its store."""
    properties = {k: v for k, v in (row.get("properties") or {}).items() if k != VERIFIERS_PROPERTY}
    return {**row, "properties": properties}
