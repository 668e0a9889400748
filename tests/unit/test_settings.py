from pathlib import Path

import pytest

from scim.settings import Settings, SettingsError

BASE = {"SCIM_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true"}


def test_defaults() -> None:
    settings = Settings.from_environ(BASE)
    assert settings.require_email is True
    assert settings.secret_source == "local"
    assert settings.table_prefix == "scim"
    assert settings.max_body_bytes == 1_048_576


def test_local_secret_store_lives_in_the_state_dir() -> None:
    assert Settings.from_environ({**BASE, "SCIM_STATE_DIR": "/tmp/x"}).local_secrets_path == Path("/tmp/x/secrets.json")
    assert Settings.from_environ(BASE).local_secrets_path.parts[-2:] == (".local", "secrets.json")


def test_public_base_url_loses_its_trailing_slash() -> None:
    settings = Settings.from_environ({**BASE, "SCIM_PUBLIC_BASE_URL": "https://func-scim.azurewebsites.net/"})
    assert settings.public_base_url == "https://func-scim.azurewebsites.net"


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "SCIM_STORAGE_TABLE_ENDPOINT"),
        ({**BASE, "SCIM_LOCAL_TOKENS": '{"acme": "s3cret"}'}, "scim-admin tenant create"),
        ({**BASE, "SCIM_PUBLIC_BASE_URL": "func-scim.azurewebsites.net"}, "SCIM_PUBLIC_BASE_URL"),
        ({**BASE, "SCIM_TOKEN_GRACE_SECONDS": "0"}, "SCIM_TOKEN_GRACE_SECONDS"),
        ({**BASE, "SCIM_REQUIRE_EMAIL": "maybe"}, "SCIM_REQUIRE_EMAIL"),
        ({**BASE, "SCIM_MAX_BODY_BYTES": "-1"}, "SCIM_MAX_BODY_BYTES"),
        ({**BASE, "SCIM_TABLE_PREFIX": "bad-prefix"}, "SCIM_TABLE_PREFIX"),
        ({**BASE, "SCIM_SECRET_SOURCE": "keyvault"}, "SCIM_KEY_VAULT_URL"),
        ({**BASE, "SCIM_SECRET_SOURCE": "vault"}, "SCIM_SECRET_SOURCE"),
    ],
)
def test_bad_settings_name_the_setting(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        Settings.from_environ(env)


def test_require_email_can_be_relaxed() -> None:
    assert Settings.from_environ({**BASE, "SCIM_REQUIRE_EMAIL": "false"}).require_email is False


def test_every_operator_change_reaches_every_worker_within_30_seconds_by_default() -> None:
    """The documented revocation bound: the tenant record (which the CLI rewrites with every change of the
    tenant's secrets) and the deployment's own secrets are kept at most 30 s."""
    settings = Settings.from_environ(BASE)
    assert settings.revocation_seconds == settings.tenant_cache_seconds <= 30
    assert settings.token_cache_seconds == 300  # tenant secrets: dropped early when their record changes
    assert Settings.from_environ({**BASE, "SCIM_TENANT_CACHE_SECONDS": "3"}).revocation_seconds == 3


def test_a_tenant_cache_longer_than_the_revocation_bound_is_refused() -> None:
    with pytest.raises(SettingsError, match="SCIM_TENANT_CACHE_SECONDS is at most 30"):
        Settings.from_environ({**BASE, "SCIM_TENANT_CACHE_SECONDS": "300"})
