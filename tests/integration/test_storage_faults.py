"""Faults at every storage call of a whole Entra cycle (users, manager, group, members, disable, delete):
after each faulty run the partition is consistent (scim.platform.invariants), and replaying the cycle
without faults converges to the same final state as a run that never failed. Nothing lost, nothing doubled.

Faults are injected at the SDK's HTTP transport (tests/faults.py), so the real store code runs under them;
the SDK's own retries are off in most runs (every fault reaches our code: the harshest case).
"""

from __future__ import annotations

import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from devhost.azurite import Azurite
from scim.platform.invariants import check_tenant
from scim.store import TableStorage
from tests.entra_cycle import Client, Plan, in_process_api, run_cycle, stored_state
from tests.faults import FAST_RETRY, FAULT_KINDS, NO_RETRY, FaultTransport

PLAN = Plan()
EXPECTED = PLAN.expected()
WORKERS = 4
RANDOM_RUNS = 24
FAULTY_CYCLES = 5
FAULT_RATE = 0.4
FULL_SWEEP = os.environ.get("SCIM_FULL_FAULT_SWEEP") == "1"
"""CI fails each request k of a cycle once, the kind rotating with k; SCIM_FULL_FAULT_SWEEP=1 fails every
request k with every kind (4x the runs)."""


class Run:
    """One fresh tenant on storage of its own, whose transport injects the faults."""

    def __init__(self, azurite: Azurite, budget: Any = NO_RETRY) -> None:
        self.transport = FaultTransport(budget)
        self.storage = TableStorage(
            connection_string=azurite.connection_string, table_prefix="faults", transport=self.transport
        )
        self.client = Client(in_process_api(self.storage), f"t-{uuid.uuid4().hex[:16]}")

    def check(self, when: str) -> None:
        self.transport.healthy()
        report = check_tenant(self.storage, self.client.tenant)
        assert report.ok, f"{when}: {report.violations}"

    def converge(self) -> None:
        """Entra's next cycles, storage healthy: the same final state as a run that never failed."""
        self.transport.healthy()
        for _ in range(3):
            if run_cycle(self.client, PLAN) == 0:
                break
        self.check("after replay")
        assert stored_state(self.storage, self.client.tenant) == EXPECTED
        assert 500 not in self.client.statuses, self.client.statuses

    def close(self) -> None:
        self.storage.close()


def clean_cycle_calls(azurite: Azurite) -> int:
    run = Run(azurite)
    try:
        run_cycle(run.client, PLAN)
        return run.transport.sent
    finally:
        run.close()


def kth_fault(azurite: Azurite, k: int, kind: str) -> int:
    run = Run(azurite)
    try:
        run.transport.fail_nth(k, kind)
        run_cycle(run.client, PLAN)
        injected = run.transport.injected
        run.check(f"request {k} failed with {kind}")
        run.converge()
        return injected
    finally:
        run.close()


def random_faults(azurite: Azurite, seed: int) -> int:
    run = Run(azurite, NO_RETRY if seed % 2 else FAST_RETRY)
    try:
        injected = 0
        for cycle in range(FAULTY_CYCLES):
            run.transport.fail_randomly(FAULT_RATE, seed * 100 + cycle)
            run_cycle(run.client, PLAN)
            injected += run.transport.injected
            run.transport.reset_counts()
            run.check(f"seed {seed} cycle {cycle}")
        run.converge()
        return injected
    finally:
        run.close()


@pytest.fixture(scope="module")
def calls_per_cycle(azurite: Azurite) -> int:
    return clean_cycle_calls(azurite)


def test_a_fault_at_every_storage_call_of_a_cycle_leaves_consistent_state(
    azurite: Azurite, calls_per_cycle: int, record_property: Any
) -> None:
    ks = range(1, calls_per_cycle + 1)
    if FULL_SWEEP:
        cases = [(k, kind) for kind in FAULT_KINDS for k in ks]
    else:
        cases = [(k, FAULT_KINDS[k % len(FAULT_KINDS)]) for k in ks]
    started = time.perf_counter()
    with ThreadPoolExecutor(WORKERS) as pool:
        injected = sum(pool.map(lambda case: kth_fault(azurite, *case), cases))
    assert injected == len(cases)  # every k-th request was reached and failed
    print(f"kth faults {injected} in {time.perf_counter() - started:.1f}s")
    record_property("kth_faults", injected)
    record_property("kth_seconds", round(time.perf_counter() - started, 1))


def test_random_faults_over_repeated_cycles_converge(azurite: Azurite, record_property: Any) -> None:
    started = time.perf_counter()
    with ThreadPoolExecutor(WORKERS) as pool:
        injected = sum(pool.map(lambda seed: random_faults(azurite, seed), range(RANDOM_RUNS)))
    print(f"random faults {injected} in {time.perf_counter() - started:.1f}s")
    record_property("random_faults", injected)
    record_property("random_seconds", round(time.perf_counter() - started, 1))
    assert injected >= 1000
