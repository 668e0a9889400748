"""The management API's use cases: one method per row of scim.manage.endpoints, over the CLI's own services.

Each handler gets the call (caller, path parameters, query, parsed body) and returns the answer model and
its status; the dispatcher (scim.manage.api) authenticates, limits, parses and renders. Every change goes
through TenantService and ClientService built `with_door` for the caller, so every rule of the CLI holds here
too, and the tenant's activity says which application made it.
"""

from __future__ import annotations

import base64
import binascii
import heapq
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from scim.manage import models
from scim.manage.idempotency import IdempotentCreates, check_key, fingerprint, made_up_tenant_id
from scim.manage.problems import ProblemError
from scim.platform.activity_report import ActivityReport, parse_since
from scim.platform.changes import STREAMS, ChangeLog
from scim.platform.clients import ClientCredentials, ClientService
from scim.platform.doors import door_of, valid_count
from scim.platform.hints import hint
from scim.platform.tenants import TenantExistsError, TenantService, check_tenant_id, is_tenant_id
from scim.store import ActivityRecord, TenantRow

MAX_PAGE = 200
MAX_CHANGES = 1000


@dataclass(frozen=True)
class Call:
    """One authorised request as a handler sees it."""

    caller: str
    """The calling application's id."""
    method: str
    path: str
    params: Mapping[str, str]
    query: Mapping[str, str]
    body: BaseModel | None
    raw_body: bytes
    idempotency_key: str | None

    @property
    def tenant(self) -> str:
        """The tenant id of the path; a malformed one is a tenant that does not exist."""
        tenant = self.params.get("tenantId", "")
        if not is_tenant_id(tenant):
            raise ProblemError(404, "There is no tenant with this id (ids are lower case)", kind="tenant-not-found")
        return tenant


@dataclass(frozen=True)
class Services:
    """The services one call uses, built for its caller's door."""

    tenants: TenantService
    clients: ClientService
    report: Callable[[int | None], ActivityReport]
    """The activity report of a tenant with this license limit."""
    change_log: ChangeLog
    revocation_seconds: int
    creates: IdempotentCreates


Answer = tuple[BaseModel, int]


def encode_cursor(data: dict[str, Any]) -> str:
    """An opaque cursor: clients pass it back as it is, and must not build or parse it."""
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        loaded = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise ProblemError(400, "cursor is not one this API gave out", kind="invalid-cursor") from exc
    if not isinstance(loaded, dict) or len(text) > 2048:
        raise ProblemError(400, "cursor is not one this API gave out", kind="invalid-cursor")
    return loaded


