"""The management API's setup links: the platform's backend mints, lists and revokes the one-time links to the
setup page for a tenant's IT admin, the use cases `scim-admin tenant setup-link` runs (scim.platform.setup_links).

The link is minted by SetupLinks with the caller's door (``manage-api:<app id>``), so the tenant's activity says
which application created or revoked it, and the credential made for it is recorded as a rotation by the same
door. The URL is in the create's answer only. A create takes an Idempotency-Key like a tenant's create: a retry
with the key answers the same link, replayed, without its URL (only the code's SHA-256 is stored). A backend
that lost the URL mints another with a new key: a new link replaces one nobody opened yet (revoked, its unseen
credential disabled), so a lost answer costs nothing. A create that stopped half way is minted again by its
retry after the lease, for the same reason.

Reads stay reads: the list does not sweep expired links (the create and the revokes do, as the CLI's commands).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scim.manage import models
from scim.manage.calls import Answer, Call, Services, decode_cursor, encode_cursor, int_query
from scim.manage.idempotency import check_key, fingerprint
from scim.manage.problems import ProblemError
from scim.platform.doors import api_door
from scim.platform.setup_links import LinkState, parse_expiry
from scim.store import SetupLinkRow

MAX_PAGE = 200


def _link_fields(row: SetupLinkRow, state: LinkState) -> dict[str, Any]:
    return {
        "link_id": row.link_id,
        "kind": row.kind,
        "state": state.value,
        "created": row.created,
        "created_by": row.created_by,
        "expires": row.expires,
        "revealed": row.revealed,
        "revoked": row.revoked,
        "revoked_by": row.revoked_by or None,
    }


def _link_id(call: Call) -> str:
    link_id = call.params.get("linkId", "").lower()
    if len(link_id) != 12 or any(c not in "0123456789abcdef" for c in link_id):
        raise ProblemError(404, "The tenant has no setup link with this id", kind="setup-link-not-found")
    return link_id


class SetupLinkHandlers:
    """Create, list and revoke a tenant's setup links (mixed into ManageHandlers)."""

    _services: Callable[[str], Services]

    def create_setup_link(self, call: Call) -> Answer:
        assert isinstance(call.body, models.SetupLinkCreate)
        services = self._services(call.caller)
        tenant = services.tenants.get(call.tenant)
        expires = parse_expiry(call.body.expires_in)  # the body's pattern holds; the range is checked here
        key = check_key(call.idempotency_key)
        begun = services.creates.begin(call.caller, key, fingerprint(call.method, call.path, call.raw_body), tenant.id)
        if begun.replay:
            return self._replayed_link(services, tenant.id, begun.tenant_id), 200
        if not tenant.enabled:
            services.creates.abandon(begun.row)
            raise ProblemError(
                409, f"Tenant {tenant.id} is disabled: enable it first (POST .../enable)", kind="credential-state"
            )
        try:
            minted = services.setup_links.mint(
                tenant.id, by=api_door(call.caller), expires=expires, kind=call.body.auth
            )
        except Exception:
            services.creates.abandon(begun.row)
            raise
        services.creates.finish(begun.row, 201, made=f"{tenant.id}/{minted.row.link_id}")
        fields = _link_fields(minted.row, LinkState.READY)
        return models.SetupLinkCreated(**fields, url=minted.url, replayed=False), 201

    @staticmethod
    def _replayed_link(services: Services, tenant: str, made: str) -> models.SetupLinkCreated:
        link_id = made.partition("/")[2]
        for row, state in services.setup_links.links(tenant):
            if link_id and row.link_id == link_id:
                return models.SetupLinkCreated(**_link_fields(row, state), url=None, replayed=True)
        raise ProblemError(
            404,
            "The setup link created with this Idempotency-Key is gone (its tenant was deleted meanwhile)",
            kind="setup-link-not-found",
        )

    def list_setup_links(self, call: Call) -> Answer:
        services = self._services(call.caller)
        limit = int_query(call.query, "limit", 50, 1, MAX_PAGE)
        cursor = decode_cursor(call.query.get("cursor"))
        after = (str(cursor.get("created", "")), str(cursor.get("id", "")))
        links = sorted(
            services.setup_links.links(call.tenant), key=lambda link: (link[0].created.isoformat(), link[0].link_id)
        )
        rows = [(row, state) for row, state in links if (row.created.isoformat(), row.link_id) > after]
        page = rows[:limit]
        last = page[-1][0] if page else None
        more = len(rows) > limit and last is not None
        return models.SetupLinkPage(
            items=[models.SetupLink(**_link_fields(row, state)) for row, state in page],
            next=encode_cursor({"created": last.created.isoformat(), "id": last.link_id}) if more and last else None,
        ), 200

    def revoke_setup_link(self, call: Call) -> Answer:
        services = self._services(call.caller)
        tenant, link_id = call.tenant, _link_id(call)
        by = api_door(call.caller)
        services.setup_links.sweep(tenant, by=by)
        rows = [row for row, _ in services.setup_links.links(tenant) if row.link_id == link_id]
        if not rows:
            raise ProblemError(404, "The tenant has no setup link with this id", kind="setup-link-not-found")
        revoked = [] if rows[0].revoked is not None else services.setup_links.revoke(tenant, link_id, by=by)
        return self._revoked(services, tenant, revoked), 200

    def revoke_setup_links(self, call: Call) -> Answer:
        services = self._services(call.caller)
        tenant = call.tenant
        by = api_door(call.caller)
        services.setup_links.sweep(tenant, by=by)
        return self._revoked(services, tenant, services.setup_links.revoke(tenant, "all", by=by)), 200

    @staticmethod
    def _revoked(services: Services, tenant: str, rows: list[SetupLinkRow]) -> models.SetupLinksRevoked:
        return models.SetupLinksRevoked(
            id=tenant, revoked=[row.link_id for row in rows], effective_within_seconds=services.revocation_seconds
        )
