"""The license cap: no create, re-enable or replace takes a tenant past its active-user limit, even racing."""

from __future__ import annotations

import threading
import uuid
from typing import Any

import pytest
from scim2_models import ForbiddenException

from devhost.azurite import Azurite
from scim.resources.users import UserService
from scim.store import TableStorage
from tests.conftest import partition_rows

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def body(**extra: Any) -> dict[str, Any]:
    name = f"cap-{uuid.uuid4().hex[:10]}@contoso.com"
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "emails": [{"type": "work", "value": name}],
        **extra,
    }


def active(value: bool) -> dict[str, Any]:
    return {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": value}]}


@pytest.fixture
def users(storage: TableStorage) -> UserService:
    return UserService(storage.resources("Users"))


def test_create_past_the_limit_is_refused_and_stores_nothing(
    users: UserService, storage: TableStorage, tenant: str
) -> None:
    for _ in range(2):
        users.create(tenant, body(), active_limit=2)
    before = partition_rows(storage, "Users", tenant)
    with pytest.raises(ForbiddenException) as refused:
        users.create(tenant, body(), active_limit=2)
    assert refused.value.status == 403
    detail = str(refused.value.detail)
    assert "at most 2 active users" in detail and "raise the limit" in detail and "assigned" in detail
    assert partition_rows(storage, "Users", tenant) == before
    users.create(tenant, body(active=False), active_limit=2)  # an inactive user takes no seat


def test_re_enabling_past_the_limit_is_refused(users: UserService, tenant: str) -> None:
    first = users.create(tenant, body(), active_limit=1)
    assert first.id is not None
    users.patch(tenant, first.id, active(False), active_limit=1)
    second = users.create(tenant, body(), active_limit=1)
    with pytest.raises(ForbiddenException):
        users.patch(tenant, first.id, active(True), active_limit=1)
    with pytest.raises(ForbiddenException):
        users.replace(tenant, first.id, body(active=True), active_limit=1)
    assert users.get(tenant, first.id).active is False
    assert second.id is not None
    users.delete(tenant, second.id)
    assert users.patch(tenant, first.id, active(True), active_limit=1).active is True


def test_other_changes_to_active_users_at_the_limit_still_work(users: UserService, tenant: str) -> None:
    user = users.create(tenant, body(), active_limit=1)
    assert user.id is not None
    changed = users.patch(
        tenant,
        user.id,
        {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "displayName", "value": "Ada"}]},
        active_limit=1,
    )
    assert changed.display_name == "Ada"


def test_racing_creates_and_re_enables_never_pass_the_limit(
    storage: TableStorage, azurite: Azurite, tenant: str
) -> None:
    """Twelve threads on two workers (each with its own counter cache) create and re-enable users at once."""
    limit = 5
    second_worker = TableStorage(connection_string=azurite.connection_string, table_prefix="test")
    workers = [UserService(storage.resources("Users")), UserService(second_worker.resources("Users"))]
    disabled = [str(workers[0].create(tenant, body(active=False)).id) for _ in range(4)]
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(n: int) -> None:
        service = workers[n % 2]
        try:
            if n < len(disabled):
                service.patch(tenant, disabled[n], active(True), active_limit=limit)
            else:
                service.create(tenant, body(), active_limit=limit)
            result = "ok"
        except ForbiddenException:
            result = "refused"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    stored = list(storage.resources("Users").scan(tenant))
    stored_active = sum(1 for user in stored if user.document.get("active") is not False)
    assert sorted(outcomes) == ["ok"] * limit + ["refused"] * (12 - limit)
    assert stored_active == limit == storage.resources("Users").counts(tenant).active
    second_worker.close()
