"""Azure Functions entry point (Python v2 model): one HTTP trigger per SCIM route and the changes timer, no logic.

Every route is ANONYMOUS at the host: Entra sends only `Authorization: Bearer <Secret Token or access
token>`, which scim.api checks per tenant; /oauth2/token checks the client secret itself. Every method
is registered on every route so that scim.api, not the host, answers a wrong method with a SCIM 405.
Nothing here touches the network at import time.
"""

import azure.functions as func

from scim import api
from scim.http import Request, Response

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def _to_request(req: func.HttpRequest) -> Request:
    return Request.build(
        req.method,
        req.url,
        route_params=dict(req.route_params),
        query=dict(req.params),
        headers=dict(req.headers),
        body=req.get_body() or b"",
    )


def _to_response(resp: Response) -> func.HttpResponse:
    # Without a mimetype the worker labels every answer text/plain, a 204 included: say what SCIM answers are.
    return func.HttpResponse(
        body=resp.body, status_code=resp.status, headers=dict(resp.headers), mimetype="application/scim+json"
    )


@app.route(route="scim/v2/{tenant}/Users", methods=ALL_METHODS)
def scim_users(req: func.HttpRequest) -> func.HttpResponse:
    return _to_response(api.handle("users", _to_request(req)))


@app.route(route="scim/v2/{tenant}/Users/.search", methods=ALL_METHODS)
def scim_users_search(req: func.HttpRequest) -> func.HttpResponse:
    return _to_response(api.handle("users_search", _to_request(req)))


@app.route(route="scim/v2/{tenant}/Users/{id}", methods=ALL_METHODS)
def scim_user(req: func.HttpRequest) -> func.HttpResponse:
    return _to_response(api.handle("user", _to_request(req)))


@app.route(route="scim/v2/{tenant}/.search", methods=ALL_METHODS)
def scim_search(req: func.HttpRequest) -> func.HttpResponse:
    return _to_response(api.handle("search", _to_request(req)))


@app.route(route="scim/v2/{tenant}/Groups", methods=ALL_METHODS)
def scim_groups(req: func.HttpRequest) -> func.HttpResponse:
    return _to_response(api.handle("groups", _to_request(req)))


@app.route(route="scim/v2/{tenant}/Groups/.search", methods=ALL_METHODS)
def scim_groups_search(req: func.HttpRequest) -> func.HttpResponse:
    return _to_response(api.handle("groups_search", _to_request(req)))


@app.route(route="scim/v2/{tenant}/Groups/{id}", methods=ALL_METHODS)
def scim_group(req: func.HttpRequest) -> func.HttpResponse:
    return _to_response(api.handle("group", _to_request(req)))


@app.route(route="scim/v2/{tenant}/ServiceProviderConfig", methods=ALL_METHODS)
def scim_service_provider_config(req: func.HttpRequest) -> func.HttpResponse:
    return _to_response(api.handle("service_provider_config", _to_request(req)))


@app.route(route="scim/v2/{tenant}/Schemas", methods=ALL_METHODS)
def scim_schemas(req: func.HttpRequest) -> func.HttpResponse:
    return _to_response(api.handle("schemas", _to_request(req)))


@app.route(route="scim/v2/{tenant}/Schemas/{id}", methods=ALL_METHODS)
def scim_schema(req: func.HttpRequest) -> func.HttpResponse:
    return _to_response(api.handle("schema", _to_request(req)))


@app.route(route="scim/v2/{tenant}/ResourceTypes", methods=ALL_METHODS)
def scim_resource_types(req: func.HttpRequest) -> func.HttpResponse:
    return _to_response(api.handle("resource_types", _to_request(req)))


@app.route(route="scim/v2/{tenant}/ResourceTypes/{id}", methods=ALL_METHODS)
def scim_resource_type(req: func.HttpRequest) -> func.HttpResponse:
    return _to_response(api.handle("resource_type", _to_request(req)))


# Outside the SCIM tree: Entra's "OAuth2 client credentials grant" fetches access tokens here.
@app.route(route="oauth2/token", methods=ALL_METHODS)
def oauth_token(req: func.HttpRequest) -> func.HttpResponse:
    return _to_response(api.handle("oauth_token", _to_request(req)))


# The operator pages (HTML, operator credential checked in scim.api.admin). Not /admin/: the Functions
# host reserves it for its own API and refuses function routes that start with it.
@app.route(route="operator", methods=ALL_METHODS)
def operator_home(req: func.HttpRequest) -> func.HttpResponse:
    return _to_response(api.handle_operator(_to_request(req)))


@app.route(route="operator/{*path}", methods=ALL_METHODS)
def operator_pages(req: func.HttpRequest) -> func.HttpResponse:
    return _to_response(api.handle_operator(_to_request(req)))


# Delivers change records the request path could not (a crash after commit, a queue outage) and trims the
# change log; a timer trigger runs on one instance at a time. NCRONTAB with seconds: every minute.
@app.timer_trigger(schedule="0 */1 * * * *", arg_name="timer", run_on_startup=False, use_monitor=True)
def scim_changes_sweep(timer: func.TimerRequest) -> None:
    api.sweep_changes()


# The usual Functions prefix, which this app does not use (host.json routePrefix ""): a SCIM 404 that says so.
@app.route(route="api/scim/{*path}", methods=ALL_METHODS)
def scim_api_prefix(req: func.HttpRequest) -> func.HttpResponse:
    return _to_response(api.handle("api_prefix", _to_request(req)))


# The catch-all stays last: anything no route above matches gets a SCIM 404.
@app.route(route="scim/{*path}", methods=ALL_METHODS)
def scim_unknown(req: func.HttpRequest) -> func.HttpResponse:
    return _to_response(api.handle("unknown", _to_request(req)))
