"""The arithmetic of the capacity model (bench/capacity/model.py) and its simulation (bench/capacity/sim.py)."""

import math

import pytest

from bench.capacity import model, sim
from bench.capacity.model import (
    MEASURED,
    POINT_READ_THREADS,
    Cost,
    Latency,
    Limits,
    Phase,
    cold_vault_reads,
    costs_from,
    counter_ceiling,
    initial_phases,
    instances_needed,
    load_measured,
    merges_per_s,
    onboarding_per_minute,
    own_ceiling,
    per_request,
    saturation,
    tenant_load,
    utilisation,
)
from bench.capacity.report import crossing
from bench.capacity.sim import Bucket, Simulation, op_vectors, script
from scim.store import reads

LAT = Latency(read_s=0.010, tx_s=0.020)
USERS_MIX = {"user_filter_miss": 1, "user_post": 1, "user_get": 1, "user_patch": 1}

# The arithmetic is checked on fixed inputs: bench/entra_trips.py's figures of 2026-11-28 (a member check of 100
# point reads), not on measured.json, which moves with every run and every change of the code it measures.
COSTS: dict[str, Cost] = {
    "user_filter_miss": Cost(reads=1, cpu_ms=3.8, entities_u=1),
    "user_post": Cost(
        txs=1,
        cpu_ms=6.1,
        entities_u=6,
        commits_u=1,
        stale_reads=1,
        stale_txs=1,
        stale_cpu_ms=4.7,
        stale_entities_u=7,
        written=6,
    ),
    "user_get": Cost(reads=1, queries=1, cpu_ms=6.7, entities_u=1, entities_g=1),
    "user_patch": Cost(
        reads=1,
        txs=1,
        cpu_ms=10.0,
        entities_u=4,
        commits_u=1,
        stale_reads=1,
        stale_txs=1,
        stale_cpu_ms=9.4,
        stale_entities_u=4,
        written=3,
    ),
    "group_filter_miss": Cost(reads=1, cpu_ms=3.6, entities_g=1),
    "group_post": Cost(
        reads=1,
        queries=1,
        txs=1,
        cpu_ms=10.7,
        entities_g=7,
        commits_g=1,
        stale_reads=1,
        stale_txs=1,
        stale_cpu_ms=5.9,
        stale_entities_g=6,
        written=5,
    ),
    "group_add_100": Cost(
        checks=100,
        txs=3,
        cpu_ms=295.3,
        entities_u=100,
        entities_g=209,
        commits_g=3,
        stale_reads=1,
        stale_txs=1,
        stale_cpu_ms=35.6,
        stale_entities_g=100,
        written=209,
    ),
    "user_filter_hit": Cost(reads=2, cpu_ms=7.3, entities_u=2),
    "group_add_1": Cost(
        reads=1,
        txs=1,
        cpu_ms=7.3,
        entities_u=1,
        entities_g=5,
        commits_g=1,
        stale_reads=1,
        stale_txs=1,
        stale_cpu_ms=5.5,
        stale_entities_g=6,
        written=5,
    ),
}
QUEUE_MESSAGE_CPU_MS = 3.8
ACTIVITY_WRITE_CPU_MS = 3.2
BACKGROUND = {
    "QUEUE_MESSAGE_CPU_MS": QUEUE_MESSAGE_CPU_MS,
    "ACTIVITY_WRITE_CPU_MS": ACTIVITY_WRITE_CPU_MS,
    "REGISTRY_CALL_CPU_MS": 3.2,
    "TENANT_READ_CPU_MS": 3.0,
}


@pytest.fixture(autouse=True)
def reference_inputs(monkeypatch: pytest.MonkeyPatch) -> None:
    """The model and the simulation on the fixed inputs above."""
    for module in (model, sim):
        monkeypatch.setattr(module, "COSTS", COSTS)
        for name, value in BACKGROUND.items():
            if hasattr(module, name):
                monkeypatch.setattr(module, name, value)


def test_the_models_costs_are_what_the_bench_measured() -> None:
    """measured.json is bench/entra_trips.py's output; the costs are read from it, none typed in. Since the member
    index a 100-member PATCH reads nothing and costs at most 10 calls, with a stale counter row too."""
    costs = costs_from(load_measured(MEASURED))
    add = costs["group_add_100"]
    assert (add.reads, add.checks, add.entities_u) == (0, 0, 0)
    assert add.calls + add.stale_reads + add.stale_txs <= 10
    assert costs["user_post"].txs == 2  # the member-index entry, then the user's transaction
    assert set(costs) == set(COSTS)


