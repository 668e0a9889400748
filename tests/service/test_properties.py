"""Property-based tests (hypothesis) on the in-memory store: filters and PATCH checked against a plain reference
model, and any valid user or group stored and read back equal."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scim.protocol.names import identity_key
from scim.store import MemoryStorage, TableStorage
from tests.entra_cycle import GROUP, PATCH, USER, Client, in_process_api

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
WORDS = ["alpha", "Beta", "GAMMA", "delta", "Ελλάδα", "straße"]


@pytest.fixture(scope="module")
def storage_module() -> Iterator[TableStorage]:
    store = MemoryStorage(table_prefix="props")
    yield store
    store.close()


def new_client(storage: TableStorage) -> Client:
    return Client(in_process_api(storage), f"t-{uuid.uuid4().hex[:16]}")


# -- filters --------------------------------------------------------------------------------------

PEOPLE = [
    {
        "userName": f"{WORDS[n % 6]}{n}@x.test",
        "externalId": f"{WORDS[(n * 5) % 6]}-{n % 4}",
        "active": n % 3 != 0,
        **({"title": f"{WORDS[(n * 7) % 6]} lead"} if n % 2 else {}),
    }
    for n in range(12)
]


@pytest.fixture(scope="module")
def people(storage_module: TableStorage) -> tuple[Client, dict[str, dict[str, Any]]]:
    client = new_client(storage_module)
    stored = {}
    for person in PEOPLE:
        status, body = client.call(
            "users_collection", "POST", body={"schemas": [USER], **person, "emails": [{"value": person["userName"]}]}
        )
        assert status == 201, body
        stored[body["id"]] = person
    return client, stored


CASE_EXACT = {"userName": False, "externalId": True, "title": False}


def reference(node: tuple[Any, ...], person: dict[str, Any]) -> bool:
    """A plain evaluator of RFC 7644 §3.4.2.2 for the filters generated below."""
    kind = node[0]
    if kind == "and":
        return reference(node[1], person) and reference(node[2], person)
    if kind == "or":
        return reference(node[1], person) or reference(node[2], person)
    if kind == "not":
        return not reference(node[1], person)
    _, attr, op, value = node
    have = person.get(attr)
    if op == "pr":
        return have is not None
    if attr == "active":
        return have == value if op == "eq" else have != value
    if have is None:
        return False
    if attr == "userName":  # userName compares by its identity key (scim.protocol.names.comparison_key)
        a, b = identity_key(have), identity_key(value)
    else:
        a, b = (have, value) if CASE_EXACT[attr] else (have.lower(), value.lower())
    return {"eq": a == b, "ne": a != b, "co": b in a, "sw": a.startswith(b), "ew": a.endswith(b)}[op]


def render(node: tuple[Any, ...]) -> str:
    kind = node[0]
    if kind in ("and", "or"):
        return f"({render(node[1])} {kind} {render(node[2])})"
    if kind == "not":
        return f"not ({render(node[1])})"
    _, attr, op, value = node
    if op == "pr":
        return f"{attr} pr"
    if isinstance(value, bool):
        return f"{attr} {op} {str(value).lower()}"
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'{attr} {op} "{escaped}"'


def _values(attr: str) -> st.SearchStrategy[str]:
    whole = [p[attr] for p in PEOPLE if attr in p]
    pieces = [v[i:j] for v in whole for i, j in ((0, 3), (1, 5), (-4, None))]
    return st.sampled_from(whole + pieces + ["nobody"]).map(lambda v: v.upper() if len(v) % 2 else v)


# "ne" on title (absent for half the users) is left out: RFC 7644 leaves an absent attribute's "ne" open.
OPERATORS = {
    "userName": ["eq", "ne", "co", "sw", "ew"],
    "externalId": ["eq", "ne", "co", "sw", "ew"],
    "title": ["eq", "co", "sw", "ew"],
}
leaf = st.one_of(
    st.sampled_from([(attr, op) for attr, ops in OPERATORS.items() for op in ops]).flatmap(
        lambda pair: st.tuples(st.just("cmp"), st.just(pair[0]), st.just(pair[1]), _values(pair[0]))
    ),
    st.tuples(st.just("cmp"), st.just("title"), st.just("pr"), st.just("")),
    st.tuples(st.just("cmp"), st.just("active"), st.sampled_from(["eq", "ne"]), st.booleans()),
)
filters = st.recursive(
    leaf,
    lambda inner: st.one_of(st.tuples(st.sampled_from(["and", "or"]), inner, inner), st.tuples(st.just("not"), inner)),
    max_leaves=4,
)


@SETTINGS
@given(node=filters)
def test_filters_select_what_the_reference_model_selects(
    people: tuple[Client, dict[str, dict[str, Any]]], node: tuple[Any, ...]
) -> None:
    client, stored = people
    status, body = client.call("users_collection", "GET", query={"filter": render(node), "count": "100"})
    assert status == 200, (render(node), body)
    got = {r["id"] for r in body["Resources"]}
    assert got == {rid for rid, person in stored.items() if reference(node, person)}, render(node)


# -- PATCH ----------------------------------------------------------------------------------------

SIMPLE = ["title", "displayName", "nickName", "externalId", "name.givenName", "name.familyName", "locale"]
text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20).filter(str.strip)
# A group's displayName must not be blank under the name key (only spaces or invisible characters such as U+00AD).
group_name = text.filter(identity_key)
operation = st.one_of(
    st.tuples(st.sampled_from(["replace", "add"]), st.sampled_from(SIMPLE), text),
    st.tuples(st.just("remove"), st.sampled_from(SIMPLE), st.none()),
    st.tuples(st.just("replace"), st.just("active"), st.booleans()),
)


def read_attr(document: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        document = document.get(part) if isinstance(document, dict) else None  # type: ignore[assignment]
    return document


@SETTINGS
@given(ops=st.lists(operation, min_size=1, max_size=6))
def test_patch_applies_like_the_reference_model(storage_module: TableStorage, ops: list[Any]) -> None:
    client = new_client(storage_module)
    status, created = client.call(
        "users_collection",
        "POST",
        body={
            "schemas": [USER],
            "userName": "p@x.test",
            "emails": [{"value": "p@x.test"}],
            "title": "t0",
            "active": True,
        },
    )
    assert status == 201
    model: dict[str, Any] = {"title": "t0", "active": True}
    operations = []
    for op, path, value in ops:
        operations.append({"op": op, "path": path, **({"value": value} if op != "remove" else {})})
        if op == "remove":
            model.pop(path, None)
        else:
            model[path] = value
    status, body = client.call("user_item", "PATCH", created["id"], {"schemas": [PATCH], "Operations": operations})
    assert status in (200, 204), body
    status, user = client.call("user_item", "GET", created["id"])
    assert status == 200
    for path in [*SIMPLE, "active"]:
        expected = model.get(path, True if path == "active" else None)
        assert read_attr(user, path) == expected, (path, operations)


# -- storage round trips --------------------------------------------------------------------------

email = st.builds(
    lambda local, kind: {"value": f"{local}@x.test", "type": kind},
    st.text("abcdefghijklmnopqrstuvwxyz0123456789.-_", min_size=1, max_size=20),
    st.sampled_from(["work", "home", "other"]),
)
emails = st.lists(email, min_size=1, max_size=4).map(lambda found: [{**found[0], "primary": True}, *found[1:]])
users = st.fixed_dictionaries(
    {"userName": text, "emails": emails},
    optional={
        "displayName": text,
        "title": text,
        "active": st.booleans(),
        "externalId": text,
        "name": st.fixed_dictionaries({"givenName": text}, optional={"familyName": text, "formatted": text}),
        "phoneNumbers": st.lists(
            st.fixed_dictionaries({"value": st.from_regex(r"\+[0-9]{6,12}", fullmatch=True), "type": st.just("work")}),
            min_size=1,
            max_size=3,
        ),
    },
)


def subset(sent: Any, got: Any) -> bool:
    """Everything sent came back unchanged (the server adds id, meta and defaults)."""
    if isinstance(sent, dict):
        return isinstance(got, dict) and all(subset(v, got.get(k)) for k, v in sent.items())
    if isinstance(sent, list):
        return isinstance(got, list) and len(sent) == len(got) and all(map(subset, sent, got))
    return bool(sent == got)


@SETTINGS
@given(user=users)
def test_any_valid_user_stored_reads_back_equal(storage_module: TableStorage, user: dict[str, Any]) -> None:
    client = new_client(storage_module)
    status, created = client.call("users_collection", "POST", body={"schemas": [USER], **user})
    assert status == 201, created
    status, read = client.call("user_item", "GET", created["id"])
    assert status == 200
    assert subset(user, read), (user, read)
    assert read == created | {"meta": read["meta"]}


@SETTINGS
@given(name=group_name, members=st.integers(min_value=0, max_value=3), external=st.none() | text)
def test_any_valid_group_stored_reads_back_equal(
    storage_module: TableStorage, name: str, members: int, external: str | None
) -> None:
    client = new_client(storage_module)
    ids = []
    for n in range(members):
        status, user = client.call(
            "users_collection", "POST", body={"schemas": [USER], "userName": f"m{n}", "emails": [{"value": "m@x.test"}]}
        )
        ids.append(user["id"])
    group = {"schemas": [GROUP], "displayName": name, "members": [{"value": i} for i in ids]}
    if external is not None:
        group["externalId"] = external
    status, created = client.call("groups_collection", "POST", body=group)
    assert status == 201, created
    status, read = client.call("group_item", "GET", created["id"])
    assert status == 200
    assert read["displayName"] == name and read.get("externalId") == external
    assert sorted(m["value"] for m in read.get("members") or []) == sorted(ids)
