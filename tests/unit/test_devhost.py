"""The local host routes like the Functions host: literal segments first, catch-alls last."""

import os
from pathlib import Path

import azure.functions as func

from devhost.server import FunctionsHost, read_route_prefix


def build_app() -> func.FunctionApp:
    app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

    @app.route(route="scim/{*path}", methods=["GET"])
    def catch_all(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse("catch-all " + req.route_params["path"])

    @app.route(route="scim/v2/{tenant}/Users/{id}", methods=["GET", "PATCH"])
    def item(req: func.HttpRequest) -> func.HttpResponse:
        return func.HttpResponse(f"{req.route_params['tenant']}:{req.route_params['id']}:{req.params.get('q')}")

    return app


def test_specific_route_wins_over_catch_all() -> None:
    host = FunctionsHost(build_app(), "")
    status, _, body = host.dispatch("GET", "/scim/v2/acme/Users/42?q=a%20b", {}, b"", "http://h")
    assert (status, body) == (200, b"acme:42:a b")


def test_unmatched_path_under_scim_goes_to_catch_all() -> None:
    status, _, body = FunctionsHost(build_app(), "").dispatch("GET", "/scim/nope/x", {}, b"", "http://h")
    assert (status, body) == (200, b"catch-all nope/x")


def test_unregistered_method_and_unknown_path() -> None:
    host = FunctionsHost(build_app(), "")
    assert host.dispatch("DELETE", "/scim/v2/acme/Users/42", {}, b"", "http://h")[0] == 405
    assert host.dispatch("GET", "/elsewhere", {}, b"", "http://h")[0] == 404


def test_route_prefix_is_applied() -> None:
    host = FunctionsHost(build_app(), "api")
    assert host.dispatch("GET", "/api/scim/v2/acme/Users/1", {}, b"", "http://h")[0] == 200
    assert host.dispatch("GET", "/scim/v2/acme/Users/1", {}, b"", "http://h")[0] == 404


def test_route_prefix_from_host_json(tmp_path: Path) -> None:
    (tmp_path / "host.json").write_text('{"extensions": {"http": {"routePrefix": ""}}}')
    assert read_route_prefix(tmp_path / "host.json") == ""
    assert read_route_prefix(tmp_path / "missing.json") == "api"


def test_timer_functions_run_on_the_devhost_interval() -> None:
    app = func.FunctionApp()
    calls: list[bool] = []

    @app.timer_trigger(schedule="0 */1 * * * *", arg_name="timer", run_on_startup=False)
    def sweep(timer: func.TimerRequest) -> None:
        calls.append(timer.past_due)

    from devhost.server import TimerRunner

    runner = TimerRunner(app, interval=0.01)
    assert [name for name, _, _ in runner.timers] == ["sweep"]
    runner.run_once()
    assert calls == [False]


def test_state_directories_are_the_owners_only(tmp_path: Path) -> None:
    """Issue 19: `.local/azurite` holds user data and was world-readable."""
    import stat

    from devhost.azurite import AzuriteService, private_dir

    old = tmp_path / "old"
    old.mkdir()
    old.chmod(0o755)
    new = tmp_path / "a" / "b"
    previous = os.umask(0o022)
    try:
        assert private_dir(old) == old and private_dir(new) == new
    finally:
        os.umask(previous)
    assert stat.S_IMODE(old.stat().st_mode) == stat.S_IMODE(new.stat().st_mode) == 0o700
    data = tmp_path / "azurite"
    AzuriteService("table", port=1, location=data).command()
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
