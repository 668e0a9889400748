"""Entity-group transactions without the SDK's generic multipart machinery: the same requests, written and read
as plain bytes.

azure-data-tables builds a transaction's operations as ordinary HTTP requests (entity serialization, keys,
If-Match), then hands them to azure-core's multipart support, which renders them through the `email` package,
starts two thread pools per call, and parses the answer through `email` again. On a SCIM write that was about
a third of the process's CPU (bench/profile.py). This module keeps the SDK's requests, its pipeline (signing,
retries, hooks) and its error decoding, and replaces only the envelope: the body is written directly in the
layout the Table service documents for `$batch`, and the answer is split at its boundaries.

`lean_transactions(client)` installs it on one TableClient; `submit_transaction` is then used as before.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from email.utils import formatdate
from types import MethodType
from typing import Any

from azure.core.rest import HttpRequest
from azure.core.utils import CaseInsensitiveDict
from azure.data.tables import TableClient, TableTransactionError
from azure.data.tables import _error as _sdk_errors
from azure.data.tables._error import RequestTooLargeError

# The SDK's own error decoding (untyped), so an error answer becomes exactly the exception the SDK raises.
_decode_error: Any = _sdk_errors._decode_error
_validate_tablename_error: Any = _sdk_errors._validate_tablename_error

_CRLF = b"\r\n"


class _PartResponse:
    """One operation's answer inside a batch answer: what the SDK's error decoding reads of a response."""

    def __init__(self, status_code: int, reason: str, headers: Mapping[str, str], body: bytes, request: Any) -> None:
        self.status_code = status_code
        self.reason = reason
        self.headers = CaseInsensitiveDict(headers)
        self.content = body
        self.request = request

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")

    def body(self) -> bytes:
        return self.content

    def text(self, encoding: str | None = None) -> str:
        return self.content.decode(encoding or "utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


def _split_head(block: bytes) -> tuple[list[bytes], bytes]:
    head, _, rest = block.partition(_CRLF + _CRLF)
    return head.split(_CRLF), rest


def _headers(lines: list[bytes]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.decode("latin-1").partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    return headers


def _boundary(content_type: str) -> str:
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.strip().partition("=")
        if name.lower() == "boundary":
            return value.strip('"')
    raise ValueError(f"no boundary in {content_type!r}")


def http_parts(body: bytes, content_type: str) -> list[tuple[int, str, dict[str, str], bytes]]:
    """(status, reason, headers, body) of each application/http part, nested changesets flattened, in order."""
    delimiter = b"--" + _boundary(content_type).encode("latin-1")
    found: list[tuple[int, str, dict[str, str], bytes]] = []
    for segment in body.split(delimiter)[1:]:
        if segment.startswith(b"--"):
            break  # the closing delimiter
        lines, content = _split_head(segment.removeprefix(_CRLF))
        content = content.removesuffix(_CRLF)
        headers = _headers(lines)
        kind = headers.get("content-type", "")
        if kind.lower().startswith("multipart/mixed"):
            found += http_parts(content, kind)
        elif kind.lower().startswith("application/http"):
            http_lines, http_body = _split_head(content)
            _version, _, status_reason = http_lines[0].decode("latin-1").partition(" ")
            status, _, reason = status_reason.partition(" ")
            found.append((int(status), reason, _headers(http_lines[1:]), http_body))
    return found


_BATCH = f"batch_{uuid.uuid4()}"
_CHANGESET = f"changeset_{uuid.uuid4()}"
"""Boundaries chosen once per process: they only have to be absent from the content (no stored text holds a
random UUID we have not sent), and a fixed one lets http.client's header parser reuse its compiled pattern for
the answer's boundary (batchresponse_<ours>) instead of compiling a new one on every transaction."""


