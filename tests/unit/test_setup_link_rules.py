"""The setup link's pure rules: what --expires accepts, the code's shape, and the order in which a link's state
is decided (a revoked link says revoked even once expired; a disabled tenant's link reveals nothing)."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from scim.platform.setup_links import LinkState, is_link_code, link_hash, parse_expiry, state_of
from scim.store import SetupLinkRow, TenantRow

CREATED = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
TENANT = TenantRow("contoso", "Contoso", CREATED, True, 10)
ROW = SetupLinkRow(
    tenant="contoso",
    link_hash="ab" * 32,
    kind="token",
    secret_name="scim-token-contoso",
    secret_version="v2",
    tenant_created=CREATED,
    created=CREATED + timedelta(hours=1),
    expires=CREATED + timedelta(hours=73),
    created_by="cli:ops",
)
NOW = CREATED + timedelta(hours=2)


@pytest.mark.parametrize(("text", "seconds"), [("72h", 72 * 3600), ("90m", 5400), ("7d", 7 * 86400), (" 5M ", 300)])
def test_expiry_is_a_number_and_a_unit(text: str, seconds: int) -> None:
    assert parse_expiry(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "72", "h", "4m", "31d", "-1h", "1.5h", "72 h", "999999999d"])
def test_expiry_outside_five_minutes_to_thirty_days_or_malformed_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="expires"):
        parse_expiry(text)


def test_a_minted_code_has_the_shape_looked_up_and_its_hash_is_sha256() -> None:
    code = secrets.token_urlsafe(32)
    other = code[:-1] + ("B" if code.endswith("A") else "A")
    assert is_link_code(code) and len(link_hash(code)) == 64 and link_hash(code) != link_hash(other)
    assert not is_link_code(code[:-1]) and not is_link_code(code[:-1] + "/") and not is_link_code(code[:-1] + "é")


def test_the_state_is_decided_in_order() -> None:
    assert state_of(ROW, TENANT, NOW) is LinkState.READY
    assert state_of(replace(ROW, revealed=NOW), TENANT, NOW) is LinkState.REVEALED
    assert state_of(ROW, replace(TENANT, enabled=False), NOW) is LinkState.TENANT_DISABLED
    assert state_of(ROW, TENANT, ROW.expires) is LinkState.EXPIRED
    assert state_of(replace(ROW, revealed=NOW), replace(TENANT, enabled=False), ROW.expires) is LinkState.EXPIRED
    assert state_of(replace(ROW, revoked=NOW), TENANT, ROW.expires) is LinkState.REVOKED
    assert state_of(ROW, replace(TENANT, created=CREATED + timedelta(days=1)), NOW) is LinkState.UNKNOWN  # re-created
    assert state_of(ROW, None, NOW) is LinkState.UNKNOWN and state_of(None, TENANT, NOW) is LinkState.UNKNOWN
    assert ROW.link_id == "ab" * 6
