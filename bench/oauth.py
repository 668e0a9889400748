"""What checking an access token costs per SCIM request, in microseconds, with no network at all.

Run with `python -m bench.oauth` (part of `make bench`). Everything runs in process: the secret source is
the real CachedSecretSource over a local secret store (warm, as a worker is after its first request), the
tenant directory an in-memory stand-in. A store call per request would show up as a read count above zero.
Figures are medians of batches; on a loaded machine every row grows, so read them against the raw
signature-check rows measured in the same run.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from scim.auth import TenantAuthenticator
from scim.oauth.keys import SIGNING_KEY_SECRET, SigningKeys, new_signing_key
from scim.oauth.tokens import AccessTokens
from scim.platform.tenants import Tenant
from scim.secrets import CachedSecretSource, LocalSecretStore, secret_name

AUD = "https://scim.example.net/scim/v2"
T = "acme"
BATCH = 200
BATCHES = 15


class Directory:
    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant

    def lookup(self, tenant_id: str, *, refresh: bool = False) -> Tenant | None:
        return self.tenant if tenant_id == self.tenant.id else None


class CountingStore(LocalSecretStore):
    reads = 0

    def versions(self, name: str):  # type: ignore[no-untyped-def]
        CountingStore.reads += 1
        return super().versions(name)


def per_call_us(action: Callable[[], object]) -> float:
    action()
    samples = []
    for _ in range(BATCHES):
        started = time.perf_counter()
        for _ in range(BATCH):
            action()
        samples.append((time.perf_counter() - started) / BATCH * 1e6)
    return statistics.median(samples)


def raw_signature_checks() -> list[tuple[str, float]]:
    message = b"x" * 400
    rsa_key = rsa.generate_private_key(65537, 2048)
    rsa_sig = rsa_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    rsa_pub = rsa_key.public_key()
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_sig = ec_key.sign(message, ec.ECDSA(hashes.SHA256()))
    ec_pub = ec_key.public_key()
    return [
        (
            "raw RS256 signature check (cryptography)",
            per_call_us(lambda: rsa_pub.verify(rsa_sig, message, padding.PKCS1v15(), hashes.SHA256())),
        ),
        (
            "raw ES256 signature check (cryptography)",
            per_call_us(lambda: ec_pub.verify(ec_sig, message, ec.ECDSA(hashes.SHA256()))),
        ),
    ]


def main() -> None:
    with tempfile.TemporaryDirectory() as state:
        store = CountingStore(Path(state) / "secrets.json")
        store.add_version(SIGNING_KEY_SECRET, new_signing_key())
        secret_token = "s" * 43
        store.add_version(secret_name("acme"), secret_token)
        source = CachedSecretSource(store, min_refresh_seconds=30)
        tokens = AccessTokens(SigningKeys(source))
        tenant = Tenant("acme", "acme", datetime.now(UTC), True, None)
        auth = TenantAuthenticator(Directory(tenant), source, access_tokens=tokens)  # type: ignore[arg-type]
        access_token = tokens.issue("acme", AUD).access_token
        bearer_jwt, bearer_secret = f"Bearer {access_token}", f"Bearer {secret_token}"
        auth.authenticate(bearer_secret, "acme", audience=AUD)
        auth.authenticate(bearer_jwt, "acme", audience=AUD)
        reads_before = CountingStore.reads
        rows = [
            (
                "AccessTokens.verify (signature, exp, aud, tenant)",
                per_call_us(lambda: tokens.verify(access_token, T, AUD)),
            ),
            (
                "authenticate() with an access token",
                per_call_us(lambda: auth.authenticate(bearer_jwt, T, audience=AUD)),
            ),
            (
                "authenticate() with a Secret Token",
                per_call_us(lambda: auth.authenticate(bearer_secret, T, audience=AUD)),
            ),
            ("issue one access token (token endpoint's signing)", per_call_us(lambda: tokens.issue("acme", AUD))),
            *raw_signature_checks(),
        ]
        store_reads = CountingStore.reads - reads_before
    print(f"OAuth access-token cost per call, median of {BATCHES} batches of {BATCH} (token {len(access_token)} chars)")
    for name, micros in rows:
        print(f"  {name:<52} {micros:9.1f} us")
    print(f"  secret store reads during the timed calls: {store_reads}")


if __name__ == "__main__":
    main()
