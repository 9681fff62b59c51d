"""ShardState: the versioned, picklable numpy state of one shard, with a compact local machine index.

Memory per machine is fixed: K window slots x signals, SHIFT_SLOTS shift accumulators and a few scalars; nothing
grows with time. Rows are local machines in order of first sight; `machines[row]` is the registry index.
The live arrays a ShardProcessor keeps are laid out for the kernels (`empty_arrays`); snapshots hold every array
as [machines, ...] (`snapshot_arrays` / `live_arrays` convert exactly).
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
    #: readings the counter guard holds until a later one confirms or refutes their drop or jump: registry machine,
    #: ts, seq and values columns (None: none)
    held: dict[str, np.ndarray] | None = None
    #: names of the work-order codes in use (andon.wire.labels): code -> name
    labels: dict[int, str] | None = None

    def __len__(self) -> int:
        return int(self.machines.shape[0])

    @property
    def nbytes(self) -> int:
        return int(sum(a.nbytes for a in self.arrays.values()) + self.machines.nbytes)


def empty_arrays(rows: int, n_sig: int, k: int, shift_slots: int, n_spc: int, n_lim: int) -> dict[str, np.ndarray]:
    """Live state arrays of `rows` machines, laid out for the kernels (see `snapshot_arrays` for the stored form).

    A batch touches each of its machines' rows once per kernel, so the bytes per machine a reading drags through
    the caches set the speed with many machines. The live layout keeps those dense: window slots are slot-major
    (w_i/w_f[K, rows, ...]: a batch's readings mostly fall in one slot), shift slots are split into the keys
    searched on every reading, the counts added on every reading and the durations added on state changes.
    """
    a_i = np.zeros((rows, L.N_AI), np.int64)
    a_i[:, L.AI_MAX_TS] = L.NONE
    a_i[:, L.AI_CNT_SHIFT] = L.NONE
    s_i = np.zeros((rows, L.N_SI), np.int64)
    s_i[:, L.SI_LAST_TS] = L.NONE
    sh_key = np.zeros((rows, shift_slots, L.N_SK), np.int64)
    sh_key[:, :, 0] = L.NONE
    r_i = np.zeros((rows, L.N_RI), np.int64)
    r_i[:, L.RI_LAST_TS] = L.NONE
    r_i[:, L.RI_ALARM] = L.NONE
    r_lim = np.zeros((rows, n_lim, L.N_LIM_ST), np.int64)
    r_lim[:, :, L.LIM_SINCE] = L.NONE
    g_i = np.zeros((rows, L.N_GI), np.int64)
    g_i[:, L.GI_MAX_TS] = L.NONE
    return {
        "a_i": a_i,
        "a_f": np.zeros((rows, L.N_AF), np.float64),
        "w_start": np.full((rows, k), L.NONE, np.int64),
        "w_i": np.zeros((k, rows, n_sig, 2), np.int64),  # count, ts of `last`
        "w_f": np.zeros((k, rows, n_sig, 4), np.float64),  # min, max, sum, last
        "w_c": np.zeros((rows, k, 2), np.int64),  # part and reject increments
        "s_i": s_i,
        "sh_key": sh_key,
        "sh_cnt": np.zeros((rows, shift_slots, L.N_SC), np.int64),
        "sh_dur": np.zeros((rows, shift_slots, L.N_SD), np.int64),
        "r_i": r_i,
        "r_spc": np.zeros((rows, n_spc, L.N_SPC_ST), np.int64),
        "r_lim": r_lim,
        "g_i": g_i,  # counter guard: the last accepted reading's counters
        "g_f": np.zeros((rows, L.N_GF), np.float64),
    }


_SLOT_MAJOR = ("w_i", "w_f")  # live arrays whose machine axis is axis 1
_SH = (("sh_key", L.SH_START), ("sh_dur", L.SH_DT), ("sh_cnt", L.SH_TOTAL))  # live shift arrays, first sh column


def snapshot_arrays(live: dict[str, np.ndarray], machines: int) -> dict[str, np.ndarray]:
    """Copies of the first `machines` rows in the stored form: every array [machines, ...], shift slots joined
    into sh[machines, slots, N_SH]."""
    out = {}
    for name, arr in live.items():
        if name in _SLOT_MAJOR:
            out[name] = np.ascontiguousarray(arr[:, :machines].swapaxes(0, 1))
        elif name == "sh_key":
            out["sh"] = np.concatenate([live[part][:machines] for part, _ in _SH], axis=2)
        elif not name.startswith("sh_"):
            out[name] = arr[:machines].copy()
    return out


def live_arrays(stored: dict[str, np.ndarray], rows: int, dims: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Live arrays of `rows` rows from stored-form arrays (a snapshot's): their rows kept, the others empty."""
    out = empty_arrays(rows, *dims)
    for name, arr in stored.items():
        arr = np.asarray(arr)
        n = arr.shape[0]
        if name in _SLOT_MAJOR:
            out[name][:, :n] = arr.swapaxes(0, 1)
        elif name == "sh":
            for part, col in _SH:
                out[part][:n] = arr[:, :, col:col + out[part].shape[2]]
        else:
            out[name][:n] = arr
    return out


def grow(live: dict[str, np.ndarray], rows: int, dims: tuple[int, ...]) -> dict[str, np.ndarray]:
    """Live arrays with `rows` rows: the existing rows kept, new rows empty."""
    out = empty_arrays(rows, *dims)
    for name, arr in live.items():
        if name in _SLOT_MAJOR:
            out[name][:, : arr.shape[1]] = arr
        else:
            out[name][: arr.shape[0]] = arr
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
