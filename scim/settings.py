"""Typed application settings, read once from the environment (or local.settings.json Values)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

SecretSourceKind = Literal["local", "keyvault"]

_TABLE_PREFIX_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,49}$")
_QUEUE_NAME_RE = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
_SECRET_NAME_RE = re.compile(r"^[A-Za-z0-9-]{1,127}$")
ACCOUNT_NAME_RE = re.compile(r"[a-z][a-z0-9-]{0,22}[a-z0-9]|[a-z]")
"""A data account's name as the tenant row records it: 1-24 of a-z, 0-9 and '-', a letter first."""
PRIMARY_ACCOUNT = "primary"
"""The data account SCIM_STORAGE_* name: it holds the tenants table and every tenant whose row names none."""

MAX_CACHE_SECONDS = 30
"""The revocation bound: an operator's change (a retired token or secret, a disabled tenant, a new limit)
reaches every worker within this time at most. A worker re-reads a tenant's record this often; a change to
the tenant's secrets made through the CLI also changes that record, which makes the worker drop the
secrets it cached. Secrets of the whole deployment (operator key, signing keys) are kept no longer."""

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The checkout's root: make run keeps its state in PROJECT_ROOT/.local (git-ignored)."""

# Azurite's documented, public development account; it is not a secret.
_AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def azurite_connection_string(port: int, host: str = "127.0.0.1") -> str:
    """Table Storage in a local Azurite, as make run starts it."""
    return (
        f"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={_AZURITE_KEY};"
        f"TableEndpoint=http://{host}:{port}/devstoreaccount1;"
    )


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the setting."""


ENV_FILE_SETTING = "SCIM_ENV_FILE"
"""Names the operator CLI's settings file; unset: `.env` in the working directory if there is one; `none`: no file."""


def env_file_path(environ: Mapping[str, str]) -> Path | None:
    """The settings file the operator CLI reads, or None (SCIM_ENV_FILE=none, or no ./.env)."""
    named = (environ.get(ENV_FILE_SETTING) or "").strip()
    if named.lower() == "none":
        return None
    if named:
        path = Path(named)
        if not path.is_file():
            raise SettingsError(f"{ENV_FILE_SETTING} names {named!r}, which is not a file")
        return path
    default = Path.cwd() / ".env"
    return default if default.is_file() else None


def with_env_file(environ: Mapping[str, str]) -> dict[str, str]:
    """The environment over the settings file's values (the environment wins, as with any dotenv file).

    The file is what `azd env get-values > .env` writes: the deployment's outputs, which main.bicep names
    after these settings (SCIM_STORAGE_TABLE_ENDPOINT, SCIM_KEY_VAULT_URL, ...), one KEY="value" a line.
    Only the operator CLI reads it; the Function App gets its settings from its app settings.
    """
    path = env_file_path(environ)
    if path is None:
        return dict(environ)
    from dotenv import dotenv_values

    values = {key: value for key, value in dotenv_values(path).items() if value is not None}
    return {**values, **environ}