def _int_query(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or len(raw) > 12 or not low <= int(raw) <= high:
        raise ProblemError(400, f"{name} is a whole number from {low} to {high}", kind="invalid-query")
    return int(raw)


def _bool_query(query: Mapping[str, str], name: str) -> bool:
    raw = (query.get(name) or "").lower()
    if raw in ("", "false", "0"):
        return False
    if raw in ("true", "1"):
        return True
    raise ProblemError(400, f"{name} is true or false", kind="invalid-query")


class ManageHandlers:
    """The handlers; `services(caller)` gives the services recording that caller as the door."""

    def __init__(self, services: Callable[[str], Services]) -> None:
        self._services = services

    # -- tenants --------------------------------------------------------------------------------

    def _tenant(self, services: Services, row: TenantRow) -> models.Tenant:
        return models.Tenant(
            id=row.id,
            display_name=row.display_name,
            created=row.created,
            enabled=row.enabled,
            max_active_users=row.max_active_users,
            tenant_url=services.tenants.tenant_url(row.id),
        )

    @staticmethod
    def _client(credentials: ClientCredentials) -> models.OAuthClient:
        return models.OAuthClient(
            token_endpoint=credentials.token_endpoint,
            client_id=credentials.client_id,
            client_secret=credentials.client_secret,
        )

    def create_tenant(self, call: Call) -> Answer:
        assert isinstance(call.body, models.TenantCreate)
        body = call.body
        services = self._services(call.caller)
        key = check_key(call.idempotency_key)
        digest = fingerprint(call.method, call.path, call.raw_body)
        wanted = check_tenant_id(body.id) if body.id else made_up_tenant_id()
        begun = services.creates.begin(call.caller, key, digest, wanted)
        if begun.replay:
            return self._replayed(services, begun.tenant_id, body.auth), 200
        if begun.taken_over and self._exists(services, begun.tenant_id):
            # The earlier create with this key got as far as the tenant, then stopped: it is this one. A client
            # it did not get to add is added now (its secret was never shown: this is not a second one).
            client = None
            if body.auth != "token" and not services.clients.client_secret_versions(begun.tenant_id):
                client = services.clients.add_client(begun.tenant_id)
            services.creates.finish(begun.row, 201)
            replayed = self._replayed(services, begun.tenant_id, body.auth)
            if client is not None:
                replayed = replayed.model_copy(update={"oauth_client": self._client(client)})
            return replayed, 200
        try:
            row, token = services.tenants.create(
                begun.tenant_id,
                display_name=body.display_name,
                max_active_users=body.max_active_users,
                with_token=body.auth != "oauth",
            )
        except TenantExistsError as exc:
            services.creates.abandon(begun.row)
            raise ProblemError(
                409, f"A tenant {begun.tenant_id} already exists: choose another id", kind="tenant-exists"
            ) from exc
        except Exception:
            services.creates.abandon(begun.row)
            raise
        client = services.clients.add_client(row.id) if body.auth != "token" else None
        services.creates.finish(begun.row, 201)
        answer = models.TenantCreated(
            tenant=self._tenant(services, row),
            secret_token=token,
            oauth_client=self._client(client) if client else None,
            replayed=False,
        )
        return answer, 201

    @staticmethod
    def _exists(services: Services, tenant_id: str) -> bool:
        try:
            services.tenants.get(tenant_id)
        except LookupError:
            return False
        return True

    def _replayed(self, services: Services, tenant_id: str, auth: str) -> models.TenantCreated:
        try:
            row = services.tenants.get(tenant_id)
        except LookupError as exc:
            raise ProblemError(
                404, "The tenant created with this Idempotency-Key has since been deleted", kind="tenant-not-found"
            ) from exc
        client = None
        if auth != "token":
            client = models.OAuthClient(
                token_endpoint=services.clients.token_endpoint, client_id=tenant_id, client_secret=None
            )
        return models.TenantCreated(
            tenant=self._tenant(services, row), secret_token=None, oauth_client=client, replayed=True
        )

    def list_tenants(self, call: Call) -> Answer:
        services = self._services(call.caller)
        limit = _int_query(call.query, "limit", 50, 1, MAX_PAGE)
        after = str(decode_cursor(call.query.get("cursor")).get("after", ""))
        rows = [row for row in services.tenants.all() if row.id > after]
        page = rows[:limit]
        more = len(rows) > limit
        return models.TenantPage(
            items=[self._tenant(services, row) for row in page],
            next=encode_cursor({"after": page[-1].id}) if more and page else None,
        ), 200

    def show_tenant(self, call: Call) -> Answer:
        services = self._services(call.caller)
        row = services.tenants.get(call.tenant)
        usage = services.tenants.usage(row.id)
        return models.TenantDetail(
            **self._tenant(services, row).model_dump(),
            users=usage.users,
            active_users=usage.active_users,
            groups=usage.groups,
            valid_secret_tokens=valid_count(services.tenants.token_versions(row.id)),
            valid_client_secrets=len(services.clients.client_secret_versions(row.id)),
        ), 200

    def delete_tenant(self, call: Call) -> Answer:
        services = self._services(call.caller)
        deleted = services.tenants.delete(call.tenant)
        return models.Deleted(id=call.tenant, deleted_rows=deleted), 200

    # -- credentials ----------------------------------------------------------------------------

    def rotate_token(self, call: Call) -> Answer:
        services = self._services(call.caller)
        tenant = call.tenant
        token = services.tenants.rotate_token(tenant)
        return models.TokenIssued(
            id=tenant,
            tenant_url=services.tenants.tenant_url(tenant),
            secret_token=token,
            effective_within_seconds=services.revocation_seconds,
        ), 200

    def retire_token(self, call: Call) -> Answer:
        services = self._services(call.caller)
        tenant = call.tenant
        every = isinstance(call.body, models.TokenRetire) and call.body.all
        url = services.tenants.tenant_url(tenant)
        bound = services.revocation_seconds
        if every:
            token, retired = services.tenants.revoke_tokens(tenant)
            answer = models.TokenIssued(
                id=tenant, tenant_url=url, secret_token=token, retired=retired, effective_within_seconds=bound
            )
            return answer, 200
        retired = services.tenants.retire_token(tenant)
        return models.TokenIssued(id=tenant, tenant_url=url, retired=retired, effective_within_seconds=bound), 200

    def rotate_client_secret(self, call: Call) -> Answer:
        services = self._services(call.caller)
        credentials = services.clients.rotate_client_secret(call.tenant)
        return models.TokenIssued(
            id=call.tenant,
            tenant_url=credentials.tenant_url,
            oauth_client=self._client(credentials),
            effective_within_seconds=services.revocation_seconds,
        ), 200

    def retire_client_secret(self, call: Call) -> Answer:
        services = self._services(call.caller)
        retired = services.clients.retire_client_secret(call.tenant)
        return models.Retired(
            id=call.tenant, retired=retired, effective_within_seconds=services.revocation_seconds
        ), 200

    # -- the tenant's record --------------------------------------------------------------------

    def _changed(self, services: Services, row: TenantRow) -> Answer:
        base = self._tenant(services, row).model_dump()
        return models.TenantChanged(**base, effective_within_seconds=services.revocation_seconds), 200

    def set_limit(self, call: Call) -> Answer:
        assert isinstance(call.body, models.LimitUpdate)
        services = self._services(call.caller)
        return self._changed(services, services.tenants.set_limit(call.tenant, call.body.max_active_users))

    def disable_tenant(self, call: Call) -> Answer:
        services = self._services(call.caller)
        return self._changed(services, services.tenants.set_enabled(call.tenant, False))

    def enable_tenant(self, call: Call) -> Answer:
        services = self._services(call.caller)
        return self._changed(services, services.tenants.set_enabled(call.tenant, True))

    # -- what Entra did -------------------------------------------------------------------------

    def tenant_status(self, call: Call) -> Answer:
        services = self._services(call.caller)
        row = services.tenants.get(call.tenant)
        status = services.report(row.max_active_users).status(row.id)
        return models.TenantStatus(
            id=row.id,
            last_request=status.last_request,
            last_cycle=models.Counts(requests=status.cycle_requests, errors=status.cycle_errors),
            last24h=models.DayCounts(requests=status.day_requests, errors=status.day_errors, writes=status.day_writes),
            users=models.UserCounts(active=status.active_users, disabled=status.disabled_users, total=status.users),
            groups=status.groups,
            license=models.License(active=status.active_users, limit=status.max_active_users),
            hours=[models.HourCounts(start=h.start, requests=h.requests, errors=h.errors) for h in status.hours],
            refused=models.Refused(last24h=status.day_refused, last=status.last_refused),
        ), 200

    def tenant_activity(self, call: Call) -> Answer:
        services = self._services(call.caller)
        row = services.tenants.get(call.tenant)
        query = call.query
        try:
            since = parse_since(query.get("since"))
        except ValueError as exc:
            raise ProblemError(400, str(exc), kind="invalid-query") from exc
        user = (query.get("userName") or "").strip()[:256] or None
        after = decode_cursor(query.get("cursor")).get("key")
        page = services.report(row.max_active_users).activity(
            row.id,
            since=since,
            errors_only=_bool_query(query, "errors"),
            user=user,
            after=str(after) if after else None,
            limit=_int_query(query, "limit", 50, 1, MAX_PAGE),
        )
        return models.ActivityPage(
            items=[_activity_item(record) for record in page.records],
            next=encode_cursor({"key": page.next_key}) if page.next_key else None,
        ), 200

    def tenant_changes(self, call: Call) -> Answer:
        services = self._services(call.caller)
        tenant = services.tenants.get(call.tenant).id
        query = call.query
        stream = (query.get("stream") or "").capitalize() or None
        if stream is not None and stream not in STREAMS:
            raise ProblemError(400, "stream is Users or Groups", kind="invalid-query")
        limit = _int_query(query, "limit", 100, 1, MAX_CHANGES)
        cursor = decode_cursor(query.get("cursor"))
        after = _int_query(query, "after", 0, 0, 10**12)
        names = [stream] if stream else list(STREAMS)
        positions = {
            name: int(cursor.get(name, after)) if str(cursor.get(name, after)).isdigit() else after for name in names
        }
        lists = [services.change_log.read(tenant, positions[name], limit, name) for name in names]
        merged = list(heapq.merge(*lists, key=lambda c: (c.time, c.stream, c.seq)))[:limit]
        for change in merged:
            positions[change.stream] = max(positions[change.stream], change.seq)
        items = [
            models.ChangeItem(
                stream=change.stream,  # type: ignore[arg-type]
                seq=change.seq,
                time=change.time,
                operation=change.operation,
                resource_type=change.resource_type,
                id=change.resource_id,
                name=change.name,
                version=change.version,
                members=list(change.members),
            )
            for change in merged
        ]
        return models.ChangePage(items=items, positions=positions, next=encode_cursor(positions)), 200


def _activity_item(record: ActivityRecord) -> models.ActivityItem:
    door = door_of(record)
    return models.ActivityItem(
        time=record.time,
        operation=record.operation,
        resource_type=record.resource_type,
        id=record.resource_id,
        name=record.name,
        status=record.status or None,
        scim_type=record.scim_type,
        detail=record.detail,
        hint=hint(record),
        door=door.split(" (", 1)[0] if door else None,
        change_seq=record.change_seq,
    )
