"""The Azure SDK's private parts the store patches, quarantined: nothing else in scim touches an SDK internal.

- batch.py      a transaction's ``$batch`` envelope written and read as bytes (TableClient._batch_send,
                azure.data.tables._error's decoders, the client's _primary_hostname and _client)
- transport.py  KeepAliveTransport (azure-core's HttpTransport on wire.py's pooled keep-alive sockets, its
                responses built on azure.core.rest._http_response_impl), and the jittered retry policy put in
                place of the SDK's private TablesRetryPolicy in the client's _policies list, the unused
                logging and tracing policies taken out of it
- wire.py       HTTP/1.1 on plain sockets (stdlib only): what KeepAliveTransport sends and reads

Each reaches into names the SDK does not promise to keep, so they are written for exactly the versions in
PATCHED_FOR (the versions requirements.txt pins); tests/integration/test_azure_patches.py fails loudly when
the installed SDK differs or a name the patches use is gone, before any patched call can misbehave.
"""

from scim.store.azure.batch import http_parts, lean_async_transactions, lean_transactions
from scim.store.azure.transport import KeepAliveTransport, RetryBudget, bounded_transport, install_retry_policy

PATCHED_FOR = {"azure-data-tables": "12.7.0", "azure-core": "1.41.0"}
"""The SDK versions the patches were written and tested against (requirements.txt pins the same)."""

__all__ = [
    "PATCHED_FOR",
    "KeepAliveTransport",
    "RetryBudget",
    "bounded_transport",
    "http_parts",
    "install_retry_policy",
    "lean_async_transactions",
    "lean_transactions",
]
