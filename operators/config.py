"""Tunables of the operators and their kernels, in one place (kernels read no mutable globals).

Numba's on-disk cache is on for every kernel; point ``NUMBA_CACHE_DIR`` at a writable directory (for example a
volume in the container image) to keep compiled kernels between runs. ``warm_up()`` in
``andon.operators.kernels`` compiles or loads every kernel for the dtypes below at start-up.
"""

from __future__ import annotations

import numpy as np

#: Version of the ShardState layout; bump when arrays are added, removed or change meaning.
STATE_VERSION = 4  # 2: per-operation counts in s_i (SI_OP_*); 3: the operation's work order (SI_OP_WO);
# 4: rejects per reason (SI_RR_*)

#: Dtypes the kernels are compiled for (the public wrappers convert to these).
TS_DTYPE = np.int64
VALUE_DTYPE = np.float64
INDEX_DTYPE = np.int64

#: Shift accumulators kept open per machine (a shift closes once the machine's watermark passes its end).
SHIFT_SLOTS = 4

#: Cumulative counters are judged by the counter guard (kernels/counters.py) before they count: a drop or a jump
#: faster than the machine can make is held until the next reading confirms it (a reset) or refutes it (a glitch,
#: dead-lettered as implausible_counter). At most this many readings of a machine wait behind a held one; then the
#: held reading is refused as unconfirmed.
COUNTER_HOLD_READINGS = 64
#: Rollover: previous value within this fraction of counter_max below it and the new value within this
#: fraction above 0 → the counter wrapped; the increment is (counter_max - previous) + new + 1.
COUNTER_ROLLOVER_FRACTION = 0.1

#: Calendar arrays handed to the kernels are computed for the batch's time range plus this margin on each
#: side, and reused while later batches fall inside (days).
CALENDAR_MARGIN_DAYS = 2

#: Initial number of machine rows in a shard's state; grows by doubling on first sight of new machines.
INITIAL_MACHINES = 16

#: Work-order names a shard keeps (andon.wire.labels); beyond it only the running operations' names stay.
MAX_LABELS = 4096
