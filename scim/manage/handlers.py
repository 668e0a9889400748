"""The management API's use cases: one method per row of scim.manage.endpoints, over the CLI's own services.

Each handler gets the call (caller, path parameters, query, parsed body) and returns the answer model and
its status; the dispatcher (scim.manage.api) authenticates, limits, parses and renders. Every change goes
through TenantService and ClientService built `with_door` for the caller, so every rule of the CLI holds here
too, and the tenant's activity says which application made it.
"""

from __future__ import annotations

from scim.manage import models
from scim.manage.calls import Answer, Call, Services, decode_cursor, encode_cursor, int_query
from scim.manage.idempotency import check_key, fingerprint, made_up_tenant_id
from scim.manage.links import SetupLinkHandlers
from scim.manage.problems import ProblemError
from scim.manage.reports import MAX_PAGE, ReportHandlers
from scim.platform.clients import ClientCredentials
from scim.platform.doors import valid_count
from scim.platform.tenants import TenantExistsError, check_tenant_id
from scim.store import TenantRow

__all__ = ["Call", "ManageHandlers", "Services"]


class ManageHandlers(ReportHandlers, SetupLinkHandlers):
    """Every endpoint's handler (the reads in ReportHandlers, setup links in SetupLinkHandlers); `services(caller)`
    records the caller as door."""

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
        limit = int_query(call.query, "limit", 50, 1, MAX_PAGE)
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
