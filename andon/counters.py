"""Counter values every reading must have, checked by every decoder path (where the message's bytes and offset
are still known): a present part or reject counter is a whole number from 0 to its class's counter_max.

The checks that need a machine's history (drops, jumps) run in the shard (andon.operators.kernels.counters); a
reading refused here never reaches them. Example::

    check = CounterRange(registry)
    batch = check.refuse(batch, messages)   # readings with such counters become implausible_counter records
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from andon.readings import InvalidReading, ReadingBatch, Reason, Registry


def _class_of(registry: Registry, site_id: str, machine_id: str):
    site = registry.sites.get(site_id)
    try:
        return site.machine_classes[site.machine(machine_id).machine_class] if site is not None else None
    except KeyError:
        return None


class CounterRange:
    """The counter columns and counter_max of every registry machine, checked over a batch at once."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        n = len(registry)
        part = np.full(n, -1, np.int64)
        rej = np.full(n, -1, np.int64)
        cmax = np.zeros(n, np.float64)
        for i, (site_id, machine_id) in enumerate(registry.keys):
            cls = _class_of(registry, site_id, machine_id)
            if cls is None:  # a registry built by hand, without config for this machine: nothing to check
                continue
            part[i] = registry.signal_index.get(cls.part_counter, -1)
            rej[i] = registry.signal_index.get(cls.reject_counter, -1)
            cmax[i] = cls.counter_max
        self._cmax = cmax
        self._same_cmax = float(cmax[0]) if n and (cmax == cmax[0]).all() else None
        #: (column, machines whose class counts in it, or None for every machine)
        self._columns: list[tuple[int, np.ndarray | None]] = []
        for col in sorted(set(part.tolist()) | set(rej.tolist())):
            if col < 0:
                continue
            mine = (part == col) | (rej == col)
            self._columns.append((col, None if mine.all() else mine))

    def __call__(self, batch: ReadingBatch) -> tuple[np.ndarray | None, list[tuple[int, str, float, str]]]:
        """(rows to keep, or None when all are fine; [(row, signal, value, what is wrong)])."""
        if len(batch) == 0 or not self._columns:
            return None, []
        bad = None
        for col, mine in self._columns:
            v = batch.values[:, col]
            limit = self._same_cmax if self._same_cmax is not None else self._cmax[batch.machine]
            # NaN (absent) compares False everywhere; v != floor(v) also catches infinities' neighbours
            wrong = (v < 0) | (v > limit) | ((v != np.floor(v)) & ~np.isnan(v))
            if mine is not None:
                wrong &= mine[batch.machine]
            if wrong.any():
                bad = wrong if bad is None else bad | wrong
        if bad is None:
            return None, []
        refused = []
        names = self.registry.signals
        for r in np.flatnonzero(bad).tolist():
            m = int(batch.machine[r])
            for col, mine in self._columns:
                v = float(batch.values[r, col])
                if (mine is None or mine[m]) and v == v and (v < 0 or v > self._cmax[m] or v != np.floor(v)):
                    if v < 0:
                        what = "is negative"
                    elif v > self._cmax[m]:
                        what = f"is above counter_max {int(self._cmax[m])}"
                    else:
                        what = "is not a whole number"
                    refused.append((r, names[col], v, f"{names[col]}={v:g} {what}"))
                    break
        return ~bad, refused

    def refuse(self, batch: ReadingBatch, messages: Sequence[bytes]) -> ReadingBatch:
        """`batch` (decoded from `messages`) less its readings with counters out of range; each message with such
        readings becomes one `implausible_counter` record (the first refusal's text, and how many)."""
        keep, refused = self(batch)
        if keep is None:
            return batch
        by_message: dict[int, list[str]] = {}
        for r, _, _, detail in refused:
            by_message.setdefault(int(batch.message_index[r]), []).append(detail)
        invalid = list(batch.invalid)
        for i, details in by_message.items():
            more = f" ({len(details)} readings of this message refused)" if len(details) > 1 else ""
            raw = messages[i]
            invalid.append(InvalidReading(Reason.IMPLAUSIBLE_COUNTER, details[0] + more,
                                          raw if len(raw) <= 4096 else raw[:4096], i))
        rows = np.flatnonzero(keep)
        return ReadingBatch(batch.machine[rows], batch.ts[rows], batch.seq[rows], batch.values[rows], batch.signals,
                            invalid, batch.message_index[rows])
