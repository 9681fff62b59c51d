"""Shift calendars of a shard's sites as the sorted arrays the kernels search, cached over a time range.

Per site: shifts (start, end) sorted and non-overlapping, and planned production segments (each shift minus its
breaks) tagged with their shift. A site without shifts has one segment covering all time and no shifts, so
every stop can be downtime but no shift rows are produced.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from andon.config import SiteConfig
from andon.errors import ConfigError
from andon.operators.config import CALENDAR_MARGIN_DAYS
from andon.operators.kernels.layout import FAR, NONE
from andon.shifts import Shift, ShiftSchedule

_DAY_MS = 86_400_000


def productive_segments(shift: Shift) -> list[tuple[int, int]]:
    """[start, end) pieces of `shift` outside its breaks, in time order."""
    pieces = [(shift.start_ms, shift.end_ms)]
    for b0, b1 in sorted(shift.breaks_ms):
        out = []
        for a, b in pieces:
            if b1 <= a or b0 >= b:
                out.append((a, b))
                continue
            if b0 > a:
                out.append((a, b0))
            if b1 < b:
                out.append((b1, b))
        pieces = out
    return [(a, b) for a, b in pieces if b > a]


class Calendars:
    """Kernel calendar arrays for every site of a shard, rebuilt only when a batch leaves the cached range."""

    def __init__(self, sites: Sequence[SiteConfig]) -> None:
        self.sites = list(sites)
        self.schedules = [ShiftSchedule.from_site(s) for s in self.sites]
        self._range: tuple[int, int] | None = None
        self._arrays: dict[str, np.ndarray] | None = None
        self._shifts: dict[tuple[int, int], Shift] = {}

    def shift(self, site_index: int, start_ms: int) -> Shift:
        """The shift of site `site_index` that starts at start_ms (memoized: every closed window asks)."""
        key = (site_index, start_ms)
        found = self._shifts.get(key)
        if found is not None:
            return found
        for shift in self.schedules[site_index].shifts_between(start_ms, start_ms + 1):
            if shift.start_ms == start_ms:
                if len(self._shifts) >= 4096:  # a long run: forget old shifts rather than grow forever
                    self._shifts.clear()
                self._shifts[key] = shift
                return shift
        raise KeyError((site_index, start_ms))

    def covering(self, lo_ms: int, hi_ms: int) -> dict[str, np.ndarray]:
        if self._arrays is not None and self._range[0] <= lo_ms and hi_ms <= self._range[1]:
            return self._arrays
        margin = CALENDAR_MARGIN_DAYS * _DAY_MS
        lo, hi = lo_ms - margin, hi_ms + margin
        sh_start, sh_end, seg_start, seg_end, seg_key, seg_kend = [], [], [], [], [], []
        site_sh = np.zeros((len(self.sites), 2), np.int64)
        site_seg = np.zeros((len(self.sites), 2), np.int64)
        for k, (site, schedule) in enumerate(zip(self.sites, self.schedules, strict=True)):
            site_sh[k, 0], site_seg[k, 0] = len(sh_start), len(seg_start)
            if not site.calendar.shifts:
                seg_start.append(-FAR)
                seg_end.append(FAR)
                seg_key.append(NONE)
                seg_kend.append(NONE)
            previous = None
            for shift in schedule.shifts_between(lo, hi):
                if previous is not None and shift.start_ms < previous.end_ms:
                    raise ConfigError(f"site {site.site.id!r}: shifts {previous.shift_id} and {shift.shift_id} "
                                      "overlap", hint="make the [[calendar.shifts]] of a site non-overlapping")
                previous = shift
                sh_start.append(shift.start_ms)
                sh_end.append(shift.end_ms)
                for a, b in productive_segments(shift):
                    seg_start.append(a)
                    seg_end.append(b)
                    seg_key.append(shift.start_ms)
                    seg_kend.append(shift.end_ms)
            site_sh[k, 1], site_seg[k, 1] = len(sh_start), len(seg_start)

        def arr(values: list[int]) -> np.ndarray:
            return np.array(values, np.int64) if values else np.zeros(0, np.int64)

        self._arrays = {
            "sh_start": arr(sh_start), "sh_end": arr(sh_end),
            "site_sh_lo": np.ascontiguousarray(site_sh[:, 0]), "site_sh_hi": np.ascontiguousarray(site_sh[:, 1]),
            "seg_start": arr(seg_start), "seg_end": arr(seg_end), "seg_key": arr(seg_key),
            "seg_kend": arr(seg_kend),
            "site_seg_lo": np.ascontiguousarray(site_seg[:, 0]),
            "site_seg_hi": np.ascontiguousarray(site_seg[:, 1]),
        }
        self._range = (lo, hi)
        return self._arrays
