"""POST /Bulk (RFC 7644 §3.7): each operation runs as the single request it stands for, one after another.

An operation becomes the Request it would have been alone (method, URL from `path`, If-Match from `version`,
body from `data`) and goes through ScimApi.dispatch with the bulk request's tenant record: the same handlers,
services, validation, license cap, change records, activity entries, log line and exception→response table
(scim.api.failures) as that single request. Only the credentials are checked once, for the whole bulk
request: a wrong token is a 401 before any operation runs. Operations run in the order sent and each commits
on its own, so an error in one undoes none of the others (§3.7: "continue performing as many changes as
possible and disregard partial failures"); `failOnErrors` stops the job after that many errors.

`bulkId:<x>` references (§3.7.2) in a later operation's path and data are replaced by the id the POST with
bulkId x created. A reference that cannot be resolved fails only its own operation:
- 409 when it names a POST of this request that failed, comes later (operations run in the order sent), or
  refers back to the operation itself through other POSTs: §3.7.1 lets a service provider answer a circular
  reference with 409 (Conflict), and the other two are the same conflict with the state of the job;
- 400 invalidValue when no POST of this request declares it: the request itself is wrong (§3.12).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from scim2_models import (
    ConflictException,
    InvalidSyntaxException,
    InvalidValueException,
    NotFoundException,
    PayloadTooLargeException,
    SCIMException,
)

from scim.api.common import base_url, parse_json
from scim.api.context import RequestContext
from scim.api.failures import failure_response
from scim.api.scim import Operation, ScimApi, collection_operations, item_operations
from scim.errors import ServiceUnavailableException, error_response
from scim.http import Request, Response
from scim.platform.tenants import Tenant
from scim.protocol.bulk import BULK_RESPONSE, BulkJob, BulkOperation, parse_bulk_request, resolve, split_path

__all__ = ["bulk"]

_RESOURCE_TYPES = {"Users": "User", "Groups": "Group"}
_ITEM_ROUTES = {"Users": "user", "Groups": "group"}
"""The route names of scim.api.routes: a bulk operation's log line and activity entry are its single request's."""


def bulk(api: ScimApi, request: Request) -> Response:
    """The /Bulk route: only POST, authenticated and recorded like every SCIM route."""

    def post(ctx: RequestContext) -> Response:
        max_payload = api.settings.max_body_bytes
        if len(ctx.request.body) > max_payload:
            # RFC 7644 §3.7.4: 413 naming the limit, no scimType (its example), checked before parsing.
            raise PayloadTooLargeException(
                detail=f"The size of the bulk operation exceeds the maxPayloadSize ({max_payload})"
            )
        job = parse_bulk_request(parse_json(ctx, max_payload), api.settings.bulk_max_operations)
        assert ctx.record is not None  # dispatch authenticated the request before calling this
        results = BulkRun(api, ctx.request, ctx.record, job).run()
        return Response.scim_json(200, {"schemas": [BULK_RESPONSE], "Operations": results})

    return api.dispatch(request, "bulk", "", {"POST": Operation("bulk", post)})


class BulkRun:
    """One bulk job: its operations in order, the ids its POSTs created, and the answer of each."""

    time_budget: float = 120.0
    """Seconds after which no further operation starts: host.json's functionTimeout (210 s) must still leave
    room for the one running and the answer (a storage call gives up after 15 s, scim.store's transport)."""
    clock: Callable[[], float] = staticmethod(time.monotonic)

    def __init__(self, api: ScimApi, request: Request, record: Tenant, job: BulkJob) -> None:
        self.api = api
        self.request = request
        self.record = record
        self.job = job
        self.base = base_url(request, 1)
        self.creators = job.creators
        self.created: dict[str, str] = {}
        """bulkId -> id of the resource its POST created."""
        self.failed: dict[str, int] = {}
        """bulkId -> status of its POST, which failed."""

    def run(self) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        errors = 0
        deadline = self.clock() + self.time_budget
        halted: str | None = None
        for index, operation in enumerate(self.job.operations):
            if halted is None and self.clock() > deadline:
                halted = f"its time ({self.time_budget:.0f} s) ran out before this operation"
            if halted is not None:
                # Not run, and said so per operation, so the client knows exactly what to send again.
                detail = f"Not run: {halted}; send this operation again in a later bulk request"
                results.append(self.refused(operation, ServiceUnavailableException(detail=detail)))
                continue
            try:
                result = self.perform(index, operation)
            except Exception as exc:  # never a 500 for the job: the op gets the failure table's answer
                failure = failure_response(exc, tenant=self.record.id, operation="bulk")
                result = self.result(operation, None, failure.response)
            results.append(result)
            status = int(result["status"])
            if operation.method == "POST" and operation.bulk_id:
                if status < 300:
                    self.created[operation.bulk_id] = str(result["location"]).rsplit("/", 1)[-1]
                else:
                    self.failed[operation.bulk_id] = status
            if status == 503:
                # A dependency did not answer after its retries: the next operations would each wait as long,
                # past the function's timeout, and press on a struggling storage account.
                halted = f"storage did not answer for operation {index + 1} of this bulk request"
            if status >= 400:
                errors += 1
                if self.job.fail_on_errors is not None and errors >= self.job.fail_on_errors:
                    break  # §3.7.3: the results of the operations processed so far, and no others
        return results

    def perform(self, index: int, operation: BulkOperation) -> dict[str, Any]:
        if operation.problem is not None:
            return self.refused(operation, InvalidSyntaxException(detail=operation.problem))
        assert operation.path is not None and operation.method is not None
        try:
            path = resolve(operation.path, lambda reference: self.referenced_id(index, reference))
            data = resolve(operation.data, lambda reference: self.referenced_id(index, reference))
        except SCIMException as exc:
            return self.refused(operation, exc)
        target = split_path(path)
        if target is None:
            where = "use /Users, /Groups, /Users/<id> or /Groups/<id>"
            return self.refused(operation, NotFoundException(detail=f"No bulk endpoint at this path: {where}"))
        endpoint, resource_id = target
        url = f"{self.base}/{endpoint}" + (f"/{resource_id}" if resource_id else "")
        headers = {"Content-Type": "application/scim+json"}
        if operation.version is not None:
            headers["If-Match"] = operation.version
        params = {"tenant": self.record.id, **({"id": resource_id} if resource_id else {})}
        single = Request.build(
            operation.method,
            url,
            route_params=params,
            headers=headers,
            body=b"" if operation.method == "DELETE" else json.dumps(data, ensure_ascii=False).encode("utf-8"),
        )
        route, operations = self.route(endpoint, item=resource_id is not None)
        response = self.api.dispatch(single, route, _RESOURCE_TYPES[endpoint], operations, authenticated=self.record)
        return self.result(operation, response.headers.get("Location"), response)

    def route(self, endpoint: str, *, item: bool) -> tuple[str, Mapping[str, Operation]]:
        """The route name and the operations a bulk job may run there: the writes of §3.7 only."""
        routes = self.api.user_routes if endpoint == "Users" else self.api.group_routes
        name = _ITEM_ROUTES[endpoint] if item else endpoint.lower()
        table = item_operations(routes) if item else collection_operations(routes)
        return name, {method: op for method, op in table.items() if method != "GET"}

    def referenced_id(self, index: int, reference: str) -> str:
        """The id `bulkId:<reference>` stands for, or the SCIM error that fails the operation referring to it."""
        if reference in self.created:
            return self.created[reference]
        creator = self.creators.get(reference)
        if creator is None:
            raise InvalidValueException(detail=f"'bulkId:{reference}' names no POST operation of this bulk request")
        if reference in self.failed:
            raise ConflictException(
                detail=f"'bulkId:{reference}' was not created: its POST (operation {creator + 1}) failed "
                f"with status {self.failed[reference]}"
            )
        if self.job.is_circular(index, reference):
            raise ConflictException(
                detail=f"'bulkId:{reference}' is part of a circular reference between operations (RFC 7644 "
                "§3.7.1), which this service does not resolve: create the resources first, then link them "
                "with a later PATCH"
            )
        raise ConflictException(
            detail=f"'bulkId:{reference}' is created by a later operation ({creator + 1}): operations run in "
            "the order sent, so put that POST first"
        )

    def refused(self, operation: BulkOperation, exc: SCIMException) -> dict[str, Any]:
        """The entry of an operation refused before its single request was sent."""
        return self.result(operation, None, error_response(exc))

    def addressed(self, operation: BulkOperation) -> str | None:
        """The URL of the resource an operation other than a POST names, its known references resolved; None
        for a POST (its location is the created resource's) or an operation without a path."""
        if operation.method == "POST" or operation.path is None:
            return None
        path = resolve(operation.path, lambda reference: self.created.get(reference, f"bulkId:{reference}"))
        return f"{self.base}/{path.strip('/')}"

    def result(self, operation: BulkOperation, location: str | None, response: Response) -> dict[str, Any]:
        """One entry of the BulkResponse (§3.7.3): status as a string, the error body for a failure, and a
        location for every operation but a failed POST."""
        entry: dict[str, Any] = {}
        location = location or self.addressed(operation)
        if location is not None and not (operation.method == "POST" and response.status >= 400):
            entry["location"] = location
        if operation.method is not None:
            entry["method"] = operation.method
        if operation.bulk_id is not None:
            entry["bulkId"] = operation.bulk_id
        version = response.headers.get("ETag")
        if version and response.status < 300:
            entry["version"] = version
        entry["status"] = str(response.status)
        if response.status >= 400:
            entry["response"] = json.loads(response.body)
        return entry
