"""Issue 19, finding 4 and the scan item: startIndex past the end is an empty page that reads nothing, a sort keeps
keys not resources, and scans and pages are bounded by the size of their rows as well as their number."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from scim2_models import TooManyException

from scim.api.query import list_query, search_request
from scim.models import UserResource
from scim.protocol import search as search_module
from scim.protocol.search import PAGE_MAX_CHARS
from scim.resources.groups import GroupService
from scim.resources.users import UserService
from scim.store import SCAN_PAGE_CHARS, TableStorage

HUGE = "99999999999999999999999"  # islice answered ValueError, a 500


@pytest.fixture
def users(storage: TableStorage) -> UserService:
    groups = GroupService(storage.resources("Groups"), storage.resources("Users"))
    return UserService(storage.resources("Users"), memberships=groups.memberships)


def create(users: UserService, tenant: str, name: str, **extra: Any) -> str:
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, "emails": [{"value": name}]}
    return str(users.create(tenant, {**body, **extra}).id)


def names(users: UserService, tenant: str, **params: str) -> tuple[int, list[str]]:
    query = list_query(UserResource, params)
    start = int(params.get("startIndex", "1"))
    page = users.search(tenant, query, start, int(params.get("count", "100")))
    return page.total, [str(user.user_name) for user in page.resources]


@pytest.mark.parametrize("sort", [{}, {"sortBy": "userName"}, {"sortBy": "userName", "sortOrder": "descending"}])
def test_a_start_past_the_end_is_an_empty_page_that_reads_only_the_counter(
    users: UserService, storage: TableStorage, tenant: str, sort: dict[str, str]
) -> None:
    for n in range(3):
        create(users, tenant, f"u{n}@x.test")
    for start in ("4", "1000000000", HUGE):
        before = storage.round_trips.count
        assert names(users, tenant, startIndex=start, count="1000", **sort) == (3, [])
        assert storage.round_trips.count - before == 1


def test_a_huge_start_index_in_a_search_body_is_an_empty_page(users: UserService, tenant: str) -> None:
    create(users, tenant, "a@x.test")
    query = search_request(UserResource, {"startIndex": 10**19, "count": 10, "sortBy": "userName"})
    assert users.search(tenant, query, 10**19, 10).resources == []


def test_a_filtered_page_past_the_end_is_empty(users: UserService, tenant: str) -> None:
    create(users, tenant, "a@x.test", title="t")
    assert names(users, tenant, filter="title pr", startIndex=HUGE) == (1, [])


@pytest.mark.parametrize("filtered", [{}, {"filter": "title pr"}])
def test_sorted_pages_reach_at_most_the_documented_result(
    users: UserService, tenant: str, monkeypatch: pytest.MonkeyPatch, filtered: dict[str, str]
) -> None:
    monkeypatch.setattr(search_module, "MAX_SORTED_RESULTS", 3)  # 10,000 in production: the same code path
    for n in range(4):
        create(users, tenant, f"u{n}@x.test", title="t")
    assert names(users, tenant, sortBy="userName", startIndex="3", count="1", **filtered) == (4, ["u2@x.test"])
    with pytest.raises(TooManyException) as caught:
        names(users, tenant, sortBy="userName", startIndex="3", count="2", **filtered)
    assert caught.value.status == 400 and caught.value.scim_type == "tooMany"
    # Past the end is an empty page, not an error, however far.
    assert names(users, tenant, sortBy="userName", startIndex="5", count="9", **filtered) == (4, [])
    assert names(users, tenant, sortBy="userName", startIndex=HUGE, count="9", **filtered) == (4, [])


def test_sorted_pages_keep_their_order_with_long_values(users: UserService, tenant: str) -> None:
    stem = "x" * 300  # longer than the sort key (SORT_KEY_CHARS)
    for name in ("c", "a", "b"):
        create(users, tenant, f"{name}@x.test", displayName=stem + name, title=name)
    assert names(users, tenant, sortBy="title", startIndex="2", count="2") == (3, ["b@x.test", "c@x.test"])
    assert names(users, tenant, sortBy="userName", sortOrder="descending") == (3, ["c@x.test", "b@x.test", "a@x.test"])
    # Alike in their first 256 characters: both are there, in no order the sort promises.
    total, alike = names(users, tenant, sortBy="displayName", filter='title ne "b"')
    assert (total, sorted(alike)) == (2, ["a@x.test", "c@x.test"])


def test_scans_and_pages_of_large_rows_are_bounded_by_size(
    users: UserService, storage: TableStorage, tenant: str
) -> None:
    big = 300_000
    for n in range(20):
        create(users, tenant, f"big{n}-{uuid.uuid4().hex[:4]}@x.test", displayName="d" * big, title="t")
    table = storage.resources("Users")
    before = storage.round_trips.count
    assert sum(1 for _ in table.scan(tenant)) == 20
    # 100 rows a page before (one round trip, 6 MB here; 100 MB near the entity limit); now about 4 MB a page.
    assert storage.round_trips.count - before >= (20 * big) // SCAN_PAGE_CHARS
    # An unfiltered page, a filtered one and a sorted one all stop near PAGE_MAX_CHARS (itemsPerPage < count).
    limit = PAGE_MAX_CHARS // big + 1
    for params in ({}, {"filter": "title pr"}, {"sortBy": "userName"}):
        total, page = names(users, tenant, count="20", **params)
        assert total == 20 and 1 <= len(page) <= limit, params
    # Paging on from startIndex + itemsPerPage reaches every user once.
    seen: list[str] = []
    while len(seen) < 20:
        total, page = names(users, tenant, startIndex=str(len(seen) + 1), count="20")
        assert page
        seen += page
    assert len(set(seen)) == 20


def test_scans_of_small_rows_still_read_a_hundred_a_round_trip(
    users: UserService, storage: TableStorage, tenant: str
) -> None:
    for n in range(150):
        create(users, tenant, f"s{n}@x.test")
    before = storage.round_trips.count
    assert sum(1 for _ in storage.resources("Users").scan(tenant)) == 150
    assert storage.round_trips.count - before <= 4  # 10, then 100, then the rest