def test_accounts_registry_partitions_and_vaults_divide_the_shared_load() -> None:
    one = Limits(max_instances=1_000, legacy_rows=1.0)
    spread = Limits(max_instances=1_000, accounts=8, registry_partitions=16, vaults=4, legacy_rows=1.0)
    alone, shared = (utilisation(USERS_MIX, 25.0, 100, limits, LAT) for limits in (one, spread))
    assert shared["account"] == pytest.approx(alone["account"] / 8)
    assert shared["queue"] == pytest.approx(alone["queue"] / 8)  # a changes queue per account
    assert shared["registry_u"] == pytest.approx(alone["registry_u"] / 16)
    assert shared["vault"] == pytest.approx(alone["vault"] / 4)
    assert shared["instances"] == pytest.approx(alone["instances"])


def test_key_vault_carries_only_rows_without_token_verifiers() -> None:
    """Secret Tokens are checked against the tenant row's verifiers: Key Vault sees requests only of tenants whose
    row predates them, in proportion; operator actions are its only other load (2 new versions a tenant)."""
    loads = {
        share: utilisation(USERS_MIX, 25.0, 100, Limits(max_instances=1_000, legacy_rows=share), LAT)["vault"]
        for share in (0.0, 0.25, 1.0)
    }
    assert loads[0.0] == 0.0 and loads[1.0] > 0.0
    assert loads[0.25] == pytest.approx(loads[1.0] / 4)
    assert onboarding_per_minute(Limits()) == pytest.approx(60 * 30 / 2)  # 300 CREATE per 10 s, 2 a tenant


def test_a_request_costs_its_measured_calls_and_a_stale_counter_adds_a_read_and_a_transaction() -> None:
    fresh = per_request({"user_post": 1}, 0.0, LAT)
    stale = per_request({"user_post": 1}, 1.0, LAT)
    assert (fresh.table_calls, fresh.entities_u, fresh.commits_u, fresh.records) == (1, 6, 1, 1)
    assert (stale.table_calls, stale.entities_u) == (3, 13)
    # Measured CPU (6.1 ms, and 4.7 ms more for the failed transaction and its retry) plus the round trips.
    assert fresh.service_s == pytest.approx(0.0061 + 0.020)
    assert stale.service_s == pytest.approx(0.0061 + 0.0047 + 0.010 + 2 * 0.020)
    # On the instance's core: the request's CPU and its change message, sent by the publisher thread.
    assert fresh.cpu_s == pytest.approx((6.1 + QUEUE_MESSAGE_CPU_MS) / 1000)
    assert stale.cpu_s == pytest.approx((6.1 + 4.7 + QUEUE_MESSAGE_CPU_MS) / 1000)


def test_the_users_phase_mix_averages_its_four_requests() -> None:
    d = per_request(USERS_MIX, 1.0, LAT)
    # filter 13.8 ms, POST 60.8 ms, GET 26.7 ms, PATCH 79.4 ms (stale); calls 1 + 3 + 2 + 4 = 10 over 4 requests.
    assert d.service_s == pytest.approx((0.0138 + 0.0608 + 0.0267 + 0.0794) / 4)
    assert d.table_calls == pytest.approx(2.5)
    assert d.commits_u == pytest.approx(0.5)
    assert initial_phases(1_000)[0].mix == USERS_MIX


def test_a_member_check_reads_each_id_eight_at_a_time() -> None:
    """100 members: 100 point reads of one entity each (13 waits of 8 in flight) and 3 transactions of 48 pairs."""
    assert POINT_READ_THREADS == reads.POINT_READ_THREADS
    cost = COSTS["group_add_100"]
    assert (cost.checks, cost.queries, cost.txs, cost.calls, cost.entities_u) == (100, 0, 3, 103, 100)
    assert cost.busy_s(LAT) == pytest.approx(cost.cpu_ms / 1000 + 13 * 0.010 + 3 * 0.020)
    base, _stale, tables = op_vectors("group_add_100", LAT)
    assert dict(base)["busy"] == pytest.approx(cost.busy_s(LAT))  # the simulation charges what the paper does
    assert dict(base)["account"] == 103 + 3  # the calls and three change messages (activity: once a second)
    assert dict(base)["cpu"] == pytest.approx((cost.cpu_ms + 3 * QUEUE_MESSAGE_CPU_MS) / 1000)
    assert tables == ("g",)


def test_a_patchs_three_commits_mark_the_registry_once() -> None:
    d = per_request({"group_add_100": 1}, 1.0, LAT)
    assert (d.commits_g, d.committing_g, d.records) == (3, 1, 3)


def test_the_members_phase_runs_at_what_the_groups_partition_allows() -> None:
    # 209 entities written and 100 more when the counter row is stale: 2,000 / 309 PATCHes a second.
    members = initial_phases(1_000)[2].mix
    assert own_ceiling(members, Limits(), LAT) == pytest.approx(2_000 / 309)
    assert own_ceiling(USERS_MIX, Limits(), LAT) > 25  # the users phase runs at Entra's pace


