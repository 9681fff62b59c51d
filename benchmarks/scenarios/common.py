"""Helpers shared by scenarios: peak memory and a best-of-N timer."""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable


def peak_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024


def best_of(repeats: int, run: Callable[[], None]) -> float:
    """Fastest wall time of `repeats` runs (each run sets up its own state)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best
