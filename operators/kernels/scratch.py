"""Reusable output buffers for the kernel wrappers.

Kernels write into preallocated arrays sized for the worst case (several MB for a 10k batch); allocating them on
every call costs an mmap, page faults and an munmap. A buffer is reused while it is large enough, and wrappers
return copies of the rows actually written, so no result ever aliases a buffer a later call overwrites.
"""

from __future__ import annotations

import threading

import numpy as np

_local = threading.local()


def scratch(name: str, rows: int, tail: tuple[int, ...], dtype) -> np.ndarray:
    """A C-contiguous array of at least `rows` rows (exactly `rows` returned) for this thread, reused."""
    cache = getattr(_local, "buffers", None)
    if cache is None:
        cache = _local.buffers = {}
    buf = cache.get(name)
    if buf is None or buf.shape[0] < rows or buf.shape[1:] != tail or buf.dtype != dtype:
        buf = cache[name] = np.empty((max(rows, 1024), *tail), dtype)
    return buf[:rows]