def test_the_member_checks_fill_the_storage_account_when_members_phases_coincide() -> None:
    members = initial_phases(1_000)[2].mix
    rate = own_ceiling(members, Limits(), LAT)
    # About 105 calls per PATCH (100 reads, 3 transactions, a stale read and retry) plus three change messages,
    # the registry merges and the activity writes: some 725 requests a second per tenant against 20,000.
    at = saturation(members, rate, Limits(max_instances=1_000), LAT)["account"]
    assert at == pytest.approx(20_000 / 725, rel=0.03)


def test_a_scale_out_longer_than_the_token_cache_lists_again() -> None:
    limits = Limits(max_instances=1_000)
    assert cold_vault_reads(25.0, 60, limits) == pytest.approx(3.0)  # every instance reached, once
    assert cold_vault_reads(25.0, 600, limits) == pytest.approx(3.0 + 300 / 300)


def test_a_counter_row_allows_one_commit_per_read_and_transaction() -> None:
    assert counter_ceiling(1.0, LAT) == pytest.approx(1 / 0.030)
    assert counter_ceiling(0.0, LAT) == pytest.approx(1 / 0.020)


def test_registry_merges_are_one_per_instance_and_second_at_most() -> None:
    assert merges_per_s(0.0, 40) == 0.0
    assert merges_per_s(12.5, 1e9) == pytest.approx(12.5, rel=1e-6)  # many instances: one merge per commit
    assert merges_per_s(1_000.0, 40) == pytest.approx(40.0)  # every instance marks once a second
    assert merges_per_s(12.5, 40) == pytest.approx(40 * (1 - math.exp(-12.5 / 40)))


def test_an_instance_is_full_when_its_core_is_or_when_its_concurrency_is() -> None:
    limits = Limits()
    assert (limits.instance_concurrency, limits.instance_cores) == (8, 1.0)  # the Bicep's httpConcurrency; 2,048 MB
    assert instances_needed(cpu=0.5, slots=2.0, limits=limits) == pytest.approx(0.5)  # the core binds
    assert instances_needed(cpu=0.5, slots=8.0, limits=limits) == pytest.approx(1.0)  # 8 requests in flight bind
    # The users phase at 25 req/s on 40 instances: 44.7 ms a request holds 1.12 slots of 8, but 18.6 ms of CPU a
    # request (12.0 of its own and its change message, 6.6 of activity writes, registry merges and tenant rows
    # spread over the instances) keeps 0.47 of a core busy: the core binds.
    load = tenant_load(USERS_MIX, 25.0, 40, LAT, limits)
    assert load.slots == pytest.approx(1.12, abs=0.01)
    assert load.cpu == pytest.approx(0.465, abs=0.005)
    assert load.instances_busy == pytest.approx(load.cpu)
    slow = Latency(read_s=0.100, tx_s=0.200)  # ten times Azure's round trips: the slots bind
    assert tenant_load(USERS_MIX, 25.0, 40, slow, limits).instances_busy > tenant_load(USERS_MIX, 25.0, 40, slow).cpu


def test_instances_saturate_where_tenants_fill_forty_cores() -> None:
    limits = Limits(max_instances=40)
    # 86 tenants at 25 req/s fill 40 cores (about 0.47 a tenant, the instance count settling with the load).
    assert saturation(USERS_MIX, 25.0, limits, LAT)["instances"] == pytest.approx(85.6, abs=1.0)


def test_activity_is_written_once_a_second_per_instance_a_tenant_reached() -> None:
    def activity(instances: float) -> float:
        """The account's calls a second that are neither the requests', their messages', merges' nor tenant rows'."""
        load = tenant_load(USERS_MIX, 25.0, instances, LAT)
        requests = 25.0 * per_request(USERS_MIX, 1.0 - 1.0 / instances, LAT).table_calls
        tenant_rows = instances * (1 - math.exp(-25.0 * 30 / instances)) / 30
        return load.account - requests - load.queue - load.registry_u - load.registry_g - tenant_rows

    assert activity(1) == pytest.approx(1.0)  # 25 requests a second on one instance share one transaction
    assert activity(40) == pytest.approx(merges_per_s(25.0, 40))  # 18.6: each instance the tenant reached, once
    assert activity(1e6) == pytest.approx(25.0, rel=1e-3)  # spread thin, each request has its own


