"""userName and group displayName are unique, and found, under identity_key (issue 19), on Azurite.

Tenants written before that key keep working: their index rows were keyed by NFC + lower case. Those rows are
written here exactly as that code wrote them (legacy_identity_key, through the store), and then used.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from scim2_models import Context, InvalidValueException, SearchRequest, UniquenessException

from devhost.azurite import Azurite
from scim.cli import main
from scim.models import ENTRA_POLICY, GroupResource, UserResource
from scim.platform.invariants import check_tenant
from scim.protocol.names import legacy_identity_key
from scim.resources.groups import GroupService
from scim.resources.users import UserService
from scim.store import CountChange, IndexEntry, TableStorage
from tests.conftest import partition_rows

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

PAIRS = [
    ("admin", "\uff41\uff44\uff4d\uff49\uff4e"),  # full-width
    ("strasse", "stra\u00dfe"),  # sharp s
    ("info", "\u0130nfo"),  # capital I with dot above
    ("root", "ro\u200bot"),  # zero width space
    ("sys", "sys "),  # trailing space
]
"""The reproduction pairs of issue 19: the second must be refused as the first's duplicate."""

ESCAPE = "\u001b]0;pwned\u0007\u001b[2J"
WORK_EMAIL = 'emails[type eq "work"].value'


@pytest.fixture
def groups(storage: TableStorage) -> GroupService:
    return GroupService(storage.resources("Groups"), storage.resources("Users"))


@pytest.fixture
def users(storage: TableStorage, groups: GroupService) -> UserService:
    return UserService(storage.resources("Users"), memberships=groups.memberships)


def user_body(user_name: str, **extra: Any) -> dict[str, Any]:
    return {"schemas": [USER], "userName": user_name, "emails": [{"type": "work", "value": "a@contoso.com"}], **extra}


def group_body(name: str) -> dict[str, Any]:
    return {"schemas": [GROUP], "displayName": name}


def patch_body(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH], "Operations": list(operations)}


def user_ids(users: UserService, tenant: str, expression: str) -> list[str]:
    page = users.search(tenant, SearchRequest[UserResource](filter=expression), 1, 100)
    return sorted(str(user.id) for user in page.resources)


def group_ids(groups: GroupService, tenant: str, expression: str) -> list[str]:
    page = groups.search(tenant, SearchRequest[GroupResource](filter=expression), 1, 100, members=False)
    return sorted(str(group.id) for group in page.resources)


def quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def assert_clean(storage: TableStorage, tenant: str, legacy: dict[str, int] | None = None) -> None:
    report = check_tenant(storage, tenant)
    assert report.violations == []
    assert report.legacy_index_rows == (legacy or {"Users": 0, "Groups": 0})


# -- the reproduction pairs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("first", "second"), PAIRS)
def test_each_pair_is_one_user_name(users: UserService, storage: TableStorage, tenant: str, first: str, second: str):
    created = users.create(tenant, user_body(first))
    before = partition_rows(storage, "Users", tenant)
    with pytest.raises(UniquenessException):
        users.create(tenant, user_body(second))
    assert partition_rows(storage, "Users", tenant) == before
    # the other way round too, and a filter on either spelling finds the one user
    assert user_ids(users, tenant, f"userName eq {quoted(second)}") == [created.id]
    assert user_ids(users, tenant, f"userName eq {quoted(first.upper())}") == [created.id]
    assert_clean(storage, tenant)


@pytest.mark.parametrize(("first", "second"), PAIRS)
def test_each_pair_is_one_group_name(groups: GroupService, storage: TableStorage, tenant: str, first: str, second: str):
    created = groups.create(tenant, group_body(second))
    before = partition_rows(storage, "Groups", tenant)
    with pytest.raises(UniquenessException):
        groups.create(tenant, group_body(first))
    assert partition_rows(storage, "Groups", tenant) == before
    assert group_ids(groups, tenant, f"displayName eq {quoted(first.upper())}") == [created.id]
    assert_clean(storage, tenant)


def test_a_rename_onto_another_spelling_of_a_taken_name_is_409(users: UserService, tenant: str) -> None:
    users.create(tenant, user_body("straße@contoso.com"))
    other = users.create(tenant, user_body("bob@contoso.com"))
    with pytest.raises(UniquenessException):
        rename = {"op": "replace", "path": "userName", "value": "STRASSE@contoso.com"}
        users.patch(tenant, str(other.id), patch_body(rename))
    assert users.get(tenant, str(other.id)).user_name == "bob@contoso.com"