def _flag(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be true or false, not {raw!r}")


def _positive_int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from exc
    if value <= 0:
        raise SettingsError(f"{name} must be positive, not {value}")
    return value


def _cache_seconds(environ: Mapping[str, str], name: str) -> int:
    value = _positive_int(environ, name, MAX_CACHE_SECONDS)
    if value > MAX_CACHE_SECONDS:
        raise SettingsError(
            f"{name} is at most {MAX_CACHE_SECONDS}: a retired token or secret, a disabled tenant or a new limit "
            f"must reach every worker within {MAX_CACHE_SECONDS} s"
        )
    return value


def _state_dir(environ: Mapping[str, str]) -> Path:
    return Path(environ.get("SCIM_STATE_DIR") or PROJECT_ROOT / ".local")


def _public_base_url(environ: Mapping[str, str]) -> str | None:
    """SCIM_PUBLIC_BASE_URL as origin plus any proxy path prefix, without a trailing '/scim/v2' or '/'."""
    raw = (environ.get("SCIM_PUBLIC_BASE_URL") or "").strip()
    if not raw:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise SettingsError(f"SCIM_PUBLIC_BASE_URL must be an http(s) URL like https://scim.example.com, not {raw!r}")
    path = parts.path.rstrip("/")
    if path.lower().endswith("/scim/v2"):
        path = path[: -len("/scim/v2")]
    return f"{parts.scheme}://{parts.netloc}{path}"


def _queue_name(environ: Mapping[str, str]) -> str:
    name = (environ.get("SCIM_CHANGES_QUEUE") or "scim-changes").strip()
    if not _QUEUE_NAME_RE.fullmatch(name) or "--" in name:
        raise SettingsError("SCIM_CHANGES_QUEUE must be 3-63 lower-case letters, digits and single hyphens")
    return name


def _secret_name(environ: Mapping[str, str], name: str, default: str) -> str:
    value = (environ.get(name) or "").strip() or default
    if not _SECRET_NAME_RE.match(value):
        raise SettingsError(f"{name} must be a Key Vault secret name (letters, digits and '-'), not {value!r}")
    return value


def _manage_settings(env: Mapping[str, str]) -> dict[str, Any]:
    """SCIM_MANAGE_*: the management API's token issuer, audiences, roles, CA bundle and rate (scim.manage)."""
    issuer = (env.get("SCIM_MANAGE_ISSUER") or "").strip() or None
    if issuer is not None:
        parts = urlsplit(issuer)
        if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment:
            raise SettingsError(
                "SCIM_MANAGE_ISSUER must be an https URL, e.g. https://login.microsoftonline.com/<tenant id>/v2.0, "
                f"not {issuer!r}"
            )
    audiences = tuple(a.strip() for a in (env.get("SCIM_MANAGE_AUDIENCE") or "").split(",") if a.strip())
    if issuer is not None and not audiences:
        raise SettingsError("SCIM_MANAGE_ISSUER needs SCIM_MANAGE_AUDIENCE: the management API app's client id")
    bundle = (env.get("SCIM_MANAGE_CA_BUNDLE") or "").strip()
    if bundle and not Path(bundle).is_file():
        raise SettingsError(f"SCIM_MANAGE_CA_BUNDLE names {bundle!r}, which is not a file")
    roles = {}
    for name, key, default in (
        ("manage_read_role", "SCIM_MANAGE_READ_ROLE", "Tenants.Read"),
        ("manage_write_role", "SCIM_MANAGE_WRITE_ROLE", "Tenants.ReadWrite"),
    ):
        roles[name] = (env.get(key) or "").strip() or default
    return {
        "manage_issuer": issuer,
        "manage_audiences": audiences,
        "manage_ca_bundle": Path(bundle) if bundle else None,
        "manage_requests_per_minute": _positive_int(env, "SCIM_MANAGE_REQUESTS_PER_MINUTE", 120),
        **roles,
    }


def _names_queue_service(connection_string: str) -> bool:
    text = connection_string.lower()
    return "queueendpoint=" in text or "usedevelopmentstorage=true" in text


def queue_endpoint_of(table_endpoint: str) -> str | None:
    """The queue service of the account a table endpoint belongs to: Azure names an account's services
    `https://<account>.table.<suffix>/` and `https://<account>.queue.<suffix>/` (any cloud's suffix); None for an
    endpoint not so named (an emulator, a custom domain), whose queue cannot be told from it."""
    parts = urlsplit(table_endpoint)
    labels = (parts.hostname or "").split(".")
    if parts.scheme != "https" or len(labels) < 3 or labels[1] != "table" or parts.port is not None:
        return None
    return f"https://{'.'.join([labels[0], 'queue', *labels[2:]])}/"


@dataclass(frozen=True)
class DataAccount:
    """One more storage account for tenants' data: a connection string (Azurite) or a table endpoint (Azure,
    reached with the app's identity, the same credential as the primary).

    Its changes queue (SCIM_CHANGES_QUEUE, on this account: a tenant's change messages stay on its account) is
    the connection string's QueueEndpoint, or the table endpoint's account's queue service (queue_endpoint_of).
    """

    name: str
    connection_string: str | None = None
    table_endpoint: str | None = None

    @property
    def queue_endpoint(self) -> str | None:
        """The account's queue service when it is reached by endpoint (Azure); None with a connection string."""
        return queue_endpoint_of(self.table_endpoint) if self.table_endpoint else None

    @property
    def has_queue(self) -> bool:
        """Whether the account's changes queue can be reached: a QueueEndpoint, or an endpoint to derive it from."""
        if self.connection_string:
            return _names_queue_service(self.connection_string)
        return self.queue_endpoint is not None


def _data_accounts(environ: Mapping[str, str]) -> tuple[DataAccount, ...]:
    """SCIM_DATA_ACCOUNTS: `name=<table endpoint or connection string>`, comma-separated, in placement order."""
    raw = (environ.get("SCIM_DATA_ACCOUNTS") or "").strip()
    accounts: list[DataAccount] = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        name, sep, value = (text.strip() for text in item.partition("="))
        if not sep or not value:
            raise SettingsError(
                "SCIM_DATA_ACCOUNTS is a comma-separated list of name=<table endpoint or connection string>, "
                f"not {name!r}"
            )
        if not ACCOUNT_NAME_RE.fullmatch(name) or name == PRIMARY_ACCOUNT:
            raise SettingsError(
                f"SCIM_DATA_ACCOUNTS: {name!r} is not an account name (1-24 of a-z, 0-9 and '-', a letter first; "
                f"{PRIMARY_ACCOUNT!r} is the SCIM_STORAGE_* account's)"
            )
        if any(account.name == name for account in accounts):
            raise SettingsError(f"SCIM_DATA_ACCOUNTS names {name!r} twice")
        if value.lower().startswith(("https://", "http://")):
            accounts.append(DataAccount(name, table_endpoint=value))
        elif "=" in value:
            accounts.append(DataAccount(name, connection_string=value))
        else:
            raise SettingsError(f"SCIM_DATA_ACCOUNTS: {name!r} needs an https table endpoint or a connection string")
    return tuple(accounts)


@dataclass(frozen=True)
class Settings:
    """Every setting the SCIM endpoint reads; local.settings.sample.json documents each key."""

    storage_connection_string: str | None = None
    storage_table_endpoint: str | None = None
    table_prefix: str = "scim"
    secret_source: SecretSourceKind = "local"
    local_secrets_path: Path = PROJECT_ROOT / ".local" / "secrets.json"
    key_vault_url: str | None = None
    managed_identity_client_id: str | None = None
    require_email: bool = True
    max_body_bytes: int = 1_048_576
    bulk_max_operations: int = 100
    """Operations one POST /Bulk may carry (ServiceProviderConfig bulk.maxOperations; its maxPayloadSize is
    max_body_bytes). Each runs as its own request would, in order, within the host's function timeout."""
    default_page_size: int = 100
    max_page_size: int = 1000
    public_base_url: str | None = None
    """Origin (and proxy path prefix) of Location and meta.location; None: the request URL's."""
    activity_retention_days: int = 30
    """Activity records older than this are deleted (scim.platform.activity)."""
    operator_secret_name: str = "scim-operator-key"
    """The secret (same store as the tenants' tokens) whose value opens the operator pages under /operator/."""
    token_cache_seconds: int = 300
    """How long a worker keeps a tenant's Secret Tokens and client secrets unless the tenant record says they
    changed (see MAX_CACHE_SECONDS); the operator key and signing keys are kept at most revocation_seconds."""
    token_grace_seconds: int = 900
    tenant_cache_seconds: int = 30
    """How long a worker keeps a tenant's record (enabled, limit)."""
    storage_queue_endpoint: str | None = None
    """Queue service of the primary data account (Azure); with a connection string, its QueueEndpoint is used. The
    other accounts' queues come with SCIM_DATA_ACCOUNTS (DataAccount.queue_endpoint)."""
    changes_queue: str = "scim-changes"
    change_retention_days: int = 30
    data_accounts: tuple[DataAccount, ...] = ()
    """Storage accounts for tenants' data besides the primary (SCIM_DATA_ACCOUNTS); the tenants table stays on
    the primary, and each account has its own changes queue for the changes of the tenants placed on it."""

    @property
    def account_names(self) -> tuple[str, ...]:
        """Every data account, the primary first: the order placement breaks ties in."""
        return (PRIMARY_ACCOUNT, *(account.name for account in self.data_accounts))

    @property
    def revocation_seconds(self) -> int:
        """Within this many seconds every worker applies an operator's change made through the CLI."""
        return self.tenant_cache_seconds

    @property
    def publishes_changes(self) -> bool:
        """Whether a queue is configured on the primary: an endpoint, or a connection string that names a queue
        service. It decides for the deployment: then every data account publishes to its own queue (from_environ
        refuses an account without one); without it, no account publishes."""
        if self.storage_connection_string:
            return _names_queue_service(self.storage_connection_string)
        return bool(self.storage_queue_endpoint)

    oauth_token_seconds: int = 3600
    """Lifetime of an access token from /oauth2/token (the `expires_in` Entra is told)."""
    oauth_leeway_seconds: int = 30
    """Clock skew allowed when checking an access token's `exp` and `iat` (workers' clocks differ)."""
    manage_issuer: str | None = None
    """The management API's token issuer (SCIM_MANAGE_ISSUER), e.g. https://login.microsoftonline.com/<tenant>/v2.0;
    None: every /manage/v1/ request is refused (the API is off)."""
    manage_audiences: tuple[str, ...] = ()
    """Accepted `aud` values of the management API's tokens: the API app's client id and/or its App ID URI."""
    manage_read_role: str = "Tenants.Read"
    manage_write_role: str = "Tenants.ReadWrite"
    manage_ca_bundle: Path | None = None
    """CA certificates (PEM) to trust, instead of the system's, for the issuer's metadata and keys (tests)."""
    manage_requests_per_minute: int = 120
    """Requests one caller may send to the management API per minute, per worker (429 with Retry-After past it)."""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read and check the settings; raise SettingsError naming the first bad one."""
        env = os.environ if environ is None else environ
        secret_source = env.get("SCIM_SECRET_SOURCE", "local").strip().lower() or "local"
        if secret_source not in ("local", "keyvault"):
            raise SettingsError(f"SCIM_SECRET_SOURCE must be local or keyvault, not {secret_source!r}")
        table_prefix = env.get("SCIM_TABLE_PREFIX", "scim").strip() or "scim"
        if not _TABLE_PREFIX_RE.match(table_prefix):
            raise SettingsError("SCIM_TABLE_PREFIX must be letters and digits, starting with a letter")
        max_page = _positive_int(env, "SCIM_MAX_PAGE_SIZE", 1000)
        default_page = min(_positive_int(env, "SCIM_DEFAULT_PAGE_SIZE", 100), max_page)
        settings = cls(
            storage_connection_string=env.get("SCIM_STORAGE_CONNECTION_STRING") or None,
            storage_table_endpoint=env.get("SCIM_STORAGE_TABLE_ENDPOINT") or None,
            table_prefix=table_prefix,
            secret_source="keyvault" if secret_source == "keyvault" else "local",
            local_secrets_path=Path(env.get("SCIM_LOCAL_SECRETS_FILE") or _state_dir(env) / "secrets.json"),
            key_vault_url=env.get("SCIM_KEY_VAULT_URL") or None,
            managed_identity_client_id=env.get("AZURE_CLIENT_ID") or None,
            require_email=_flag(env, "SCIM_REQUIRE_EMAIL", True),
            max_body_bytes=_positive_int(env, "SCIM_MAX_BODY_BYTES", 1_048_576),
            bulk_max_operations=_positive_int(env, "SCIM_BULK_MAX_OPERATIONS", 100),
            default_page_size=default_page,
            max_page_size=max_page,
            public_base_url=_public_base_url(env),
            storage_queue_endpoint=env.get("SCIM_STORAGE_QUEUE_ENDPOINT") or None,
            changes_queue=_queue_name(env),
            change_retention_days=_positive_int(env, "SCIM_CHANGE_RETENTION_DAYS", 30),
            data_accounts=_data_accounts(env),
            activity_retention_days=_positive_int(env, "SCIM_ACTIVITY_RETENTION_DAYS", 30),
            operator_secret_name=_secret_name(env, "SCIM_OPERATOR_SECRET_NAME", "scim-operator-key"),
            token_cache_seconds=_positive_int(env, "SCIM_TOKEN_CACHE_SECONDS", 300),
            token_grace_seconds=_positive_int(env, "SCIM_TOKEN_GRACE_SECONDS", 900),
            tenant_cache_seconds=_cache_seconds(env, "SCIM_TENANT_CACHE_SECONDS"),
            oauth_token_seconds=_positive_int(env, "SCIM_OAUTH_TOKEN_SECONDS", 3600),
            oauth_leeway_seconds=_positive_int(env, "SCIM_OAUTH_LEEWAY_SECONDS", 30),
        )
        settings = replace(settings, **_manage_settings(env))
        if settings.oauth_token_seconds > 86_400:
            raise SettingsError(
                "SCIM_OAUTH_TOKEN_SECONDS is at most 86400 (a day): access tokens are meant to be short-lived"
            )
        if env.get("SCIM_LOCAL_TOKENS"):
            raise SettingsError(
                "SCIM_LOCAL_TOKENS is no longer read: tenants and their tokens are created with "
                "`scim-admin tenant create <id>` (see the README); remove the setting"
            )
        if not settings.storage_connection_string and not settings.storage_table_endpoint:
            raise SettingsError(
                "Set SCIM_STORAGE_TABLE_ENDPOINT (Azure, managed identity) or SCIM_STORAGE_CONNECTION_STRING (Azurite)"
            )
        if settings.publishes_changes:
            for account in settings.data_accounts:
                if not account.has_queue:
                    raise SettingsError(
                        f"SCIM_DATA_ACCOUNTS: {account.name!r} has no queue service, yet the primary publishes "
                        "changes and each account publishes its tenants' changes to its own queue: give its "
                        "connection string a QueueEndpoint, or its table endpoint as "
                        "https://<account>.table.core.windows.net/ (its queue is https://<account>.queue.core.windows.net/)"
                    )
        if settings.secret_source == "keyvault" and not settings.key_vault_url:
            raise SettingsError("SCIM_SECRET_SOURCE=keyvault needs SCIM_KEY_VAULT_URL")
        return settings
