"""Is a check linear in its input? Its CPU time at 8x the input against 1x, with room for a busy machine.

Linear work gives a ratio near 8, quadratic near 64; the bar of 32 (half of quadratic) tells them apart without
depending on the machine's speed or load (process time counts this process only; each size takes the best of
several runs; the cyclic garbage collector is paused while timing, since a full collection walks the whole heap
and made a linear parse look 22x slower at 8x the input on a loaded CI machine).
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

GROWTH = 8
MAX_RATIO = 32.0


def cpu_seconds(work: Callable[[], object], repeats: int = 5) -> float:
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        gc.disable()
        try:
            started = time.process_time()
            work()
            best = min(best, time.process_time() - started)
        finally:
            gc.enable()
    return best


def assert_linear(work: Callable[[int], object], size: int) -> None:
    """work(n) at size and at GROWTH x size: its time may grow at most MAX_RATIO times (quadratic: 64)."""
    small = cpu_seconds(lambda: work(size))
    large = cpu_seconds(lambda: work(size * GROWTH))
    ratio = large / max(small, 1e-4)
    assert ratio < MAX_RATIO, f"{GROWTH}x the input took {ratio:.1f}x the time ({small:.4f} s -> {large:.4f} s)"