def test_the_stored_value_is_the_one_sent(users: UserService, groups: GroupService, tenant: str) -> None:
    name = " \uff21dmin\u200b "
    user = users.create(tenant, user_body(name))
    assert users.get(tenant, str(user.id)).user_name == name
    group = groups.create(tenant, group_body("Stra\u00dfe  Team"))
    assert groups.get(tenant, str(group.id), members=False).display_name == "Stra\u00dfe  Team"
    assert group_ids(groups, tenant, 'displayName eq "strasse team"') == [group.id]


def test_filters_on_user_name_ignore_case_as_rfc_7643_says(users: UserService, tenant: str) -> None:
    user = users.create(tenant, user_body("admin@contoso.com"))
    assert user_ids(users, tenant, 'userName eq "ADMIN@contoso.com"') == [user.id]
    assert user_ids(users, tenant, 'userName sw "\uff21DMIN"') == [user.id]  # a scan, same key
    assert user_ids(users, tenant, 'userName eq "admin@contoso.co"') == []


# -- control characters ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attribute", "extra"),
    [
        ("userName", {"userName": "x" + ESCAPE}),
        ("displayName", {"displayName": ESCAPE}),
        ("nickName", {"nickName": "a\tb"}),
        ("name.givenName", {"name": {"givenName": "A\u009bB"}}),
        ("name.formatted", {"name": {"formatted": "A\u007f"}}),
        ("emails.value", {"emails": [{"type": "work", "value": "a\u0000@contoso.com"}]}),
    ],
)
def test_a_control_character_in_a_name_is_refused_on_post(
    users: UserService, storage: TableStorage, tenant: str, attribute: str, extra: dict[str, Any]
) -> None:
    with pytest.raises(InvalidValueException) as refused:
        users.create(tenant, {**user_body("ada@contoso.com"), **extra})
    assert f"'{attribute}'" in str(refused.value.detail)
    assert partition_rows(storage, "Users", tenant) == []


def test_a_control_character_is_refused_on_put_and_both_patch_dialects(
    users: UserService, groups: GroupService, storage: TableStorage, tenant: str
) -> None:
    user = users.create(tenant, user_body("ada@contoso.com"))
    group = groups.create(tenant, group_body("Sales"))
    before = partition_rows(storage, "Users", tenant), partition_rows(storage, "Groups", tenant)
    uid, gid = str(user.id), str(group.id)
    refused = [
        lambda: users.replace(tenant, uid, user_body("ada@contoso.com", displayName=ESCAPE)),
        lambda: users.patch(tenant, uid, patch_body({"op": "Replace", "path": "displayName", "value": ESCAPE})),
        lambda: users.patch(tenant, uid, patch_body({"op": "replace", "value": {"name.familyName": ESCAPE}})),
        lambda: users.patch(tenant, uid, patch_body({"op": "Add", "path": WORK_EMAIL, "value": ESCAPE})),
        lambda: groups.replace(tenant, gid, group_body(ESCAPE)),
        lambda: groups.patch(tenant, gid, patch_body({"op": "Replace", "path": "displayName", "value": ESCAPE})),
        lambda: groups.patch(tenant, gid, patch_body({"op": "replace", "value": {"displayName": ESCAPE}})),
        lambda: groups.create(tenant, group_body("Ops" + ESCAPE)),
    ]
    for attempt in refused:
        with pytest.raises(InvalidValueException):
            attempt()
    assert (partition_rows(storage, "Users", tenant), partition_rows(storage, "Groups", tenant)) == before


def test_a_name_stored_before_the_rule_does_not_block_other_changes(users: UserService, tenant: str) -> None:
    uid = stored_as_old_code(users, tenant, "old" + ESCAPE)
    users.patch(tenant, uid, patch_body({"op": "Replace", "path": "active", "value": "False"}))
    assert users.get(tenant, uid).active is False
    users.replace(tenant, uid, user_body("old" + ESCAPE, active=True))
    with pytest.raises(InvalidValueException):
        users.replace(tenant, uid, user_body("new" + ESCAPE))


# -- a partition written by the code before identity_key ---------------------------------------------------------


def stored_as_old_code(users: UserService, tenant: str, user_name: str) -> str:
    """A user created as the code before identity_key did: its userName row under legacy_identity_key (NFC +
    lower case); externalId and e-mail rows were and are keyed as scim2-models' default."""
    user = UserResource.model_validate(
        user_body(user_name), scim_ctx=Context.RESOURCE_CREATION_REQUEST, scim_policy=ENTRA_POLICY
    )
    indexes = [IndexEntry("userName", legacy_identity_key(user_name), True)]
    indexes += [entry for entry in UserService.indexes(user) if entry.attribute != "userName"]
    uid = uuid.uuid4().hex
    one_more = CountChange(total=1, active=1)
    users.table.create(tenant, uid, UserService.document(user), indexes, datetime.now(UTC), change=one_more)
    return uid


