"""The Azure Storage queue the platform reads provisioning changes from; the only importer of azure.storage.queue.

Messages are sent Base64-encoded, the encoding Azure Functions' queue trigger expects by default, so the
platform can consume them with a queue-triggered function as well as with the SDK. Requests fail fast
(no SDK retries, short timeouts): a message that is not sent now is sent later by the sweeper.
"""

from __future__ import annotations

import base64
import threading
from typing import Any

from azure.core.exceptions import AzureError, HttpResponseError, ResourceExistsError, ResourceNotFoundError

from scim.store.rows import RoundTripCounter

MAX_MESSAGE_BYTES = 64 * 1024
"""A queue message may be 64 KiB once encoded (Base64 makes 3 bytes 4)."""
CONNECT_SECONDS = 2.0
READ_SECONDS = 5.0


class QueueUnavailableError(Exception):
    """The queue could not be reached or refused the message; nothing was sent."""


def encoded_size(text: str) -> int:
    """The size of a message as the queue counts it: its UTF-8 bytes, Base64-encoded."""
    return len(base64.b64encode(text.encode("utf-8")))


class ChangeQueue:
    """One storage queue, created on first use where the identity may (locally); reused by the worker."""

    def __init__(
        self,
        name: str,
        *,
        connection_string: str | None = None,
        endpoint: str | None = None,
        credential: Any = None,
    ) -> None:
        self.round_trips = RoundTripCounter()
        if not (connection_string or endpoint):
            raise ValueError("ChangeQueue needs a connection string or an endpoint")
        self._where = (connection_string, endpoint, credential)
        self._queue_client: Any = None
        self.name = name
        self._ready = False
        self._lock = threading.Lock()
        self._client_lock = threading.Lock()  # apart from _lock, which _ensure holds while it uses the client

    @property
    def _client(self) -> Any:
        """The SDK client, built (and azure.storage.queue imported) on first use: reads never need it."""
        if self._queue_client is None:
            from azure.storage.queue import QueueClient, TextBase64EncodePolicy

            connection_string, endpoint, credential = self._where
            options: dict[str, Any] = {
                "message_encode_policy": TextBase64EncodePolicy(),
                "retry_total": 0,
                "connection_timeout": CONNECT_SECONDS,
                "read_timeout": READ_SECONDS,
                "raw_request_hook": self.round_trips,
            }
            if connection_string:
                client = QueueClient.from_connection_string(connection_string, self.name, **options)
            else:
                client = QueueClient(str(endpoint), self.name, credential=credential, **options)
            with self._client_lock:
                if self._queue_client is None:
                    self._queue_client = client
        return self._queue_client

    def _ensure(self) -> None:
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            try:
                self._client.create_queue()
            except ResourceExistsError:
                pass
            except HttpResponseError as exc:
                # In Azure the queue comes from the infrastructure, and Message Sender may not create queues.
                if exc.status_code != 403:
                    raise
            self._ready = True

    def send(self, text: str) -> None:
        """Add one message; QueueUnavailableError if it was not added (the caller leaves it to the sweeper)."""
        if encoded_size(text) > MAX_MESSAGE_BYTES:
            raise ValueError("message too large for a storage queue")
        try:
            self._ensure()
            self._client.send_message(text)
        except ResourceNotFoundError as exc:
            self._ready = False  # the queue was deleted (or Azurite restarted): create it next time
            raise QueueUnavailableError("the queue does not exist") from exc
        except AzureError as exc:
            raise QueueUnavailableError(type(exc).__name__) from exc

    def close(self) -> None:
        if self._queue_client is not None:
            self._queue_client.close()
