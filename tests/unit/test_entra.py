from scim.protocol.entra import normalise_patch, normalise_user

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def test_bare_manager_id_in_patch_becomes_complex_value() -> None:
    body = {"Operations": [{"op": "Add", "path": f"{ENTERPRISE}:manager", "value": "m1"}]}
    assert normalise_patch(body)["Operations"][0]["value"] == {"value": "m1"}


def test_legacy_manager_list_becomes_single_object() -> None:
    body = {"Operations": [{"op": "Add", "path": "manager", "value": [{"$ref": None, "value": "m1"}]}]}
    assert normalise_patch(body)["Operations"][0]["value"] == {"value": "m1"}


def test_manager_inside_pathless_value_is_rewritten() -> None:
    body = {"Operations": [{"op": "replace", "value": {f"{ENTERPRISE}:manager": "m2", "displayName": "x"}}]}
    assert normalise_patch(body)["Operations"][0]["value"] == {
        f"{ENTERPRISE}:manager": {"value": "m2"},
        "displayName": "x",
    }


def test_other_operations_are_untouched() -> None:
    body = {"Operations": [{"op": "Replace", "path": "active", "value": "False"}, "junk"]}
    assert normalise_patch(body) == body


def test_manager_in_create_body() -> None:
    body = {"userName": "a", ENTERPRISE: {"manager": "m3", "department": "x"}}
    assert normalise_user(body)[ENTERPRISE] == {"manager": {"value": "m3"}, "department": "x"}


def test_non_objects_pass_through() -> None:
    assert normalise_patch([1]) == [1]
    assert normalise_user("x") == "x"


def test_test_collection_manager_casing_in_create_body() -> None:
    body = {"userName": "a", ENTERPRISE: {"Manager": {"Value": "m4"}}}
    assert normalise_user(body)[ENTERPRISE] == {"Manager": {"value": "m4"}}


def test_manager_remove_drops_the_value_entra_sends() -> None:
    body = {"Operations": [{"op": "Remove", "path": f"{ENTERPRISE}:manager", "value": [{"value": "m1"}]}]}
    assert normalise_patch(body)["Operations"][0] == {"op": "Remove", "path": f"{ENTERPRISE}:manager"}


def test_manager_replaced_by_empty_id_is_removed() -> None:
    body = {"Operations": [{"op": "Replace", "path": f"{ENTERPRISE}:manager", "value": ""}]}
    assert normalise_patch(body)["Operations"][0] == {"op": "remove", "path": f"{ENTERPRISE}:manager"}