def group_as_old_code(groups: GroupService, tenant: str, name: str) -> str:
    gid = uuid.uuid4().hex
    entry = IndexEntry("displayName", legacy_identity_key(name), True)
    groups.table.create(tenant, gid, {"schemas": [GROUP], "displayName": name}, [entry], datetime.now(UTC))
    return gid


def legacy_row(name: str, attribute: str = "userName") -> str:
    return IndexEntry(attribute, legacy_identity_key(name), True).value_prefix()


def test_old_rows_are_found_and_a_colliding_create_is_409(users: UserService, storage: TableStorage, tenant: str):
    old = stored_as_old_code(users, tenant, "\uff21DMIN")  # old key: "\uff41dmin" (a full-width a), new: "admin"
    old_plain = stored_as_old_code(users, tenant, "Root")  # old key "root" is the new key: nothing to move
    assert_clean(storage, tenant, {"Users": 1, "Groups": 0})
    # found by its own spelling in any case (the old row) and by the new key's spellings (a scan: sw)
    assert user_ids(users, tenant, 'userName eq "\uff41dmin"') == [old]
    assert user_ids(users, tenant, 'userName eq "ROOT"') == [old_plain]
    assert user_ids(users, tenant, 'userName sw "admin"') == [old]
    # a create whose old key or new key is taken is refused, before and after the reindex
    with pytest.raises(UniquenessException):
        users.create(tenant, user_body("\uff41dMiN"))  # its old key is the old row's
    with pytest.raises(UniquenessException):
        users.create(tenant, user_body("ro\u200bot"))
    report = users.reindex(tenant)
    assert (report.resources, report.moved, report.conflicts) == (2, 1, [])
    assert_clean(storage, tenant)
    with pytest.raises(UniquenessException):
        users.create(tenant, user_body("admin"))  # the new key only: needs the moved row
    assert user_ids(users, tenant, 'userName eq "admin"') == [old]
    assert users.reindex(tenant).moved == 0


def test_an_old_user_updated_or_deleted_leaves_its_rows_consistent(
    users: UserService, storage: TableStorage, tenant: str
) -> None:
    renamed = stored_as_old_code(users, tenant, "Stra\u00dfe")
    patched = stored_as_old_code(users, tenant, "Gr\u00fc\u00dfe ")
    deleted = stored_as_old_code(users, tenant, "Ma\u00dfe")
    assert_clean(storage, tenant, {"Users": 3, "Groups": 0})
    keys = {str(row["RowKey"]) for row in partition_rows(storage, "Users", tenant)}
    assert {legacy_row("Stra\u00dfe"), legacy_row("Gr\u00fc\u00dfe "), legacy_row("Ma\u00dfe")} <= keys

    users.replace(tenant, renamed, user_body("Strasse"))  # same name under the new key: the row moves
    users.patch(tenant, patched, patch_body({"op": "Replace", "path": "active", "value": "False"}))
    users.delete(tenant, deleted)

    keys = {str(row["RowKey"]) for row in partition_rows(storage, "Users", tenant)}
    assert not {legacy_row("Stra\u00dfe"), legacy_row("Gr\u00fc\u00dfe "), legacy_row("Ma\u00dfe")} & keys
    assert_clean(storage, tenant)
    assert user_ids(users, tenant, 'userName eq "STRASSE"') == [renamed]
    assert user_ids(users, tenant, 'userName eq "grüsse"') == [patched]
    with pytest.raises(UniquenessException):
        users.create(tenant, user_body("GRÜSSE"))
    users.create(tenant, user_body("masse"))  # the deleted user's name is free


def test_old_groups_are_found_moved_and_reported_when_two_collide(
    groups: GroupService, storage: TableStorage, tenant: str
) -> None:
    plain = group_as_old_code(groups, tenant, "Admins")
    wide = group_as_old_code(groups, tenant, "\uff21dmins")  # the old key told these two apart
    moved = group_as_old_code(groups, tenant, "Stra\u00dfe")
    assert_clean(storage, tenant, {"Users": 0, "Groups": 2})
    assert group_ids(groups, tenant, 'displayName eq "STRAßE"') == [moved]
    report = groups.reindex(tenant)
    assert (report.moved, report.conflicts) == (1, [wide])
    assert_clean(storage, tenant, {"Users": 0, "Groups": 1})  # the conflict keeps its old row, still consistent
    assert group_ids(groups, tenant, 'displayName eq "strasse"') == [moved]
    assert group_ids(groups, tenant, 'displayName eq "\uff41dmins"') == sorted([plain, wide])
    groups.patch(tenant, wide, patch_body({"op": "Replace", "path": "displayName", "value": "Admins 2"}))
    assert_clean(storage, tenant)


