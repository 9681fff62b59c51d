"""ShardState: the versioned, picklable numpy state of one shard, with a compact local machine index.

Memory per machine is fixed: K window slots x signals, SHIFT_SLOTS shift accumulators and a few scalars; nothing
grows with time. Rows are local machines in order of first sight; `machines[row]` is the registry index.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from andon.operators.config import STATE_VERSION
from andon.operators.errors import StateError
from andon.operators.kernels import layout as L


@dataclass
class ShardState:
    """Snapshot of a shard: plain numpy arrays (rows = local machines) plus the layout they were made for."""

    version: int
    machines: np.ndarray  # int32 registry index per local row
    signals: list[str]
    window_slots: int
    shift_slots: int
    rule_slots: tuple[int, int]
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.machines.shape[0])

    @property
    def nbytes(self) -> int:
        return int(sum(a.nbytes for a in self.arrays.values()) + self.machines.nbytes)


def empty_arrays(rows: int, n_sig: int, k: int, shift_slots: int, n_spc: int, n_lim: int) -> dict[str, np.ndarray]:
    a_i = np.zeros((rows, L.N_AI), np.int64)
    a_i[:, L.AI_MAX_TS] = L.NONE
    a_i[:, L.AI_CNT_SHIFT] = L.NONE
    s_i = np.zeros((rows, L.N_SI), np.int64)
    s_i[:, L.SI_LAST_TS] = L.NONE
    sh = np.zeros((rows, shift_slots, L.N_SH), np.int64)
    sh[:, :, L.SH_START] = L.NONE
    r_i = np.zeros((rows, L.N_RI), np.int64)
    r_i[:, L.RI_LAST_TS] = L.NONE
    r_i[:, L.RI_ALARM] = L.NONE
    r_lim = np.zeros((rows, n_lim, L.N_LIM_ST), np.int64)
    r_lim[:, :, L.LIM_SINCE] = L.NONE
    return {
        "a_i": a_i,
        "a_f": np.zeros((rows, L.N_AF), np.float64),
        "w_start": np.full((rows, k), L.NONE, np.int64),
        "w_i": np.zeros((rows, k, n_sig, 2), np.int64),  # count, ts of `last`
        "w_f": np.zeros((rows, k, n_sig, 4), np.float64),  # min, max, sum, last
        "w_c": np.zeros((rows, k, 2), np.int64),  # part and reject increments
        "s_i": s_i,
        "sh": sh,
        "r_i": r_i,
        "r_spc": np.zeros((rows, n_spc, L.N_SPC_ST), np.int64),
        "r_lim": r_lim,
    }


def grow(arrays: dict[str, np.ndarray], rows: int, template: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Arrays with `rows` rows: the existing rows kept, new rows taken from `template` (a 1-row empty state)."""
    out = {}
    for name, arr in arrays.items():
        new = np.repeat(template[name], rows, axis=0)
        new[: arr.shape[0]] = arr
        out[name] = new
    return out


def check_resumable(state: ShardState, signals: list[str], k: int, shift_slots: int,
                    rule_slots: tuple[int, int]) -> None:
    if state.version != STATE_VERSION:
        raise StateError(f"snapshot has state version {state.version}, this andon reads version {STATE_VERSION}",
                         hint="replay from the source (recovery data from another andon version cannot be resumed)")
    if list(state.signals) != list(signals):
        raise StateError("snapshot was taken with other signal columns than the current site configs",
                         hint="restore with the same [machine_classes] signals or start without recovery data")
    if state.window_slots != k or state.shift_slots != shift_slots or tuple(state.rule_slots) != tuple(rule_slots):
        raise StateError("snapshot layout (window slots, shift slots, rule slots) differs from the current config",
                         hint="window_s/allowed_lateness_s or rule lists changed: replay instead of resuming")
