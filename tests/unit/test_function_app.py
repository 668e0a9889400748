"""function_app.py registers what the Functions host needs: anonymous triggers, every method, our routes."""

import json
import re
from pathlib import Path

import function_app
from devhost.server import app_functions
from scim import api

ROOT = Path(__file__).resolve().parents[2]


def triggers() -> dict[str, dict[str, object]]:
    found = {}
    for function in app_functions(function_app.app):
        spec = function.get_trigger().get_dict_repr()
        if spec["type"] == "httpTrigger":
            found[str(spec["route"])] = spec
    return found


def test_the_changes_sweep_is_a_timer_every_minute() -> None:
    timers = [
        (function.get_function_name(), function.get_trigger().get_dict_repr())
        for function in app_functions(function_app.app)
        if function.get_trigger().get_dict_repr()["type"] == "timerTrigger"
    ]
    assert [(name, spec["schedule"]) for name, spec in timers] == [("scim_changes_sweep", "0 */1 * * * *")]


def test_routes_are_the_scim_routes() -> None:
    assert set(triggers()) == {
        "scim/v2/{tenant}/Users",
        "scim/v2/{tenant}/Users/.search",
        "scim/v2/{tenant}/Users/{id}",
        "scim/v2/{tenant}/.search",
        "scim/v2/{tenant}/Groups",
        "scim/v2/{tenant}/Groups/.search",
        "scim/v2/{tenant}/Groups/{id}",
        "scim/v2/{tenant}/Me",
        "scim/v2/{tenant}/Bulk",
        "scim/v2/{tenant}/ServiceProviderConfig",
        "scim/v2/{tenant}/Schemas",
        "scim/v2/{tenant}/Schemas/{id}",
        "scim/v2/{tenant}/ResourceTypes",
        "scim/v2/{tenant}/ResourceTypes/{id}",
        "oauth2/token",
        "scim/{*path}",
        "api/scim/{*path}",
        "operator",
        "operator/{*path}",
        "manage/v1/{*path}",
        "setup/{tenant}/{code}",
    }


def test_no_route_takes_a_path_the_functions_host_reserves() -> None:
    """The host refuses routes starting with admin or runtime ("conflicts with one or more built in routes")."""
    assert not [route for route in triggers() if route.split("/")[0].lower() in ("admin", "runtime")]


def test_every_route_has_a_handler_and_the_catch_all_is_last() -> None:
    routes = list(triggers())
    assert routes[-1] == "scim/{*path}"  # the operator routes come before it, outside scim/
    assert set(api.ROUTES) == {
        "users",
        "users_search",
        "user",
        "groups",
        "groups_search",
        "group",
        "me",
        "bulk",
        "search",
        "service_provider_config",
        "schemas",
        "schema",
        "resource_types",
        "resource_type",
        "oauth_token",
        "unknown",
        "api_prefix",
        "manage",
        "setup",
    }


def test_every_route_is_anonymous_and_takes_every_method() -> None:
    for spec in triggers().values():
        assert str(getattr(spec["authLevel"], "value", spec["authLevel"])) == "anonymous"
        methods = {str(getattr(m, "value", m)) for m in spec["methods"]}  # type: ignore[attr-defined]
        assert methods == {"GET", "POST", "PUT", "PATCH", "DELETE"}


def test_host_json_removes_the_api_prefix_and_stays_under_the_http_limit() -> None:
    host = json.loads((ROOT / "host.json").read_text())
    assert host["extensions"]["http"]["routePrefix"] == ""
    hours, minutes, seconds = (int(part) for part in host["functionTimeout"].split(":"))
    assert hours * 3600 + minutes * 60 + seconds < 230
    assert "Request" in host["logging"]["applicationInsights"]["samplingSettings"]["excludedTypes"]


def test_sample_settings_document_every_setting_the_app_reads() -> None:
    sample = json.loads((ROOT / "local.settings.sample.json").read_text())
    source = (ROOT / "scim" / "settings.py").read_text()
    read = set(re.findall(r'"((?:SCIM|AZURE)_[A-Z_]+)"', source))
    assert len(read) >= 10
    assert read <= set(sample["Values"]) and read <= set(sample["_comments"])


def test_bicep_app_settings_are_settings_the_app_reads() -> None:
    source = (ROOT / "scim" / "settings.py").read_text()
    read = set(re.findall(r'"((?:SCIM|AZURE)_[A-Z_]+)"', source))
    bicep = (ROOT / "infra" / "modules" / "functionapp.bicep").read_text()
    deployed = set(re.findall(r"name: '((?:SCIM|AZURE)_[A-Z_]+)'", bicep))
    assert deployed <= read
    assert {"SCIM_STORAGE_TABLE_ENDPOINT", "SCIM_SECRET_SOURCE", "SCIM_KEY_VAULT_URL", "AZURE_CLIENT_ID"} <= deployed
