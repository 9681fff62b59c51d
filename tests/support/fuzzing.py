"""How many examples a property test draws: its CI number, times ANDON_FUZZ_SCALE under `make fuzz`."""

from __future__ import annotations

import os


def examples(n: int) -> int:
    """`n` in the normal suite; `n * ANDON_FUZZ_SCALE` when `make fuzz` sets it."""
    return n * max(1, int(os.environ.get("ANDON_FUZZ_SCALE", "1")))