def test_only_a_write_of_another_instance_makes_the_counter_row_stale() -> None:
    """Writers of one tenant in one worker take turns on the counter row (scim.store.tables), so on one instance no
    write pays the failed transaction and the re-read; on two, the ones after the other instance's write do."""
    from collections import defaultdict

    def stale_retries(instances: int) -> float:
        """Entities the 40 writes' failed transactions sent again (execute adds only what a stale row costs)."""
        sim = Simulation(Limits(), LAT, seed=1)
        cohort = sim.add(1, 0.0, [Phase("users", 1, {"user_patch": 1})], [25.0])
        sim.instance_count = instances
        usage: defaultdict[str, float] = defaultdict(float)
        for k in range(40):
            sim.execute(cohort, "user_patch", float(k), usage, set(), set())
        return usage["partition_u"] / COSTS["user_patch"].stale_entities_u

    assert stale_retries(1) == 0  # eight threads of one worker: 2 calls a write (bench/entra_trips.py)
    assert 10 < stale_retries(2) < 30  # about half the writes follow one of the other instance


def test_the_simulation_charges_one_activity_write_per_instance_and_second() -> None:
    sim = Simulation(Limits(), LAT, seed=1)
    cohort = sim.add(1, 0.0, [Phase("users", 1, dict(USERS_MIX))], [25.0])
    usage: dict[str, float] = {"account": 0.0, "cpu": 0.0}
    sim.mark(cohort, set(), {(0, 5), (1, 5), (0, 6)}, usage)
    assert usage["account"] == 3
    assert usage["cpu"] == pytest.approx(3 * ACTIVITY_WRITE_CPU_MS / 1000)


def test_a_token_bucket_grants_the_fraction_its_tokens_cover() -> None:
    bucket = Bucket(100.0)
    assert bucket.allows(50) == 1.0
    assert bucket.allows(400) == pytest.approx(0.25)
    bucket.take(100)
    bucket.refill(0.5)
    assert bucket.tokens == pytest.approx(50)
    bucket.refill(0.5)
    bucket.refill(0.5)
    assert bucket.tokens == pytest.approx(101)  # one second's worth and one more at most (or one tick's, if longer)
    assert Bucket(400.0, burst=10.0).tokens == pytest.approx(4_000)


def test_crossing_interpolates_log_log_where_a_load_reaches_its_limit() -> None:
    assert crossing([(10, 0.5), (20, 2.0)]) == pytest.approx(10 * math.sqrt(2))  # u grows as T squared
    assert crossing([(10, 0.1), (20, 0.2)]) == math.inf
    assert crossing([(10, 1.5), (20, 3.0)]) == 10


def test_a_script_yields_each_units_requests_in_order() -> None:
    ops = list(script([Phase("users", 2, {"a": 1, "b": 1}), Phase("half", 4, {"c": 0.5})]))
    assert ops == ["a", "b", "a", "b", "c", "c"]


def test_a_simulated_tenant_alone_sends_every_request_at_entras_pace_and_the_same_seed_replays_it() -> None:
    def run() -> Simulation:
        sim = Simulation(Limits(), LAT, seed=3)
        sim.add(1, 0.0, [Phase("users", 50, dict(USERS_MIX))], [25.0])
        sim.run(60, 1.0)
        return sim

    first, second = run(), run()
    cohort = first.cohorts[0]
    assert cohort.sent == cohort.total == 200
    assert cohort.done_at == pytest.approx(8.0, abs=1.0)  # 200 requests at 25 a second
    assert first.offered == second.offered
    assert set(COSTS) >= set(USERS_MIX)


def test_a_full_registry_partition_or_queue_delays_delivery_not_entras_requests() -> None:
    sim = Simulation(Limits(), LAT, seed=3)
    for name in ("registry_u", "queue"):
        sim.buckets[name] = Bucket(0.01)
    sim.add(1, 0.0, [Phase("users", 50, dict(USERS_MIX))], [25.0])
    sim.run(60, 1.0)
    assert sim.cohorts[0].done_at == pytest.approx(8.0, abs=1.0)  # as fast as alone: the sweep delivers later
    assert max(sim.offered["registry_u"]) >= 50  # a merge a second asked of a partition allowing 0.01


def test_the_simulation_replays_the_same_whatever_the_hash_seed() -> None:
    """Sets of (table, instance, second) must not decide the order of registry merges: str hashes vary by process."""
    import os
    import subprocess
    import sys

    code = (
        "from bench.capacity.model import Latency, Limits, Phase\n"
        "from bench.capacity.sim import Simulation\n"
        "sim = Simulation(Limits(max_instances=8), Latency(), seed=5)\n"
        "sim.add(3, 0.0, [Phase('u', 40, {'user_post': 1, 'user_patch': 1})], [25.0])\n"
        "sim.run(30, 1.0)\n"
        "print(sum(sim.used['registry_u']), sum(sim.used['account']))\n"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for hash_seed in ("1", "2", "3")
    }
    assert len(outputs) == 1
