"""The bounded read-through cache behind tenant records and secrets."""

from __future__ import annotations

import threading
import time

import pytest

from scim.cache import ReadThroughCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Outage(Exception):
    pass


class Refused(Exception):
    pass


class Backend:
    def __init__(self) -> None:
        self.calls: list[str] = []
        self.fail: Exception | None = None
        self.version = 1

    def __call__(self, key: str) -> str:
        self.calls.append(key)
        if self.fail is not None:
            raise self.fail
        return f"{key}-v{self.version}"


def cache(backend: Backend, clock: Clock, **options: float) -> ReadThroughCache[str, str]:
    settings = {"ttl": 300.0, "max_entries": 100, "min_reload": 30.0, "grace": 600.0, **options}
    return ReadThroughCache(
        backend,
        ttl=settings["ttl"],
        max_entries=int(settings["max_entries"]),
        min_reload=settings["min_reload"],
        grace=settings["grace"],
        transient=(Outage,),
        clock=clock,
    )


def test_value_is_served_from_cache_for_the_ttl() -> None:
    backend, clock = Backend(), Clock()
    values = cache(backend, clock)
    assert values.get("a") == "a-v1"
    backend.version = 2
    clock.now += 299
    assert values.get("a") == "a-v1"
    clock.now += 2
    assert values.get("a") == "a-v2"
    assert len(backend.calls) == 2


def test_forced_reload_is_rate_limited_per_key() -> None:
    backend, clock = Backend(), Clock()
    values = cache(backend, clock)
    values.get("a")
    for _ in range(100):
        values.get("a", reload=True)
    assert len(backend.calls) == 1
    clock.now += 31
    backend.version = 2
    assert values.get("a", reload=True) == "a-v2"
    assert len(backend.calls) == 2


def test_size_is_bounded() -> None:
    backend, clock = Backend(), Clock()
    values = cache(backend, clock, max_entries=50)
    for n in range(5000):
        values.get(f"k{n}")
    assert len(values) == 50


def test_outage_serves_the_last_value_for_the_grace_period_only() -> None:
    backend, clock = Backend(), Clock()
    values = cache(backend, clock, ttl=300, grace=600)
    values.get("a")
    backend.fail = Outage()
    clock.now += 301
    assert values.get("a") == "a-v1"  # stale, inside the grace period
    calls = len(backend.calls)
    for _ in range(50):
        assert values.get("a") == "a-v1"
    assert len(backend.calls) == calls  # one retry per min_reload, not one per request
    clock.now += 600
    with pytest.raises(Outage):
        values.get("a")


def test_outage_without_a_value_is_remembered_not_retried_per_request() -> None:
    backend, clock = Backend(), Clock()
    values = cache(backend, clock, min_reload=30)
    backend.fail = Outage()
    for _ in range(20):
        with pytest.raises(Outage):
            values.get("a")
    assert len(backend.calls) == 1
    clock.now += 31
    backend.fail = None
    assert values.get("a") == "a-v1"


def test_a_refusal_drops_the_value_at_once() -> None:
    backend, clock = Backend(), Clock()
    values = cache(backend, clock)
    values.get("a")
    clock.now += 301
    backend.fail = Refused()
    with pytest.raises(Refused):
        values.get("a")
    with pytest.raises(Refused):
        values.get("a")  # remembered, and the old value is not served
    assert len(backend.calls) == 2


def test_concurrent_callers_share_one_load() -> None:
    started, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def slow(key: str) -> str:
        calls.append(key)
        started.set()
        release.wait(5)
        return key.upper()

    values: ReadThroughCache[str, str] = ReadThroughCache(slow, ttl=60, max_entries=10, min_reload=1)
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(values.get("a"))) for _ in range(10)]
    for thread in threads:
        thread.start()
    started.wait(5)
    time.sleep(0.05)
    release.set()
    for thread in threads:
        thread.join(5)
    assert results == ["A"] * 10
    assert calls == ["a"]


def test_no_lock_is_held_while_loading() -> None:
    """A slow load for one key (a throttled vault) does not delay a cached key."""
    release = threading.Event()

    def load(key: str) -> str:
        if key == "slow":
            release.wait(5)
        return key

    values: ReadThroughCache[str, str] = ReadThroughCache(load, ttl=60, max_entries=10, min_reload=1)
    values.get("fast")
    thread = threading.Thread(target=values.get, args=("slow",))
    thread.start()
    began = time.perf_counter()
    assert values.get("fast") == "fast"
    assert time.perf_counter() - began < 2.5  # the slow load waits 5 s: this tells the two apart under load
    release.set()
    thread.join(5)


def test_a_load_that_started_before_an_invalidation_is_not_kept() -> None:
    """A revoked secret read just before the revocation must not be cached for a whole ttl after it."""
    started, release = threading.Event(), threading.Event()
    backend = {"a": "old"}

    def load(key: str) -> str:
        value = backend[key]
        if value == "old":
            started.set()
            release.wait(5)
        return value

    values: ReadThroughCache[str, str] = ReadThroughCache(load, ttl=3600, max_entries=10, min_reload=0)
    early = threading.Thread(target=values.get, args=("a",))
    early.start()
    assert started.wait(5)
    backend["a"] = "new"
    values.invalidate("a")
    assert values.get("a") == "new"  # a load of its own, not the one in flight
    release.set()
    early.join(5)
    assert values.get("a") == "new"  # the earlier load finished last, and was not kept
