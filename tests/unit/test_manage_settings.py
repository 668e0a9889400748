"""SCIM_MANAGE_*: the management API's issuer, audiences, roles, CA bundle and rate, checked when read; and its
per-caller rate limiter refilling at the configured rate."""

from __future__ import annotations

from pathlib import Path

import pytest

from scim.manage.limits import RateLimiter
from scim.settings import Settings, SettingsError

BASE = {"SCIM_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true"}


def test_off_unless_an_issuer_is_set() -> None:
    settings = Settings.from_environ(BASE)
    assert settings.manage_issuer is None and settings.manage_audiences == ()
    assert (settings.manage_read_role, settings.manage_write_role) == ("Tenants.Read", "Tenants.ReadWrite")
    assert settings.manage_requests_per_minute == 120


def test_an_issuer_with_its_audiences_roles_and_bundle(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = Settings.from_environ(
        {
            **BASE,
            "SCIM_MANAGE_ISSUER": "https://login.microsoftonline.com/t/v2.0",
            "SCIM_MANAGE_AUDIENCE": " 1234 , api://1234 ",
            "SCIM_MANAGE_WRITE_ROLE": "Platform.Admin",
            "SCIM_MANAGE_CA_BUNDLE": str(bundle),
            "SCIM_MANAGE_REQUESTS_PER_MINUTE": "30",
        }
    )
    assert settings.manage_issuer == "https://login.microsoftonline.com/t/v2.0"  # exactly as the iss claim
    assert settings.manage_audiences == ("1234", "api://1234")
    assert settings.manage_write_role == "Platform.Admin" and settings.manage_ca_bundle == bundle
    assert settings.manage_requests_per_minute == 30


@pytest.mark.parametrize(
    ("extra", "names"),
    [
        ({"SCIM_MANAGE_ISSUER": "http://login.microsoftonline.com/t/v2.0", "SCIM_MANAGE_AUDIENCE": "a"}, "ISSUER"),
        ({"SCIM_MANAGE_ISSUER": "https://login.microsoftonline.com/t/v2.0"}, "AUDIENCE"),
        ({"SCIM_MANAGE_CA_BUNDLE": "/no/such/file.pem"}, "CA_BUNDLE"),
        ({"SCIM_MANAGE_REQUESTS_PER_MINUTE": "0"}, "REQUESTS_PER_MINUTE"),
    ],
)
def test_bad_values_name_their_setting(extra: dict[str, str], names: str) -> None:
    with pytest.raises(SettingsError, match=f"SCIM_MANAGE_{names}"):
        Settings.from_environ({**BASE, **extra})


def test_the_rate_refills_per_key() -> None:
    now = [0.0]
    limiter = RateLimiter(60, clock=lambda: now[0])  # one a second, bursts of 60
    assert all(limiter.take("a") is None for _ in range(60))
    assert limiter.take("a") == 1 and limiter.take("b") is None
    now[0] += 1.0
    assert limiter.take("a") is None and limiter.take("a") == 1
    now[0] += 120
    assert all(limiter.take("a") is None for _ in range(60))  # refilled up to the burst, not beyond
    assert limiter.take("a") is not None
