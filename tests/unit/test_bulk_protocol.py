"""The pure side of POST /Bulk (scim.protocol.bulk): paths, references and the reference graph."""

from __future__ import annotations

from typing import Any

import pytest
from scim2_models import InvalidSyntaxException

from scim.protocol.bulk import BULK_REQUEST, parse_bulk_request, resolve, split_path
from tests.unit.linear import assert_linear

IDS = {"alice": "a" * 32, "team": "b" * 32}


def job(*operations: dict[str, Any], max_operations: int = 1000) -> Any:
    return parse_bulk_request({"schemas": [BULK_REQUEST], "Operations": list(operations)}, max_operations)


def post(bulk_id: str, *references: str) -> dict[str, Any]:
    members = [{"value": f"bulkId:{r}"} for r in references]
    return {"method": "POST", "path": "/Groups", "bulkId": bulk_id, "data": {"members": members}}


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("/Users", ("Users", None)),
        ("Groups", ("Groups", None)),
        ("/users/", ("Users", None)),
        ("/Groups/" + "b" * 32, ("Groups", "b" * 32)),
        ("/Schemas", None),
        ("/Users/x/y", None),
        ("https://example.com/v2/Users", None),
        ("/Users?attributes=id", None),
    ],
)
def test_split_path(path: str, target: tuple[str, str | None] | None) -> None:
    assert split_path(path) == target


def test_references_are_replaced_wherever_the_rfc_puts_them() -> None:
    data = {
        "members": [{"value": "bulkId:alice", "$ref": "https://x/scim/v2/t/Users/bulkId:alice"}],
        "Operations": [{"op": "remove", "path": 'members[value eq "bulkId:alice"]'}],
        "userName": "bulkId:",  # the prefix alone names nothing
        "displayName": "Alice's bulkId:alice notes",  # inside text, unquoted: not a reference
    }
    assert resolve(data, IDS.__getitem__) == {
        "members": [{"value": IDS["alice"], "$ref": f"https://x/scim/v2/t/Users/{IDS['alice']}"}],
        "Operations": [{"op": "remove", "path": f'members[value eq "{IDS["alice"]}"]'}],
        "userName": "bulkId:",
        "displayName": "Alice's bulkId:alice notes",
    }
    assert resolve("/Groups/bulkId:team", IDS.__getitem__) == "/Groups/" + IDS["team"]
    parsed = job({"method": "PATCH", "path": "/Groups/bulkId:team", "data": data}).operations[0]
    assert parsed.references == ("team", "alice")


def test_circular_references_are_found_and_only_them() -> None:
    parsed = job(
        post("a", "b"),  # a -> b -> c -> a: a cycle
        post("b", "c"),
        post("c", "a"),
        post("d", "a"),  # d refers into the cycle but is not on it
        post("e", "e"),  # refers to itself
        post("f", "g"),  # a forward reference, no cycle
        post("g"),
    )
    assert [parsed.is_circular(0, "b"), parsed.is_circular(1, "c"), parsed.is_circular(2, "a")] == [True] * 3
    assert not parsed.is_circular(3, "a")
    assert parsed.is_circular(4, "e")
    assert not parsed.is_circular(5, "g")
    assert not parsed.is_circular(0, "nobody")


def test_the_reference_graph_costs_linear_time() -> None:
    """A chain of forward references (each POST refers to the next) is the worst case of the cycle search."""

    def chain(n: int) -> None:
        parsed = job(*(post(f"p{i}", f"p{i + 1}") for i in range(n)), post(f"p{n}", "p0"), max_operations=10**6)
        assert all(parsed.is_circular(i, f"p{i + 1}") for i in range(n))

    assert_linear(chain, 500)


def test_a_post_without_a_bulk_id_or_data_is_refused_alone() -> None:
    parsed = job({"method": "post", "path": "/Users", "data": {}}, {"method": "PUT", "path": "/Users/x"})
    assert parsed.operations[0].method == "POST" and "bulkId" in str(parsed.operations[0].problem)
    assert "data" in str(parsed.operations[1].problem)
    with pytest.raises(InvalidSyntaxException):
        job(
            {"method": "POST", "path": "/Users", "bulkId": "x", "data": {}},
            {"method": "DELETE", "path": "/Users/y", "bulkId": "x"},
        )
