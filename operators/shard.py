"""ShardProcessor: the numba kernels behind one pure-Python API that a dataflow shard (bytewax or other) drives.

Example::

    proc = ShardProcessor([site], registry)
    out = proc.process(batch)        # events, telemetry_agg columns, shift_oee rows, late reading indices
    state = proc.snapshot()          # picklable; ShardProcessor([site], registry, state=state) resumes exactly
    out = proc.flush()               # end of input: close every window and open shift

Everything is per machine and driven by event time only (each machine's watermark is its greatest event time
minus allowed lateness), so the union of outputs does not depend on how readings are cut into batches, how
machines are spread over shards, or where a snapshot was taken.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from andon.config import SiteConfig
from andon.events import Event
from andon.operators import config as C
from andon.operators.calendar import Calendars
from andon.operators.emit import (
    concat_windows,
    empty_windows,
    rule_events,
    shift_rows,
    state_events,
    window_columns,
    window_events,
)
from andon.operators.errors import BatchError
from andon.operators.kernels import layout as L
from andon.operators.kernels.aggregate import aggregate, aggregate_flush, window_slots
from andon.operators.kernels.calendar import state_bounds
from andon.operators.kernels.counters import guard_counters
from andon.operators.kernels.rules import detect_rules
from andon.operators.kernels.states import detect_states, flush_states
from andon.operators.params import MachineInfo, build_params, rule_slots, site_timing
from andon.operators.state import (
    ShardState,
    check_resumable,
    empty_arrays,
    grow,
    live_arrays,
    snapshot_arrays,
)
from andon.readings import ReadingBatch, Registry
from andon.wire.labels import name_of


def sort_by_machine(local: np.ndarray) -> np.ndarray:
    """Stable order grouping readings by local machine (arrival order kept); radix sort for small indices."""
    if local.size and int(local.max()) < 2**16:
        return np.argsort(local.astype(np.uint16), kind="stable").astype(np.int64, copy=False)
    return np.argsort(local, kind="stable").astype(np.int64, copy=False)


def _joined(first: ReadingBatch, then: ReadingBatch) -> ReadingBatch:
    return ReadingBatch(np.concatenate([first.machine, then.machine]).astype(np.int32, copy=False),
                        np.concatenate([first.ts, then.ts]), np.concatenate([first.seq, then.seq]),
                        np.concatenate([first.values, then.values]), then.signals)


_KINDS = {
    L.G_DROP: "fell from {ref:g} (at ts={ref_ts}) and the next reading went on from {ref:g}: a glitch, not a reset",
    L.G_JUMP: "rose from {ref:g} (at ts={ref_ts}) by more than the {limit:g} parts the machine can make in {dt:g} s "
              "(ideal cycle {ideal:g} s x counter_jump_factor {factor:g} + counter_jump_slack {slack}), and the next "
              "reading did not go on from it",
    L.G_UNCONFIRMED: "{moved} from {ref:g} (at ts={ref_ts}) and no later reading confirmed it (end of input, or "
                     f"{C.COUNTER_HOLD_READINGS} readings of the machine waited behind it)",
}


def implausible_detail(signal: str, value: float, kind: int, ref: float, ref_ts: int, ts: int, cls,
                       ideal_s: float) -> str:
    """What is wrong with a refused counter value, in words (the dead letter's detail)."""
    if kind == L.G_RANGE:
        if value < 0:
            what = "is negative"
        elif value > cls.counter_max:
            what = f"is above counter_max {cls.counter_max}"
        else:
            what = "is not a whole number"
        return f"{signal}={value:g} {what}"
    dt = max(ts - ref_ts, 0) / 1000
    limit = math.floor(dt * cls.counter_jump_factor / ideal_s) + cls.counter_jump_slack
    return f"{signal}={value:g} " + _KINDS[kind].format(
        ref=ref, ref_ts=ref_ts, limit=limit, dt=dt, ideal=ideal_s, factor=cls.counter_jump_factor,
        slack=cls.counter_jump_slack, moved="fell" if value < ref else "jumped")


def _writable(arr: np.ndarray) -> np.ndarray:
    """Kernels are compiled for writable arrays; a read-only array (e.g. zero-copy Arrow) would compile anew."""
    return arr if arr.flags.writeable else arr.copy()


@dataclass
class ShardOutput:
    """What one process()/flush() call produced."""

    events: list[Event] = field(default_factory=list)
    windows: dict[str, np.ndarray] = field(default_factory=empty_windows)  # telemetry_agg, long format
    shifts: list[dict] = field(default_factory=list)  # shift_oee rows
    late: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # input indices routed as late
    #: readings whose counters are implausible (refused by the counter guard), with what is wrong
    implausible: list[Implausible] = field(default_factory=list)
    #: the readings this call read, when they are more than the batch given (readings held by an earlier call
    #: first); `late` indexes these
    input: ReadingBatch | None = None


@dataclass(frozen=True, slots=True)
class Implausible:
    """A reading the counter guard refused: its columns and why (the dead letter is made from these)."""

    machine: int  # registry index
    ts: int
    seq: int
    values: np.ndarray  # one row, the registry's signals
    signal: str
    value: float
    detail: str


class ShardProcessor:
    """Windowed aggregation, machine state, counters, shift OEE and rules for the machines one shard sees."""

    def __init__(self, sites: Sequence[SiteConfig], registry: Registry, *, state: ShardState | None = None) -> None:
        self.sites = list(sites)
        if not self.sites:
            raise ValueError("ShardProcessor needs at least one SiteConfig")
        self.registry = registry
        self._site_index = {s.site.id: k for k, s in enumerate(self.sites)}
        self._window_ms = [site_timing(s)[0] for s in self.sites]
        self._lateness_ms = np.array([site_timing(s)[1] for s in self.sites], np.int64)
        self._k = max(window_slots(*site_timing(s)) for s in self.sites)
        self._rule_slots = rule_slots(self.sites)
        self._calendars = Calendars(self.sites)
        self._dims = (len(registry.signals), self._k, C.SHIFT_SLOTS, *self._rule_slots)
        if state is None:
            self._machines: list[int] = []
            self._arrays = empty_arrays(C.INITIAL_MACHINES, *self._dims)
        else:
            check_resumable(state, registry.signals, self._k, C.SHIFT_SLOTS, self._rule_slots)
            self._machines = [int(m) for m in state.machines]
            rows = max(C.INITIAL_MACHINES, len(self._machines))
            self._arrays = live_arrays(state.arrays, rows, self._dims)
        #: readings held by the counter guard, waiting for a later reading of their machine
        self._held: ReadingBatch | None = None
        held = getattr(state, "held", None) if state is not None else None
        if held is not None:
            self._held = ReadingBatch(held["machine"].astype(np.int32), held["ts"], held["seq"], held["values"],
                                      list(registry.signals))
        #: names of the work-order codes seen (andon.wire.labels), kept in snapshots
        self._labels: dict[int, str] = dict(getattr(state, "labels", None) or {}) if state is not None else {}
        names = {n for site in self.sites for n in site.label_signal_names()}
        self._label_columns = np.array([j for j, n in enumerate(registry.signals) if n in names], np.int16)
        self._reindex()

    # ---- machines ------------------------------------------------------------------------------------------

    def _reindex(self) -> None:
        reg = np.array(self._machines, np.int64)
        self._local_of_reg = np.full(len(self.registry), -1, np.int64)  # registry index -> local row (dense)
        self._local_of_reg[reg] = np.arange(reg.size, dtype=np.int64)
        self._reg_of_local = reg.astype(np.int32)
        self._params, self._infos = build_params(self.registry, self._machines, self._site_index,
                                                 *self._rule_slots)

    def _local(self, machine: np.ndarray) -> np.ndarray:
        """Local row per reading, adding machines seen for the first time (in registry order)."""
        lo, hi = int(machine.min()), int(machine.max())
        if lo < 0 or hi >= len(self.registry):
            raise BatchError(f"machine index {lo if lo < 0 else hi} is not in the registry",
                             hint="decode batches with a BatchDecoder built on the same Registry")
        local = self._local_of_reg[machine]
        if local.min() >= 0:
            return local
        new = np.unique(machine[local < 0]).astype(np.int64)
        for m in new.tolist():
            site_id = self.registry.keys[m][0]
            if site_id not in self._site_index:
                raise BatchError(f"machine {self.registry.keys[m]} belongs to site {site_id!r}, which this "
                                 "shard has no config for", hint="pass every site's SiteConfig to the shard")
        self._machines.extend(new.tolist())
        rows = self._arrays["s_i"].shape[0]
        if len(self._machines) > rows:
            while rows < len(self._machines):
                rows *= 2
            self._arrays = grow(self._arrays, rows, self._dims)
        self._reindex()
        return self._local_of_reg[machine]

    def _calendar(self, lo: int, hi: int, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """Shift calendar covering [lo, hi] and the open state of `rows` (local machines; all when None)."""
        nm = len(self._machines)
        if nm:
            # only the machines this batch touches (when given): the cost does not grow with the shard's size
            rows = np.arange(nm, dtype=np.int64) if rows is None else rows
            a = self._arrays
            lo, hi = state_bounds(rows, lo, hi, 2 * max(self._window_ms), a["s_i"], a["a_i"], self._params["p_i"],
                                  self._params["prof"])
        return self._calendars.covering(lo, hi + 1)

    # ---- processing ----------------------------------------------------------------------------------------

    def _check(self, batch: ReadingBatch) -> None:
        n = len(batch)
        if list(batch.signals) != self.registry.signals:
            raise BatchError("batch signal columns differ from the registry's",
                             hint="decode with a BatchDecoder built on the registry given to the shard")
        if batch.machine.shape != (n,) or batch.values.shape != (n, len(self.registry.signals)):
            raise BatchError(f"batch columns have inconsistent shapes: machine {batch.machine.shape}, ts {(n,)}, "
                             f"values {batch.values.shape}")

    def process(self, batch: ReadingBatch) -> ShardOutput:
        """Process readings (any machines, in arrival order); returns what they made final."""
        self._check(batch)
        if batch.labels:
            self._remember(batch.labels)
        if self._held is not None:  # readings an earlier batch held go first (their machines' order is kept)
            batch = _joined(self._held, batch)
            self._held = None
            out = self._process(batch, eof=False)
            out.input = batch
            return out
        return self._process(batch, eof=False)

    def _remember(self, labels: dict[int, str]) -> None:
        """Keep the names of new codes; past C.MAX_LABELS, only those of the machines' running operations stay."""
        self._labels.update(labels)
        if len(self._labels) > C.MAX_LABELS:
            cols = [L.SI_OP_WO, L.SI_RR_CUR, *range(L.SI_RR_CODE, L.SI_RR_CODE + L.REASON_SLOTS)]
            running = set(self._arrays["s_i"][: len(self._machines)][:, cols].ravel().tolist())
            self._labels = {k: v for k, v in self._labels.items() if k in running or k in labels}

    def _label(self, code: int) -> str | None:
        return None if code == L.NONE else name_of(code, self._labels)

    def _process(self, batch: ReadingBatch, *, eof: bool) -> ShardOutput:
        n = len(batch)
        if n == 0:
            return ShardOutput()
        local = self._local(batch.machine)
        ts = _writable(np.ascontiguousarray(batch.ts, dtype=np.int64))
        values = _writable(np.ascontiguousarray(batch.values, dtype=np.float64))
        order = sort_by_machine(local)
        # The kernels walk readings grouped by machine in arrival order; gathering the columns into that order
        # first makes every kernel access sequential (the walk order is then simply 0..n-1).
        local, ts, values = local[order], ts[order], np.take(values, order, axis=0)
        a = self._arrays
        verdict, why, ref_v, ref_ts, rebase = guard_counters(local, ts, values, self._params, a,
                                                             roll_fraction=C.COUNTER_ROLLOVER_FRACTION,
                                                             max_held=C.COUNTER_HOLD_READINGS, eof=eof)
        implausible: list[Implausible] = []
        if verdict.any():  # some reading held or refused (rare): the others go on
            implausible = self._refused(batch, order, local, ts, values, verdict, why, ref_v, ref_ts)
            held = verdict == L.G_HOLD
            if held.any():
                rows = order[held]
                self._held = ReadingBatch(batch.machine[rows], ts[held], batch.seq[rows], values[held],
                                          batch.signals)
            keep = verdict == L.G_ACCEPT
            order, local, ts, values, rebase = order[keep], local[keep], ts[keep], values[keep], rebase[keep]
            if order.size == 0:
                return ShardOutput(implausible=implausible)
        n = order.size
        walk = np.arange(n, dtype=np.int64)
        n_machines = int(np.count_nonzero(local[1:] != local[:-1])) + 1
        starts = np.flatnonzero(np.concatenate(([True], local[1:] != local[:-1])))
        cal = self._calendar(int(ts.min()), int(ts.max()), local[starts])
        late, d_parts, d_rej, closed = aggregate(walk, local, ts, values, self._params, cal, a,
                                                 n_machines=n_machines, roll_fraction=C.COUNTER_ROLLOVER_FRACTION,
                                                 rebase=rebase)
        ev, so = detect_states(walk, local, ts, values, d_parts, d_rej, self._params, cal, a,
                               n_machines=n_machines)
        rev, revx = detect_rules(walk, local, ts, values, d_parts, self._params, a)
        out = self._output(closed, ev, so, rev, revx, np.sort(order[late]))
        out.implausible = implausible
        return out

    def _refused(self, batch, order, local, ts, values, verdict, why, ref_v, ref_ts) -> list[Implausible]:
        out = []
        for r in np.flatnonzero(verdict == L.G_REFUSE).tolist():
            info = self._infos[int(local[r])]
            cls = self.sites[info.site_index].machine_classes[
                self.sites[info.site_index].machine(info.machine).machine_class]
            counter, kind = divmod(int(why[r]), 8)
            signal = cls.part_counter if counter == 0 else cls.reject_counter
            value = float(values[r, self.registry.signal_index[signal]])
            out.append(Implausible(int(batch.machine[order[r]]), int(ts[r]), int(batch.seq[order[r]]),
                                   values[r].copy(), signal, value,
                                   implausible_detail(signal, value, kind, float(ref_v[r]), int(ref_ts[r]),
                                                      int(ts[r]), cls, info.ideal_cycle_time_s)))
        return out

    def flush(self) -> ShardOutput:
        """End of input: readings still held are judged (the one whose drop or jump nothing confirmed is refused),
        then every open window and every open shift closes (shifts with data only)."""
        held = None
        if self._held is not None:
            batch, self._held = self._held, None
            held = self._process(batch, eof=True)
            held.input = batch
        out = self._flush()
        if held is None:
            return out
        return ShardOutput(events=held.events + out.events, windows=concat_windows([held.windows, out.windows]),
                           shifts=held.shifts + out.shifts, late=held.late, implausible=held.implausible,
                           input=held.input)

    def _flush(self) -> ShardOutput:
        nm = len(self._machines)
        if nm == 0:
            return ShardOutput()
        machines = np.arange(nm, dtype=np.int64)
        a_i = self._arrays["a_i"][:nm]
        seen = a_i[:, L.AI_MAX_TS] != L.NONE
        t = int(a_i[seen, L.AI_MAX_TS].max()) if seen.any() else 0
        cal = self._calendar(t, t)
        closed = aggregate_flush(machines, self._params, cal, self._arrays)
        ev, so = flush_states(machines, self._params, cal, self._arrays)
        return self._output(closed, ev, so, np.zeros((0, L.N_EV), np.int64), np.zeros(0), np.zeros(0, np.int64))

    def _output(self, closed, ev, so, rev, revx, late) -> ShardOutput:
        infos = self._infos
        events = window_events(closed, infos, self._calendars)
        events += state_events(ev, infos, self._label)
        events += rule_events(rev, revx, infos, self._window_ms.__getitem__)
        windows = window_columns(closed, self._reg_of_local)
        if self._label_columns.size and windows["signal"].size:  # codes, not measurements: no aggregates
            keep = ~np.isin(windows["signal"], self._label_columns)
            windows = {k: v[keep] for k, v in windows.items()}
        windows = concat_windows([windows])
        shifts = shift_rows(so, infos, self._calendars)
        self._mark_final(windows, shifts, so)
        return ShardOutput(events=events, windows=windows, shifts=shifts, late=late)

    def _mark_final(self, windows: dict[str, np.ndarray], shifts: list[dict], so: np.ndarray) -> None:
        """Say of each window and shift row whether it is final (its end is at or before the machine's watermark:
        its last reading's event time minus the site's allowed lateness) or provisional (closed by the end of
        input), and the event time its data covers up to (its end when final, else the machine's last reading)."""
        max_ts = self._arrays["a_i"][: len(self._machines), L.AI_MAX_TS]
        site = np.array([info.site_index for info in self._infos], np.int64)
        watermark = max_ts - self._lateness_ms[site] if site.size else max_ts
        local = self._local_of_reg[windows["machine"]] if windows["machine"].size else np.zeros(0, np.int64)
        end = windows["window_end_ms"]
        windows["final"] = end <= watermark[local]
        windows["covers_until_ms"] = np.minimum(end, max_ts[local])
        for row, m in zip(shifts, so[:, L.SO_M].tolist() if len(shifts) else [], strict=True):
            row["final"] = bool(row["shift_end_ms"] <= watermark[m])
            row["covers_until_ms"] = int(min(row["shift_end_ms"], max_ts[m]))

    # ---- state ---------------------------------------------------------------------------------------------

    def snapshot(self) -> ShardState:
        """A copy of the state (plain numpy, picklable, versioned) for recovery."""
        nm = len(self._machines)
        held = None
        if self._held is not None:
            h = self._held
            held = {"machine": h.machine.copy(), "ts": h.ts.copy(), "seq": h.seq.copy(), "values": h.values.copy()}
        return ShardState(version=C.STATE_VERSION, machines=np.array(self._machines, np.int32),
                          signals=list(self.registry.signals), window_slots=self._k, shift_slots=C.SHIFT_SLOTS,
                          rule_slots=tuple(self._rule_slots),
                          arrays=snapshot_arrays(self._arrays, nm), held=held, labels=dict(self._labels))

    @property
    def machines(self) -> list[MachineInfo]:
        return list(self._infos)

    def late_counts(self) -> dict[tuple[str, str], int]:
        """Late readings routed so far, per (site, machine)."""
        counts = self._arrays["a_i"][: len(self._machines), L.AI_LATE]
        return {self.registry.keys[m]: int(c) for m, c in zip(self._machines, counts.tolist(), strict=True)}
