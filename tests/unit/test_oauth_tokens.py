"""Access tokens: issued and verified locally, refused for every way of being wrong, keys rotated and
retired through the cached secret source, and failed client logins slowed down per client id."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from scim.api.oauth import request_source
from scim.http import Request
from scim.oauth.keys import SIGNING_KEY_SECRET, SigningKeys, new_signing_key, parse_signing_key
from scim.oauth.throttle import FailedClientLogins
from scim.oauth.tokens import AccessTokens
from scim.secrets import CachedSecretSource, LocalSecretStore

AUD = "https://scim.example.net/scim/v2"
KEY = new_signing_key()
OTHER_KEY = new_signing_key()


class Keys:
    """A secret source holding signing keys; counts refreshes (a refresh would be a store read)."""

    def __init__(self, *values: str) -> None:
        self.values = values
        self.refreshes = 0

    def secret_values(self, name: str, *, refresh: bool = False) -> tuple[str, ...]:
        assert name == SIGNING_KEY_SECRET
        self.refreshes += refresh
        return self.values

    def tenant_tokens(self, tenant: str, *, refresh: bool = False) -> tuple[str, ...]:
        return ()

    def typical_read_seconds(self) -> float:
        return 0.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def tokens(source: Keys, clock: Clock | None = None) -> AccessTokens:
    return AccessTokens(SigningKeys(source), clock=clock or Clock())  # type: ignore[arg-type]


def claims_of(token: str) -> dict[str, object]:
    return json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))  # type: ignore[no-any-return]


def test_a_token_verifies_for_its_tenant_and_audience_only() -> None:
    issuer = tokens(Keys(KEY))
    token = issuer.issue("acme", AUD).access_token
    assert issuer.verify(token, "acme", AUD)
    assert not issuer.verify(token, "other", AUD)
    assert not issuer.verify(token, "acme", "https://elsewhere.example/scim/v2")
    claims = claims_of(token)
    assert claims["tenant"] == "acme" and claims["aud"] == AUD
    assert claims["exp"] == claims["iat"] + 3600  # type: ignore[operator]


def test_verification_reads_no_store() -> None:
    source = Keys(KEY)
    issuer = tokens(source)
    token = issuer.issue("acme", AUD).access_token
    for _ in range(100):
        assert issuer.verify(token, "acme", AUD)
    assert source.refreshes == 0


def test_expiry_honours_the_leeway_and_a_future_iat_is_refused() -> None:
    clock = Clock()
    issuer = tokens(Keys(KEY), clock)
    token = issuer.issue("acme", AUD).access_token
    clock.now += 3600 + 29
    assert issuer.verify(token, "acme", AUD)
    clock.now += 2
    assert not issuer.verify(token, "acme", AUD)
    clock.now -= 3600 + 31 + 31  # the verifier's clock is 31 s behind the issuer's
    assert not issuer.verify(token, "acme", AUD)


def forge(claims: dict[str, object], key: object, header: dict[str, object]) -> str:
    return jwt.encode(header, claims, key, algorithms=[str(header["alg"])])  # type: ignore[arg-type]


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def test_forged_tokens_are_refused() -> None:
    issuer = tokens(Keys(KEY))
    good = issuer.issue("acme", AUD).access_token
    claims = claims_of(good)
    ours = parse_signing_key(KEY)
    stranger = parse_signing_key(OTHER_KEY)
    assert ours and stranger
    public = ours.key.as_dict(private=False)
    forged = {
        "other key, our kid": forge(claims, stranger.key, {"alg": "RS256", "kid": ours.kid, "typ": "at+jwt"}),
        "alg none": f"{b64({'alg': 'none', 'kid': ours.kid})}.{b64(claims)}.",
        # HS256 keyed with our public key's text: the classic algorithm confusion.
        "hs256 with the public key": forge(
            claims, OctKey.import_key(json.dumps(public).encode()), {"alg": "HS256", "kid": ours.kid}
        ),
        "signature of another token": ".".join(
            [*good.split(".")[:2], issuer.issue("x", AUD).access_token.split(".")[2]]
        ),
        "no kid": forge(claims, ours.key, {"alg": "RS256", "typ": "at+jwt"}),
        "typ JWT, not an access token": forge(claims, ours.key, {"alg": "RS256", "kid": ours.kid, "typ": "JWT"}),
        "no jti": forge(
            {k: v for k, v in claims.items() if k != "jti"},
            ours.key,
            {"alg": "RS256", "kid": ours.kid, "typ": "at+jwt"},
        ),
        "aud list without ours": forge(
            {**claims, "aud": ["x"]}, ours.key, {"alg": "RS256", "kid": ours.kid, "typ": "at+jwt"}
        ),
        # The claims registry accepts a list that contains the value; a tenant is one string.
        "tenant claim an array": forge(
            {**claims, "tenant": ["acme", "other"]}, ours.key, {"alg": "RS256", "kid": ours.kid, "typ": "at+jwt"}
        ),
        "iat not a number": forge(
            {**claims, "iat": str(claims["iat"])}, ours.key, {"alg": "RS256", "kid": ours.kid, "typ": "at+jwt"}
        ),
        "two dots of garbage": "e30.e30.",
        "not base64 header": "%%%.e30.sig",
        "header not an object": f"{b64([])}.e30.sig",  # type: ignore[arg-type]
        "too long": "a" * 3000 + ".b.c",
    }
    for name, token in forged.items():
        assert not issuer.verify(token, "acme", AUD), name
    assert issuer.verify(forge(claims, ours.key, {"alg": "RS256", "kid": ours.kid, "typ": "at+jwt"}), "acme", AUD)


def test_an_unknown_kid_rereads_the_keys_once_then_refuses() -> None:
    source = Keys(KEY)
    issuer = tokens(source)
    stranger = parse_signing_key(OTHER_KEY)
    assert stranger
    token = forge(
        claims_of(issuer.issue("acme", AUD).access_token),
        stranger.key,
        {"alg": "RS256", "kid": stranger.kid, "typ": "at+jwt"},
    )
    assert not issuer.verify(token, "acme", AUD)
    assert source.refreshes == 1


def test_rotation_keeps_old_tokens_valid_until_the_old_key_is_retired(tmp_path: Path) -> None:
    store = LocalSecretStore(tmp_path / "secrets.json")
    ticks = [0.0]
    wall = [datetime(2026, 11, 28, tzinfo=UTC)]
    source = CachedSecretSource(
        store, ttl_seconds=300, min_refresh_seconds=1, clock=lambda: ticks[0], wall_clock=lambda: wall[0]
    )
    clock = Clock()
    issuer = AccessTokens(SigningKeys(source), clock=clock)
    store.add_version(SIGNING_KEY_SECRET, KEY)
    old_token = issuer.issue("acme", AUD).access_token
    # Rotate: a new key signs (once this worker reads it), the old one still verifies.
    wall[0] += timedelta(seconds=5)
    store.add_version(SIGNING_KEY_SECRET, OTHER_KEY)
    ticks[0] += 301
    new_token = issuer.issue("acme", AUD).access_token
    assert (
        json.loads(base64.urlsafe_b64decode(new_token.split(".")[0] + "=="))["kid"]
        != json.loads(base64.urlsafe_b64decode(old_token.split(".")[0] + "=="))["kid"]
    )
    assert issuer.verify(old_token, "acme", AUD) and issuer.verify(new_token, "acme", AUD)
    # Retire the old key: once the cache has read the store again, its tokens are refused.
    versions = sorted(store.versions(SIGNING_KEY_SECRET), key=lambda v: v.created_on or wall[0])
    store.set_enabled(SIGNING_KEY_SECRET, versions[0].version, False)
    ticks[0] += 301
    assert not issuer.verify(old_token, "acme", AUD)
    assert issuer.verify(new_token, "acme", AUD)


def test_a_secret_that_is_not_a_private_rsa_jwk_is_never_used() -> None:
    public_only = json.dumps(RSAKey.generate_key(2048, private=True).as_dict(private=False))
    for value in ("not json", "[]", '{"kty": "oct", "k": "abc"}', public_only):
        assert parse_signing_key(value) is None
    assert tokens(Keys("not json", KEY)).issue("acme", AUD).access_token


def test_failed_logins_slow_down_one_client_id_and_source() -> None:
    now = [0.0]
    limits = FailedClientLogins(free=3, base_delay=1, max_delay=8, clock=lambda: now[0])
    # The first failures, and the first one past `free`, are plain failures: the pair was open.
    assert [limits.failed("acme", "198.51.100.7") for _ in range(4)] == [0, 0, 0, 0]
    assert limits.retry_after("acme", "198.51.100.7") == 1
    # Failures that come while the pair is closed are told to wait, longer each time.
    assert [limits.failed("acme", "198.51.100.7") for _ in range(5)] == [2, 4, 8, 8, 8]
    assert limits.retry_after("acme", "203.0.113.9") == 0  # another source of the same id is not slowed
    assert limits.retry_after("other", "198.51.100.7") == 0
    now[0] += 8
    assert limits.retry_after("acme", "198.51.100.7") == 0


def test_failures_are_forgotten_after_the_window_and_the_limiter_is_bounded() -> None:
    now = [0.0]
    limits = FailedClientLogins(free=1, window=60, max_entries=2, clock=lambda: now[0])
    limits.failed("a")
    now[0] += 61
    limits.failed("a")
    assert limits.retry_after("a") == 0  # the first failure fell out of the window
    limits.failed("a")
    assert limits.retry_after("a") == 1
    limits.failed("b")
    limits.failed("c")
    assert limits.retry_after("a") == 0  # evicted: at most two pairs remembered


@pytest.mark.parametrize("lifetime", [60, 3600])
def test_expires_in_is_the_configured_lifetime(lifetime: int) -> None:
    issuer = AccessTokens(SigningKeys(Keys(KEY)), lifetime_seconds=lifetime, clock=Clock())  # type: ignore[arg-type]
    issued = issuer.issue("acme", AUD)
    assert issued.expires_in == lifetime
    assert claims_of(issued.access_token)["exp"] == 1_800_000_000 + lifetime


@pytest.mark.parametrize(
    ("forwarded", "source"),
    [
        (None, ""),
        ("198.51.100.7", "198.51.100.7"),
        ("198.51.100.7:50312", "198.51.100.7"),
        ("10.9.9.9, 203.0.113.5:443", "203.0.113.5"),  # the first entry is the caller's to forge
        ("[2001:db8::1]:8443", "2001:db8::1"),
        ("2001:db8::1", "2001:db8::1"),
    ],
)
def test_the_source_of_a_token_request_is_what_the_nearest_proxy_saw(forwarded: str | None, source: str) -> None:
    headers = {"x-forwarded-for": forwarded} if forwarded else {}
    assert request_source(Request.build("POST", "https://scim.example.net/oauth2/token", headers=headers)) == source
