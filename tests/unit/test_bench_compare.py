"""The pure parts of bench/compare/run.py: /proc CPU parsing, percentiles, the PATCH plan, our request lines."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from bench.compare.load import SHAPES, PhaseResult, patch_plan, percentile, process_cpu_seconds, stat_cpu_seconds
from bench.compare.report import GOALS, Writers, observed_calls, verdict
from bench.compare.run import storage_calls_from_log


def stat_line(comm: str, utime: int, stime: int) -> str:
    # proc(5): pid (comm) state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime ...
    return f"4242 ({comm}) S 1 4242 4242 0 -1 4194304 100 0 0 0 {utime} {stime} 7 9 20 0 12 0 5000 1000 300\n"


def test_cpu_is_utime_plus_stime_in_ticks() -> None:
    assert stat_cpu_seconds(stat_line("python", 250, 50), ticks_per_second=100) == pytest.approx(3.0)


def test_a_command_name_with_spaces_and_parentheses_does_not_shift_the_fields() -> None:
    line = stat_line("node) S 1 (odd name", 120, 30)
    assert stat_cpu_seconds(line, ticks_per_second=100) == pytest.approx(1.5)


def test_own_process_is_readable() -> None:
    assert process_cpu_seconds(os.getpid()) > 0


def test_percentile_interpolates_between_closest_ranks() -> None:
    values = [4.0, 1.0, 3.0, 2.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 4.0
    assert percentile(values, 50) == pytest.approx(2.5)
    assert percentile(list(map(float, range(1, 101))), 99) == pytest.approx(99.01)
    assert percentile([7.0], 99) == 7.0


def test_percentile_of_nothing_is_nan() -> None:
    assert percentile([], 50) != percentile([], 50)


def test_patch_plan_covers_every_shape_and_names_known_ones() -> None:
    planned = {shape for k in range(6) for shape in patch_plan(k)}
    assert planned == set(SHAPES)


def test_entra_shapes_and_fallbacks_are_patch_requests() -> None:
    for shape in SHAPES.values():
        for build in (shape.entra, shape.fallback):
            if build is not None:
                body = build("ada@contoso.com", "m-1")
                assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]
                assert body["Operations"]


def test_storage_calls_are_read_from_our_request_lines(tmp_path: Path) -> None:
    def line(method: str, operation: str, calls: int) -> str:
        entry = {"event": "scim.request", "method": method, "operation": operation, "status": 200}
        return "2026-01-01 00:00:00 INFO scim " + json.dumps({**entry, "storageCalls": calls}, separators=(",", ":"))

    log = tmp_path / "ours.log"
    log.write_text(
        "\n".join([line("POST", "users", 1), line("POST", "users", 5), "noise", line("PATCH", "user", 2)]) + "\n"
    )
    calls = storage_calls_from_log(log)
    assert calls == {"POST users": [1, 5], "PATCH user": [2]}

    tally = type("Tally", (), {"result": PhaseResult()})()
    tally.result.latencies["POST /Users"] += [0.1, 0.1]
    tally.result.latencies["PATCH /Users/{id}"] += [0.1, 0.1]
    assert observed_calls(tally, calls) == pytest.approx((2 * 3 + 2 * 2) / 4)
    assert observed_calls(tally, {}) is None


def test_verdict() -> None:
    assert verdict(0.7, (0.6, ">=")).endswith("met") and "NOT" not in verdict(0.7, (0.6, ">="))
    assert "NOT met" in verdict(1.3, (1.2, "<="))


def test_one_tenant_writers_ratio_is_post_p50_of_many_over_one() -> None:
    single, many = PhaseResult(), PhaseResult()
    single.latencies["POST /Users"] += [0.010, 0.012, 0.030]
    many.latencies["POST /Users"] += [0.020, 0.024, 0.100, 0.022]
    many.latencies["GET /Users/{id}"] += [9.0]  # only POSTs count
    assert Writers(8, single, many).ratio() == pytest.approx(0.023 / 0.012)


def test_each_store_has_issue_23_goals() -> None:
    assert GOALS["memory"]["throughput"] == (1.0, ">=") and GOALS["memory"]["CPU/op, in-memory stores"] == (1.0, "<=")
    assert GOALS["azurite"]["throughput"] == (0.6, ">=")
    assert GOALS["azurite"]["CPU/op, server incl. storage client"] == (2.0, "<=")
    assert GOALS["azurite"]["writers"] == (2.0, "<=") and GOALS["azurite"]["cold"] == (1.0, "<=")
