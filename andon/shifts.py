"""Shift calendar: turns the site's local-time shift patterns into UTC intervals, daylight-saving aware.

A shift's planned stops (`breaks_ms`) are its breaks and the parts of the site's planned stops inside it, merged.

Example::

    cal = ShiftSchedule.from_site(site)
    for shift in cal.shifts_between(start_ms, end_ms):
        print(shift.shift_id, shift.planned_s)   # e.g. "2026-03-28-night" 23400.0 (7 h - 30 min break)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from andon.config import WEEKDAYS, ShiftCalendar, SiteConfig


@dataclass(frozen=True, slots=True)
class Shift:
    """One concrete shift: UTC epoch-millisecond bounds, its breaks, and its id (local start date + name)."""

    shift_id: str
    name: str
    start_ms: int
    end_ms: int
    breaks_ms: tuple[tuple[int, int], ...]

    @property
    def length_s(self) -> float:
        return (self.end_ms - self.start_ms) / 1000.0

    @property
    def break_s(self) -> float:
        return sum(max(0, min(e, self.end_ms) - max(s, self.start_ms)) for s, e in self.breaks_ms) / 1000.0

    @property
    def planned_s(self) -> float:
        """Planned production time: shift time minus planned stops (breaks)."""
        return self.length_s - self.break_s

    def contains(self, ts_ms: int) -> bool:
        return self.start_ms <= ts_ms < self.end_ms

    def in_break(self, ts_ms: int) -> bool:
        return any(s <= ts_ms < e for s, e in self.breaks_ms)


def _local_ms(day: date, at: time, zone: ZoneInfo) -> int:
    # fold=0: an ambiguous local time (autumn change) means its first occurrence; a nonexistent one (spring
    # gap) is normalised forward by the UTC round trip, as a wall clock would read it.
    local = datetime.combine(day, at).replace(tzinfo=zone)
    return int(local.astimezone(UTC).timestamp() * 1000)


def _local_dt_ms(at: datetime, zone: ZoneInfo) -> int:
    return _local_ms(at.date(), at.time(), zone)


def _merged(spans: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Breaks and planned stops of a shift as sorted, non-overlapping [start, end) spans (a stop may meet a break)."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return tuple(out)


class ShiftSchedule:
    """Concrete shifts of a site's calendar, computed on demand and cached per local day."""

    def __init__(self, calendar: ShiftCalendar, timezone: str) -> None:
        self.calendar = calendar
        self.zone = ZoneInfo(timezone)
        self._cache: dict[date, list[Shift]] = {}
        self._stops_ms = [(_local_dt_ms(a, self.zone), _local_dt_ms(b, self.zone))
                          for a, b in calendar.stop_intervals()]

    @classmethod
    def from_site(cls, site: SiteConfig) -> ShiftSchedule:
        return cls(site.calendar, site.site.timezone)

    def shifts_starting_on(self, day: date) -> list[Shift]:
        cached = self._cache.get(day)
        if cached is not None:
            return cached
        shifts = []
        weekday = WEEKDAYS[day.weekday()]
        for pattern in self.calendar.shifts:
            if weekday not in pattern.days:
                continue
            end_day = day + timedelta(days=1) if pattern.end <= pattern.start else day
            start_ms = _local_ms(day, pattern.start, self.zone)
            end_ms = _local_ms(end_day, pattern.end, self.zone)
            breaks = []
            for brk in pattern.breaks:
                b_day = day if brk.start >= pattern.start else end_day
                b_end_day = b_day + timedelta(days=1) if brk.end <= brk.start else b_day
                breaks.append((_local_ms(b_day, brk.start, self.zone), _local_ms(b_end_day, brk.end, self.zone)))
            breaks.extend((max(a, start_ms), min(b, end_ms)) for a, b in self._stops_ms if a < end_ms and b > start_ms)
            shifts.append(Shift(f"{day.isoformat()}-{pattern.name}", pattern.name, start_ms, end_ms,
                                _merged(breaks)))
        shifts.sort(key=lambda s: s.start_ms)
        self._cache[day] = shifts
        return shifts

    def shifts_between(self, start_ms: int, end_ms: int) -> list[Shift]:
        """Every shift that overlaps [start_ms, end_ms), in start order."""
        first = datetime.fromtimestamp(start_ms / 1000, UTC).astimezone(self.zone).date() - timedelta(days=1)
        last = datetime.fromtimestamp(end_ms / 1000, UTC).astimezone(self.zone).date()
        out = []
        day = first
        while day <= last:
            out.extend(s for s in self.shifts_starting_on(day) if s.start_ms < end_ms and s.end_ms > start_ms)
            day += timedelta(days=1)
        return out

    def shift_at(self, ts_ms: int) -> Shift | None:
        """The shift that contains `ts_ms`, or None outside every shift."""
        for shift in self.shifts_between(ts_ms, ts_ms + 1):
            if shift.contains(ts_ms):
                return shift
        return None

    def boundaries(self, start_ms: int, end_ms: int) -> np.ndarray:
        """Shift start/end and break start/end instants in [start_ms, end_ms] as a sorted int64 array."""
        points: set[int] = set()
        for shift in self.shifts_between(start_ms, end_ms):
            points.update((shift.start_ms, shift.end_ms))
            for s, e in shift.breaks_ms:
                points.update((s, e))
        return np.array(sorted(p for p in points if start_ms <= p <= end_ms), dtype=np.int64)