def test_scim_admin_tenant_reindex(azurite: Azurite, tmp_path: Path, tenant: str) -> None:
    env = {
        "SCIM_STORAGE_CONNECTION_STRING": azurite.connection_string,
        "SCIM_TABLE_PREFIX": "reindex",
        "SCIM_SECRET_SOURCE": "local",
        "SCIM_LOCAL_SECRETS_FILE": str(tmp_path / "secrets.json"),
        "SCIM_PUBLIC_BASE_URL": "https://scim.example.net",
    }
    runner = CliRunner()

    def cli(*args: str) -> Any:
        return runner.invoke(main, list(args), env=env, catch_exceptions=False)

    assert cli("tenant", "create", tenant).exit_code == 0
    storage = TableStorage(connection_string=azurite.connection_string, table_prefix="reindex")
    groups = GroupService(storage.resources("Groups"), storage.resources("Users"))
    users = UserService(storage.resources("Users"), memberships=groups.memberships)
    moved = stored_as_old_code(users, tenant, "Stra\u00dfe")
    group_as_old_code(groups, tenant, "Admins")
    wide = group_as_old_code(groups, tenant, "\uff21dmins")

    first = cli("tenant", "reindex", tenant)
    assert first.exit_code == 1  # a pair to rename
    assert f"{tenant} Users: 1 read, 1 moved" in first.output and f"Groups {wide}:" in first.output
    assert user_ids(users, tenant, 'userName eq "strasse"') == [moved]
    again = json.loads(cli("tenant", "reindex", "--all", "--json").stdout)
    assert again[tenant]["Users"]["moved"] == 0 and again[tenant]["Groups"]["conflicts"] == [wide]
    assert cli("tenant", "reindex").exit_code == 2  # neither tenants nor --all
    assert cli("tenant", "check", tenant).exit_code == 0
    storage.close()


def test_a_name_of_spaces_and_invisible_characters_alone_is_blank(
    users: UserService, groups: GroupService, tenant: str
):
    with pytest.raises(InvalidValueException, match="blank"):
        users.create(tenant, user_body("\u200b\u00a0\u2060"))
    with pytest.raises(InvalidValueException, match="blank"):
        groups.create(tenant, group_body(" \ufeff "))


def test_a_create_racing_the_reindex_of_its_old_twin_ends_in_409_or_a_reported_pair(
    users: UserService, storage: TableStorage
) -> None:
    """Whichever commits first, the two are never both on new rows: the create is refused, or the reindex reports
    the old user as a pair to rename (the state an upgrade starts from when both already existed)."""
    for _ in range(6):
        tenant = f"t-{uuid.uuid4().hex[:16]}"
        old = stored_as_old_code(users, tenant, "Stra\u00dfe")
        outcome: dict[str, Any] = {}

        def create(outcome: dict[str, Any] = outcome, tenant: str = tenant) -> None:
            try:
                outcome["created"] = users.create(tenant, user_body("strasse")).id
            except UniquenessException:
                outcome["created"] = None

        def reindex(outcome: dict[str, Any] = outcome, tenant: str = tenant) -> None:
            outcome["report"] = users.reindex(tenant)

        threads = [threading.Thread(target=create), threading.Thread(target=reindex)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        refused, reported = outcome["created"] is None, outcome["report"].conflicts == [old]
        assert refused != reported
        found = user_ids(users, tenant, 'userName eq "Stra\u00dfe"')  # the new row, and the old one if kept
        assert found == sorted([old] if refused else [old, outcome["created"]])
        assert check_tenant(storage, tenant).violations == []


def test_a_create_whose_name_differs_from_the_old_key_costs_one_more_read(users: UserService, storage: TableStorage):
    tenant = f"t-{uuid.uuid4().hex[:16]}"
    users.create(tenant, user_body("warm-up"))

    def cost(name: str) -> int:
        before = storage.round_trips.count
        users.create(tenant, user_body(name))
        return storage.round_trips.count - before

    assert cost("Stra\u00dfe") == cost("alice") + 1  # the point read of its old key's row
