"""What every `scim-admin` command shares: the Operator (services built on first use from the environment),
its click decorators, the one error-to-exit-1 translation, and the `--json`/text output.

The command modules (scim.cli_tenant, cli_oauth, cli_activity, cli_transfer) import this; scim.cli imports
them and puts their commands on its groups. Nothing here imports a command module, so the CLI has no cycle.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import click

from scim.cli_access import secrets_refused_text, storage_refused_text
from scim.cli_text import echo, echo_json
from scim.platform.changes import ChangeLog
from scim.platform.clients import ClientCredentials, ClientService
from scim.platform.doors import CLI, DoorLog, clients_with_door, tenants_with_door
from scim.platform.tenants import (
    InvalidTenantIdError,
    TenantExistsError,
    TenantNotFoundError,
    TenantService,
    TenantTokenStateError,
)
from scim.run_state import describe_store, operator_environ
from scim.secrets import SecretSourceUnavailableError, SecretStoreRefusedError
from scim.settings import Settings, SettingsError
from scim.store import StorageAccessDeniedError, StorageUnavailableError, UnknownAccountError, VersionMismatchError
from scim.wiring import build_change_log, build_client_service, build_tenant_service

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Operator:
    """What every command needs: the tenant service, built on first use from the environment."""

    environ: Mapping[str, str] = field(default_factory=lambda: os.environ)
    _service: TenantService | None = None
    _clients: ClientService | None = None
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        """The settings, read once; the first read says on stderr which store this command talks to."""
        if self._settings is None:
            env = operator_environ(self.environ)
            self._settings = Settings.from_environ(env)
            echo(describe_store(self._settings, env), err=True)
        return self._settings

    @property
    def tenants(self) -> TenantService:
        if self._service is None:
            service = build_tenant_service(self.settings)
            # Every change is recorded in the tenant's activity as made through this door (scim.platform.doors).
            doors = DoorLog(lambda tenant: service.storage_of(tenant).activity(), CLI)
            self._service = tenants_with_door(service, doors)
        return self._service

    def change_log(self, tenant_id: str) -> ChangeLog:
        """The change records of the tenant, on its data account."""
        return build_change_log(self.tenants.storage_of(tenant_id))

    @property
    def clients(self) -> ClientService:
        if self._clients is None:
            tenants = self.tenants
            doors = DoorLog(lambda tenant: tenants.storage_of(tenant).activity(), CLI)
            self._clients = clients_with_door(build_client_service(self.settings, self.tenants), doors)
        return self._clients


pass_operator = click.make_pass_decorator(Operator, ensure=True)


def operator_errors(command: F) -> F:
    """Known failures become one clear line on stderr and exit status 1, never a traceback."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except TenantNotFoundError as exc:
            raise click.ClickException(f"no tenant {exc.args[0]!r}; `scim-admin tenant list` shows them") from exc
        except TenantExistsError as exc:
            raise click.ClickException(f"tenant {exc.args[0]!r} already exists") from exc
        except (InvalidTenantIdError, TenantTokenStateError, SettingsError, ValueError, UnknownAccountError) as exc:
            raise click.ClickException(str(exc)) from exc
        except VersionMismatchError as exc:
            raise click.ClickException("the tenant changed while this command ran; run it again") from exc
        except StorageAccessDeniedError as exc:
            raise click.ClickException(storage_refused_text(exc)) from exc
        except StorageUnavailableError as exc:
            raise click.ClickException(
                f"cannot reach Table Storage ({exc}): is `make run` running, or are the storage settings right?"
            ) from exc
        except SecretStoreRefusedError as exc:
            raise click.ClickException(secrets_refused_text(exc) or f"cannot use the secret store: {exc}") from exc
        except SecretSourceUnavailableError as exc:
            raise click.ClickException(f"cannot use the secret store: {exc}") from exc

    return cast(F, run)


def json_option(command: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON, for scripts.")(command)


def emit(as_json: bool, data: Any, text: str) -> None:
    """JSON (json.dumps escapes every control character) or text through scim.cli_text.echo."""
    if as_json:
        echo_json(data)
    else:
        echo(text)


def takes_effect(bound: int) -> str:
    """When an operator's change reaches every worker: the cache bound (scim.settings.MAX_CACHE_SECONDS at most)."""
    return f"within {bound} s (until then a worker may still use what it cached)"


def client_credentials_data(credentials: ClientCredentials) -> dict[str, str]:
    """An OAuth2 client's four values for `--json` (`tenant create --auth oauth`, `tenant add-client`, …)."""
    return {
        "tenantUrl": credentials.tenant_url,
        "tokenEndpoint": credentials.token_endpoint,
        "clientId": credentials.client_id,
        "clientSecret": credentials.client_secret,
    }


def client_credentials_text(credentials: ClientCredentials) -> str:
    """The four Entra fields of Authentication Method "OAuth2 client credentials grant", in Entra's order."""
    return "\n".join(
        [
            "Entra: Provisioning > Admin Credentials > Authentication Method: OAuth2 client credentials grant",
            f"  Tenant URL:           {credentials.tenant_url}",
            f"  OAuth token endpoint: {credentials.token_endpoint}",
            f"  Client identifier:    {credentials.client_id}",
            f"  Client secret:        {credentials.client_secret}",
            "Enter the four values, then Test Connection. The client secret is shown only now.",
        ]
    )
