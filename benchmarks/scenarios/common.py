"""Helpers shared by scenarios: input sizes, progress on stderr, peak memory, state size and a best-of-N timer."""

from __future__ import annotations

import pickle
import resource
import sys
import time
from collections.abc import Callable

#: Input sizes: "full" for `make bench`, "quick" for a smoke run, "tiny" for the harness test (seconds).
SIZES = ("tiny", "quick", "full")

_START = time.perf_counter()


def pick(size: str, tiny, quick, full):
    """The value for `size` ("tiny", "quick" or "full")."""
    if size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(SIZES)}, not {size!r}")
    return {"tiny": tiny, "quick": quick, "full": full}[size]


def progress(message: str) -> None:
    """One progress line on stderr (stdout stays free for the results document)."""
    print(f"[bench {time.perf_counter() - _START:6.1f}s] {message}", file=sys.stderr, flush=True)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (each scenario runs in a fresh process)."""
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024, 1)


def state_bytes(processor) -> dict:
    """State size per machine of a ShardProcessor: array bytes and pickled snapshot bytes (what recovery stores)."""
    snap = processor.snapshot()
    machines = max(len(snap), 1)
    return {"state_bytes_per_machine": round(snap.nbytes / machines, 1),
            "snapshot_pickle_bytes_per_machine": round(len(pickle.dumps(snap, protocol=5)) / machines, 1)}


def best_of(repeats: int, run: Callable[[], None]) -> float:
    """Fastest wall time of `repeats` runs (each run sets up its own state)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best
