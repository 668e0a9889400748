"""Overlapping requests (issue 10), beside tests/integration/test_concurrency.py: each final state equals
some serial order of the same requests."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from scim2_models import ForbiddenException

from devhost.azurite import Azurite
from scim.platform.invariants import check_tenant
from scim.resources.groups import GroupService
from scim.resources.users import UserService
from scim.store import TableStorage

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

# Twenty different attributes, one PATCH each.
CHANGES: list[tuple[str, str]] = [
    ("title", "Engineer"),
    ("nickName", "Nick"),
    ("displayName", "Shown Name"),
    ("profileUrl", "https://example.test/p"),
    ("locale", "en-GB"),
    ("timezone", "Europe/London"),
    ("preferredLanguage", "en"),
    ("userType", "Member"),
    ("externalId", "ext-42"),
    ("name.givenName", "Given"),
    ("name.familyName", "Family"),
    ("name.middleName", "Middle"),
    ("name.formatted", "Given Middle Family"),
    ("name.honorificPrefix", "Dr"),
    ("name.honorificSuffix", "PhD"),
    (f"{ENTERPRISE}:employeeNumber", "1234"),
    (f"{ENTERPRISE}:costCenter", "CC1"),
    (f"{ENTERPRISE}:organization", "Contoso"),
    (f"{ENTERPRISE}:division", "North"),
    (f"{ENTERPRISE}:department", "Sales"),
]


def body(name: str, **extra: Any) -> dict[str, Any]:
    return {"schemas": [USER], "userName": name, "emails": [{"type": "work", "value": name}], **extra}


def test_twenty_concurrent_patches_of_different_attributes_are_all_applied(storage: TableStorage, tenant: str) -> None:
    users = UserService(storage.resources("Users"))
    uid = str(users.create(tenant, body("patched@x.test")).id)

    def patch(change: tuple[str, str]) -> None:
        path, value = change
        users.patch(tenant, uid, {"schemas": [PATCH], "Operations": [{"op": "Replace", "path": path, "value": value}]})

    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(patch, CHANGES))
    stored = storage.resources("Users").get(tenant, uid)
    assert stored is not None
    document = stored.document
    for path, value in CHANGES:
        if path.startswith(ENTERPRISE):
            assert document[ENTERPRISE][path.rsplit(":", 1)[1]] == value, path
        elif path.startswith("name."):
            assert document["name"][path[5:]] == value, path
        else:
            assert document[path] == value, path
    assert users.search  # the externalId index moved with its value:
    assert storage.resources("Users").find_ids(tenant, UserService.indexes(users.get(tenant, uid))[1]) == [uid]
    assert check_tenant(storage, tenant).ok


def test_concurrent_creates_and_deletes_under_a_license_cap_never_pass_it(
    storage: TableStorage, azurite: Azurite, tenant: str
) -> None:
    """Two workers (each with its own counter cache) create 12 users and delete 5 at once, at a cap of 5
    active users; a watcher reads the counter all along. The cap holds at every moment, and at the end."""
    limit = 5
    second = TableStorage(connection_string=azurite.connection_string, table_prefix="test")
    groups = [GroupService(s.resources("Groups"), s.resources("Users")) for s in (storage, second)]
    workers = [
        UserService(s.resources("Users"), memberships=g.memberships)
        for s, g in zip((storage, second), groups, strict=True)
    ]
    existing = [str(workers[0].create(tenant, body(f"old{n}@x.test"), active_limit=limit).id) for n in range(limit)]
    outcomes: list[str] = []
    seen: list[int] = []
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            seen.append(storage.resources("Users").counts(tenant).active)

    def work(n: int) -> None:
        service = workers[n % 2]
        if n < len(existing):
            service.delete(tenant, existing[n])
            outcomes.append("deleted")
            return
        try:
            service.create(tenant, body(f"new{uuid.uuid4().hex[:8]}@x.test"), active_limit=limit)
            outcomes.append("created")
        except ForbiddenException:
            outcomes.append("refused")

    watcher = threading.Thread(target=watch)
    watcher.start()
    with ThreadPoolExecutor(max_workers=17) as pool:
        list(pool.map(work, range(limit + 12)))
    done.set()
    watcher.join(30)
    second.close()
    counts = storage.resources("Users").counts(tenant)
    created = outcomes.count("created")
    assert outcomes.count("deleted") == limit and created + outcomes.count("refused") == 12
    assert counts.active == counts.total == created <= limit
    assert seen and max(seen) <= limit
    assert check_tenant(storage, tenant).ok
