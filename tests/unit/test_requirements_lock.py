"""The dependency locks (`make lock`): every package pinned with hashes, and in step with what they were made from."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(\S+)")


def _name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


def pins(path: Path) -> dict[str, str]:
    """name -> version of every `name==version` requirement in a requirements file."""
    found = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line.strip())
        if match:
            found[_name(match.group(1))] = match.group(2).rstrip(" \\")
    return found


def hashed(path: Path) -> dict[str, int]:
    """name -> number of --hash options of each pinned requirement (continuation lines joined)."""
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    counts = {}
    for line in text.splitlines():
        match = _PIN.match(line.strip())
        if match:
            counts[_name(match.group(1))] = line.count("--hash=sha256:")
    return counts


def test_every_locked_package_carries_hashes() -> None:
    for lock in ("requirements.txt", "requirements-dev.txt"):
        counts = hashed(ROOT / lock)
        assert counts, lock
        assert all(n > 0 for n in counts.values()), [name for name, n in counts.items() if not n]


def test_the_locks_pin_exactly_the_direct_dependencies_they_were_made_from() -> None:
    runtime, dev = pins(ROOT / "requirements.txt"), pins(ROOT / "requirements-dev.txt")
    direct = pins(ROOT / "requirements.in")
    assert direct and all(runtime.get(name) == version for name, version in direct.items()), "run `make lock`"
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    dev_direct = {_name(m.group(1)): m.group(2) for m in (_PIN.match(r) for r in extra["dev"]) if m}
    assert len(dev_direct) == len(extra["dev"]), "every dev dependency is pinned exactly"
    assert dev_direct and all(dev.get(name) == version for name, version in dev_direct.items()), "run `make lock`"
    # The dev lock is the runtime lock plus the dev tools: never another version of a runtime package.
    assert {name: dev.get(name) for name in runtime} == runtime
