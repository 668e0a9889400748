"""Azure Functions entry point (Python v2 model): one HTTP trigger per row of scim.api's route table and the
changes timer, no logic.

Every route is ANONYMOUS at the host: Entra sends only `Authorization: Bearer <Secret Token or access
token>`, which scim.api checks per tenant; /oauth2/token checks the client secret itself. Every method
is registered on every route so that scim.api, not the host, answers a wrong method with a SCIM 405.
Nothing here touches the network at import time.
"""

from collections.abc import Callable

import azure.functions as func

from scim import api
from scim.http import Request, Response

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


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


def _trigger(route: api.Route) -> Callable[[func.HttpRequest], func.HttpResponse]:
    def trigger(req: func.HttpRequest) -> func.HttpResponse:
        return _to_response(api.serve(route, _to_request(req)))

    trigger.__name__ = trigger.__qualname__ = route.function_name
    return trigger


# In the table's order, the catch-all last; each function named for its route (the v2 model wants distinct names).
for _route in api.ROUTE_TABLE:
    app.function_name(name=_route.function_name)(
        app.route(route=_route.path, methods=list(_route.methods))(_trigger(_route))
    )


# Delivers change records the request path could not (a crash after commit, a queue outage) and trims the
# change log; a timer trigger runs on one instance at a time. NCRONTAB with seconds: every minute.
@app.timer_trigger(schedule="0 */1 * * * *", arg_name="timer", run_on_startup=False, use_monitor=True)
def scim_changes_sweep(timer: func.TimerRequest) -> None:
    api.sweep_changes()
