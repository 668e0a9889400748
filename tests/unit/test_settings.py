import pytest

from scim.settings import Settings, SettingsError

BASE = {"SCIM_STORAGE_CONNECTION_STRING": "UseDevelopmentStorage=true"}


def test_defaults() -> None:
    settings = Settings.from_environ(BASE)
    assert settings.require_email is True
    assert settings.secret_source == "local"
    assert settings.table_prefix == "scim"
    assert settings.max_body_bytes == 1_048_576


def test_local_tokens_are_read_from_json() -> None:
    settings = Settings.from_environ({**BASE, "SCIM_LOCAL_TOKENS": '{"acme": "s3cret"}'})
    assert dict(settings.local_tokens) == {"acme": "s3cret"}


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({}, "SCIM_STORAGE_TABLE_ENDPOINT"),
        ({**BASE, "SCIM_LOCAL_TOKENS": "not json"}, "SCIM_LOCAL_TOKENS"),
        ({**BASE, "SCIM_LOCAL_TOKENS": '{"acme": ""}'}, "SCIM_LOCAL_TOKENS"),
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