def _envelope(reqs: tuple[HttpRequest, ...]) -> tuple[str, bytes]:
    """The $batch body: one changeset holding every operation, as the Table service documents it."""
    batch, changeset = _BATCH, _CHANGESET
    now = formatdate(time.time(), usegmt=True)
    out = [f"--{batch}\r\nContent-Type: multipart/mixed; boundary={changeset}\r\n\r\n".encode()]
    for n, req in enumerate(reqs):
        lines = [
            f"--{changeset}",
            "Content-Type: application/http",
            "Content-Transfer-Encoding: binary",
            f"Content-ID: {n}",
            "",
            f"{req.method} {req.url} HTTP/1.1",
        ]
        headers = {**req.headers, "x-ms-date": now, "Date": now}  # what the SDK's StorageHeadersPolicy adds
        lines += [f"{name}: {value}" for name, value in headers.items()]
        out.append(("\r\n".join(lines) + "\r\n\r\n").encode("utf-8"))
        out.append(req.content if isinstance(req.content, bytes) else str(req.content or "").encode("utf-8"))
        out.append(_CRLF)
    out.append(f"--{changeset}--\r\n\r\n--{batch}--\r\n".encode())
    return batch, b"".join(out)


def batch_request(client: TableClient, boundary: str, body: bytes) -> HttpRequest:
    """The $batch request of a client's table service, the headers as the SDK sends them."""
    return HttpRequest(
        method="POST",
        url=f"{client.scheme}://{client._primary_hostname}/$batch",
        headers={
            "x-ms-version": client.api_version,
            "DataServiceVersion": "3.0",
            "MaxDataServiceVersion": "3.0;NetFx",
            "Content-Type": f"multipart/mixed; boundary={boundary}",
            "Accept": "application/json",
        },
        content=body,
    )


def answers(body: bytes, content_type: str, request: HttpRequest, table_name: str) -> list[dict[str, Any]]:
    """Each operation's metadata (its ETag) from a 202 answer, or the SDK's exception for the failed operation."""
    parts = http_parts(body, content_type)
    for status, reason, headers, part_body in parts:
        if not 200 <= status < 300:
            part = _PartResponse(status, reason, headers, part_body, request)
            if status == 413:
                raise _decode_error(
                    part, error_message="The transaction request was too large", error_type=RequestTooLargeError
                )
            decoded = _decode_error(response=part, error_type=TableTransactionError)
            _validate_tablename_error(decoded, table_name)
            raise decoded
    return [{"etag": headers["etag"]} if "etag" in headers else {} for _status, _reason, headers, _body in parts]


def _batch_send(self: TableClient, table_name: str, *reqs: HttpRequest, **kwargs: Any) -> list[dict[str, Any]]:
    """TablesBaseClient._batch_send with the envelope written and read here (same answers, same errors)."""
    request = batch_request(self, *_envelope(reqs))
    response = self._client.send_request(request, stream=True, **kwargs)
    if response.status_code == 413:
        raise _decode_error(
            response, error_message="The transaction request was too large", error_type=RequestTooLargeError
        )
    if response.status_code != 202:
        decoded = _decode_error(response)
        _validate_tablename_error(decoded, table_name)
        raise decoded
    return answers(response.read(), response.headers.get("content-type", ""), request, table_name)


def lean_transactions(client: TableClient) -> TableClient:
    """The client, its submit_transaction now sending through this module's envelope."""
    client._batch_send = MethodType(_batch_send, client)  # type: ignore[method-assign]
    return client


async def _batch_send_async(self: Any, table_name: str, *reqs: HttpRequest, **kwargs: Any) -> list[dict[str, Any]]:
    """The same envelope on the aio TableClient (bench.concurrency compares it with the sync path)."""
    request = batch_request(self, *_envelope(reqs))
    response = await self._client.send_request(request, stream=True, **kwargs)
    if response.status_code != 202:
        raise _decode_error(response)
    return answers(await response.read(), response.headers.get("content-type", ""), request, table_name)


def lean_async_transactions(client: Any) -> Any:
    """An aio TableClient, its submit_transaction now sending through this module's envelope."""
    client._batch_send = MethodType(_batch_send_async, client)
    return client
