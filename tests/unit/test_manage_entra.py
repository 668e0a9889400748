"""The management API's token check against a local issuer over verified HTTPS: what Entra issues is accepted,
forged, expired, foreign, unknown-key and alg-confused tokens are refused, rotated keys are picked up with a
bounded number of fetches, and an issuer whose certificate we do not trust is never read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scim.manage.entra import (
    EntraTokenVerifier,
    IssuerKeys,
    IssuerUnavailableError,
    TokenRefusedError,
    https_fetcher,
)
from tests.manage_issuer import AUDIENCE, PLATFORM_APP, READ, WRITE, LocalIssuer, SigningKey


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalIssuer]:
    local = LocalIssuer(tmp_path_factory.mktemp("issuer"))
    yield local
    local.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def keys(issuer: LocalIssuer, clock: Clock) -> IssuerKeys:
    issuer.published = [issuer.key]
    return IssuerKeys(issuer.issuer, https_fetcher(issuer.ca_bundle), min_refetch_seconds=60, clock=clock)


@pytest.fixture
def verifier(keys: IssuerKeys) -> EntraTokenVerifier:
    return EntraTokenVerifier(keys, [AUDIENCE, "b5c9e1d0-0000-0000-0000-00000000abcd"], leeway_seconds=30)


def test_a_token_as_entra_issues_it_names_the_calling_app_and_its_roles(
    issuer: LocalIssuer, verifier: EntraTokenVerifier
) -> None:
    caller = verifier.verify(issuer.token(roles=[READ, WRITE]))
    assert caller.app_id == PLATFORM_APP
    assert caller.roles == {READ, WRITE}
    # v1 tokens (a managed identity of an API that did not ask for v2) name the app in appid.
    v1 = verifier.verify(issuer.token(azp=None, appid="22222222-0000-0000-0000-000000000000"))
    assert v1.app_id == "22222222-0000-0000-0000-000000000000"


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda i: i.forged(), "signature"),
        (lambda i: i.token(exp=1_000_000, iat=999_000, nbf=999_000), "expired"),
        (lambda i: i.token(aud="api://someone-else"), "audience"),
        (lambda i: i.token(iss="https://login.microsoftonline.com/other/v2.0"), "issuer"),
        (lambda i: i.token(key=SigningKey()), "does not publish"),
        (lambda i: i.alg_none(), "RS256"),
        (lambda i: i.hs256_with_public_key(), "RS256"),
        (lambda i: i.token(azp=None), "calling application"),
        (lambda i: i.token(exp=None), "not valid"),
        (lambda i: "not-a-jwt", "not a JWT"),
        (lambda i: i.token(nbf=2_000_000_000), "not valid"),
    ],
    ids=[
        "forged",
        "expired",
        "wrong-audience",
        "wrong-issuer",
        "unknown-key",
        "alg-none",
        "hs256-public-key",
        "no-app",
        "no-exp",
        "garbage",
        "not-yet-valid",
    ],
)
def test_tokens_we_must_not_accept_are_refused(issuer: LocalIssuer, verifier: EntraTokenVerifier, make, says) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TokenRefusedError, match=says):
        verifier.verify(make(issuer))


def test_a_rotated_key_is_picked_up_and_unknown_kids_cost_one_fetch_a_minute(
    issuer: LocalIssuer, keys: IssuerKeys, verifier: EntraTokenVerifier, clock: Clock
) -> None:
    verifier.verify(issuer.token())
    first = keys.fetches
    assert first == 2  # the OpenID configuration and the key set
    # A flood of tokens naming keys the issuer does not publish: one refetch, not one per token.
    clock.now += 61
    for _ in range(20):
        with pytest.raises(TokenRefusedError):
            verifier.verify(issuer.token(key=SigningKey()))
    assert keys.fetches == first + 1
    # Entra rolls its keys: a token signed by the new key is accepted at the next allowed refetch.
    new = SigningKey()
    issuer.published = [issuer.key, new]
    with pytest.raises(TokenRefusedError):
        verifier.verify(issuer.token(key=new))  # within the minute: no fetch allowed yet
    clock.now += 61
    assert verifier.verify(issuer.token(key=new)).app_id == PLATFORM_APP
    assert keys.fetches == first + 2  # the key set again; the configuration is cached for a day


def test_cached_keys_stay_in_use_while_the_issuer_is_down(issuer: LocalIssuer, clock: Clock, tmp_path: Path) -> None:
    calls = {"n": 0}
    fetch = https_fetcher(issuer.ca_bundle)

    def flaky(url: str) -> dict[str, object]:
        calls["n"] += 1
        if calls["n"] > 2:
            raise IssuerUnavailableError("down")
        return fetch(url)

    issuer.published = [issuer.key]
    keys = IssuerKeys(issuer.issuer, flaky, clock=clock)
    verifier = EntraTokenVerifier(keys, [AUDIENCE])
    verifier.verify(issuer.token())
    clock.now += 7200  # the key set is old: a refetch fails, the cached key still verifies
    assert verifier.verify(issuer.token()).app_id == PLATFORM_APP


def test_an_issuer_whose_certificate_is_not_trusted_is_never_read(issuer: LocalIssuer, clock: Clock) -> None:
    keys = IssuerKeys(issuer.issuer, https_fetcher(None), clock=clock)  # the system's trust store only
    with pytest.raises(IssuerUnavailableError, match=r"SSL|CERTIFICATE|URLError"):
        EntraTokenVerifier(keys, [AUDIENCE]).verify(issuer.token())


def test_an_issuer_that_names_another_issuer_in_its_configuration_is_refused(issuer: LocalIssuer, clock: Clock) -> None:
    keys = IssuerKeys(issuer.issuer + "x", https_fetcher(issuer.ca_bundle), clock=clock)
    with pytest.raises(IssuerUnavailableError):
        EntraTokenVerifier(keys, [AUDIENCE]).verify(issuer.token())
