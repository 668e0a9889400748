from collections.abc import Sequence

import pytest
from scim2_models import NotFoundException, UnauthorizedException

from scim.auth import authenticate, check_tenant


class RotatingSource:
    """A secret source whose cached copy is stale until refreshed, like a cache after a rotation."""

    def __init__(self, cached: Sequence[str], fresh: Sequence[str]) -> None:
        self.cached, self.fresh, self.refreshes = tuple(cached), tuple(fresh), 0

    def tenant_tokens(self, tenant: str, *, refresh: bool = False) -> Sequence[str]:
        if refresh:
            self.refreshes += 1
            return self.fresh
        return self.cached


def test_matching_bearer_token_is_accepted_without_refresh() -> None:
    source = RotatingSource(["good"], ["good"])
    authenticate("Bearer good", "acme", source)
    assert source.refreshes == 0


@pytest.mark.parametrize("header", ["bearer good", "BEARER good", "Bearer   good  "])
def test_scheme_is_case_insensitive_and_whitespace_tolerant(header: str) -> None:
    authenticate(header, "acme", RotatingSource(["good"], []))


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic Z29vZA==", "good"])
def test_missing_or_malformed_header_is_401(header: str | None) -> None:
    with pytest.raises(UnauthorizedException):
        authenticate(header, "acme", RotatingSource(["good"], ["good"]))


def test_wrong_token_is_401_after_one_refresh() -> None:
    source = RotatingSource(["good"], ["good"])
    with pytest.raises(UnauthorizedException):
        authenticate("Bearer bad", "acme", source)
    assert source.refreshes == 1


def test_rotated_token_is_accepted_after_refresh() -> None:
    source = RotatingSource(["old"], ["new", "old"])
    authenticate("Bearer new", "acme", source)
    assert source.refreshes == 1


def test_tenant_without_token_refuses_everything() -> None:
    with pytest.raises(UnauthorizedException):
        authenticate("Bearer anything", "ghost", RotatingSource([], []))


def test_token_prefix_is_not_enough() -> None:
    with pytest.raises(UnauthorizedException):
        authenticate("Bearer goo", "acme", RotatingSource(["good"], ["good"]))


@pytest.mark.parametrize("tenant", ["demo", "Contoso-1", "a" * 63])
def test_valid_tenant_names(tenant: str) -> None:
    assert check_tenant(tenant) == tenant


@pytest.mark.parametrize("tenant", ["", "-lead", "a" * 64, "a/b", "a#b", "a b", "ü"])
def test_invalid_tenant_names_are_404(tenant: str) -> None:
    with pytest.raises(NotFoundException):
        check_tenant(tenant)
