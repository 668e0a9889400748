"""Idempotency-Key for the management API's creates: a retried create returns the same tenant, never a second
token, and the secret is never stored to be shown again.

A key (1-255 visible ASCII characters, a UUID is the usual choice) is scoped to the caller's application:
two callers may use the same key. Its row (scim.store.IdempotencyTable) holds a digest of the request, the
tenant id it is for (chosen before the create, so a made-up id is the same on a retry) and whether the
create finished. The first request with a key creates the tenant and answers 201 with its secrets. Every
later request with that key and the same body answers 200 with the same tenant and ``replayed: true`` and
no secret (the original answer's secret is not kept anywhere: a platform that lost it rotates the token).
The same key with another body is refused (422); a request arriving while the first with its key still
runs gets 409 with Retry-After. A create that stopped half way (the worker died) leaves its key pending:
after `LEASE_SECONDS` a retry takes the key over and either finds the tenant created (a replay) or creates it.
Keys are kept as long as the tenant table is; a create needs a fresh key.

A setup link's create (scim.manage.links) uses the same keys: begun for its tenant, finished with
``<tenant>/<link id>``, so a retry answers that link (without its URL, which is stored nowhere).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from scim.manage.problems import ProblemError
from scim.store import IdempotencyKeyTakenError, IdempotencyRow, IdempotencyTable, VersionMismatchError

LEASE_SECONDS = 60
"""How long a create may hold its key before a retry may take it over (a create takes a few seconds)."""
MAX_KEY_CHARS = 255


def check_key(raw: str | None) -> str:
    """The Idempotency-Key header's value, or a 400/428 problem."""
    if raw is None or not raw.strip():
        raise ProblemError(
            428,
            "A create needs an Idempotency-Key header (a new UUID per create): a retry with the same key returns "
            "the same tenant instead of creating a second one",
            kind="idempotency-key-missing",
        )
    key = raw.strip()
    if len(key) > MAX_KEY_CHARS or not all(33 <= ord(c) <= 126 for c in key):
        raise ProblemError(
            400, "Idempotency-Key is 1-255 visible ASCII characters (a UUID)", kind="idempotency-key-invalid"
        )
    return key


def fingerprint(method: str, path: str, body: bytes) -> str:
    """A digest of what was asked with a key: the same key with another request is refused."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def made_up_tenant_id() -> str:
    """A tenant id for a create that names none: 't' and 12 random hex digits (a valid DNS label)."""
    return f"t{secrets.token_hex(6)}"


@dataclass(frozen=True)
class Begun:
    """What a create with this key must do: create `tenant_id` (row held), or replay the finished create."""

    tenant_id: str
    row: IdempotencyRow
    replay: bool
    taken_over: bool = False
    """A pending key past its lease, taken over: the earlier create may have created the tenant already."""


class IdempotentCreates:
    """The key rows of creates: begin (reserve, replay, refuse or take over), finish, abandon."""

    def __init__(self, table: IdempotencyTable, *, lease_seconds: int = LEASE_SECONDS) -> None:
        self._table = table
        self._lease = timedelta(seconds=lease_seconds)

    def begin(self, caller: str, key: str, digest: str, tenant_id: str) -> Begun:
        """Reserve the key for creating `tenant_id`; or the earlier create's tenant, to replay or take over."""
        now = datetime.now(UTC)
        row = IdempotencyRow(caller, key, digest, tenant_id, "pending", 0, now)
        try:
            return Begun(tenant_id, self._table.reserve(row), replay=False)
        except IdempotencyKeyTakenError:
            pass
        held = self._table.get(caller, key)
        if held is None:  # released meanwhile: the earlier create failed; this one may start over
            return Begun(tenant_id, self._table.reserve(row), replay=False)
        if held.fingerprint != digest:
            raise ProblemError(
                422,
                "This Idempotency-Key was used for another request: use a new key for a new create",
                kind="idempotency-key-reused",
            )
        if held.state == "done":
            return Begun(held.tenant_id, held, replay=True)
        if now - held.created < self._lease:
            raise ProblemError(
                409,
                "A create with this Idempotency-Key is still running: retry in a few seconds",
                kind="request-in-progress",
                headers={"Retry-After": "2"},
            )
        try:
            taken = self._table.replace(replace(held, created=now))
        except VersionMismatchError as exc:
            raise ProblemError(
                409,
                "A create with this Idempotency-Key is running: retry in a few seconds",
                kind="request-in-progress",
                headers={"Retry-After": "2"},
            ) from exc
        return Begun(held.tenant_id, taken, replay=False, taken_over=True)

    def finish(self, row: IdempotencyRow, status: int, *, made: str | None = None) -> None:
        """The create answered: later requests with the key replay it. ``made`` names what was created when it is
        not the tenant the key was begun for (a setup link: ``<tenant>/<link id>``, what `begin` answers then)."""
        self._table.replace(replace(row, state="done", status=status, tenant_id=made or row.tenant_id))

    def abandon(self, row: IdempotencyRow) -> None:
        """The create failed before creating anything: the key may be sent again."""
        self._table.release(row)
