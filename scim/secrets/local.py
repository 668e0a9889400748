"""Secrets in a git-ignored JSON file (`.local/secrets.json`): Key Vault's semantics for make run and tests.

The file holds every version of every secret, like a vault: `tenant rotate-token` adds a version and
`retire-token` disables the older ones. Writers (the operator CLI) take an exclusive lock on a side file
and replace the file atomically, so the running endpoint never reads half a file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scim.secrets.store import SecretStoreRefusedError, SecretVersion


def _parse_time(raw: Any) -> datetime | None:
    return datetime.fromisoformat(raw) if isinstance(raw, str) and raw else None


def _version(name: str, raw: dict[str, Any]) -> SecretVersion:
    return SecretVersion(
        name=name,
        version=str(raw["version"]),
        enabled=bool(raw.get("enabled", True)),
        created_on=_parse_time(raw.get("created")),
        not_before=_parse_time(raw.get("not_before")),
        expires_on=_parse_time(raw.get("expires_on")),
    )


class LocalSecretStore:
    """A SecretStore in one JSON file, readable only by its owner (mode 0600)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, list[dict[str, Any]]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise SecretStoreRefusedError(f"cannot read the local secret store: {type(exc).__name__}") from exc
        try:
            loaded = json.loads(text)
            secrets = loaded["secrets"]
            if not isinstance(secrets, dict):
                raise TypeError("secrets is not an object")
        except (ValueError, KeyError, TypeError) as exc:
            raise SecretStoreRefusedError(f"the local secret store {self.path} is not valid") from exc
        return secrets

    @contextlib.contextmanager
    def _writing(self) -> Iterator[dict[str, list[dict[str, Any]]]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        with lock_path.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            secrets = self._read()
            yield secrets
            tmp = self.path.with_name(f"{self.path.name}.{uuid.uuid4().hex}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump({"secrets": secrets}, out, indent=1, sort_keys=True)
            os.replace(tmp, self.path)

    def versions(self, name: str) -> list[SecretVersion]:
        return [_version(name, raw) for raw in self._read().get(name, [])]

    def value(self, name: str, version: str) -> str | None:
        for raw in self._read().get(name, []):
            if raw.get("version") == version and raw.get("enabled", True):
                return str(raw["value"])
        return None

    def add_version(self, name: str, value: str) -> SecretVersion:
        raw = {
            "version": uuid.uuid4().hex,
            "value": value,
            "enabled": True,
            "created": datetime.now(UTC).isoformat(),
        }
        with self._writing() as secrets:
            secrets.setdefault(name, []).append(raw)
        return _version(name, raw)

    def set_enabled(self, name: str, version: str, enabled: bool) -> None:
        with self._writing() as secrets:
            for raw in secrets.get(name, []):
                if raw.get("version") == version:
                    raw["enabled"] = enabled
