"""The `[calendar]` section of a site config: shift patterns, their breaks and planned stops, checked for mistakes.

A calendar mistake bends every OEE figure without a sound, so each is refused when the config is read: two shifts
that overlap, a break that is not inside its shift, two breaks of a shift that overlap, a break or shift of no
length, and a planned stop that cannot be parsed or ends before it starts. Each message names both parties.

Example::

    cal = ShiftCalendar(shifts=[{"name": "early", "start": "06:00", "end": "14:00"}],
                        planned_stops=["2026-04-06T06:00/2026-04-06T10:00"])
    cal.stop_intervals()   # [(datetime(2026, 4, 6, 6, 0), datetime(2026, 4, 6, 10, 0))] in site-local time
"""

from __future__ import annotations

from datetime import datetime, time
from itertools import combinations
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_S = 86_400
_WEEK_S = 7 * _DAY_S
_STOP_FORMAT = "YYYY-MM-DDTHH:MM/YYYY-MM-DDTHH:MM (site-local time, no offset)"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _seconds(at: time) -> int:
    return at.hour * 3600 + at.minute * 60 + at.second


def _clock(seconds: int) -> str:
    seconds %= _DAY_S
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}" + (f":{seconds % 60:02d}" if seconds % 60 else "")


class Break(_Model):
    start: time
    end: time

    def label(self) -> str:
        return f"{_clock(_seconds(self.start))}-{_clock(_seconds(self.end))}"


class ShiftPattern(_Model):
    """A shift that starts at local `start` on each of `days` and ends at local `end` (the next day if earlier)."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$")]
    start: time
    end: time
    days: list[str] = Field(default_factory=lambda: list(WEEKDAYS))
    breaks: list[Break] = Field(default_factory=list)

    @field_validator("days")
    @classmethod
    def _weekdays(cls, value: list[str]) -> list[str]:
        bad = [d for d in value if d.lower() not in WEEKDAYS]
        if bad:
            raise ValueError(f"unknown weekday(s) {bad}; use {', '.join(WEEKDAYS)}")
        return [d.lower() for d in value]

    @property
    def length_s(self) -> int:
        """Local clock length: end <= start means the shift ends the next day (start == end: 24 hours)."""
        return (_seconds(self.end) - _seconds(self.start)) % _DAY_S or _DAY_S

    def label(self) -> str:
        return f"{self.name!r} ({_clock(_seconds(self.start))}-{_clock(_seconds(self.end))})"

    @model_validator(mode="after")
    def _breaks_inside(self) -> ShiftPattern:
        spans = []
        for brk in self.breaks:
            offset = (_seconds(brk.start) - _seconds(self.start)) % _DAY_S
            length = (_seconds(brk.end) - _seconds(brk.start)) % _DAY_S
            if length == 0:
                raise ValueError(f"break {brk.label()} of shift {self.label()} has no length; "
                                 "give it an end after its start")
            if offset + length > self.length_s:
                raise ValueError(f"break {brk.label()} is not inside its shift {self.label()}; move the break "
                                 "inside the shift's hours, or lengthen the shift")
            spans.append((offset, offset + length, brk))
        for (_a0, a1, a), (b0, _b1, b) in combinations(sorted(spans, key=lambda s: s[0]), 2):
            if b0 < a1:
                raise ValueError(f"breaks {a.label()} and {b.label()} of shift {self.label()} overlap; "
                                 "merge them into one break or move one")
        return self


def _parse_stop(text: str) -> tuple[datetime, datetime]:
    parts = text.split("/")
    if len(parts) != 2:
        raise ValueError(f"planned stop {text!r} is not an interval; write it as {_STOP_FORMAT}")
    try:
        start, end = (datetime.fromisoformat(p.strip()) for p in parts)
    except ValueError as exc:
        raise ValueError(f"planned stop {text!r} cannot be parsed ({exc}); write it as {_STOP_FORMAT}") from None
    if start.tzinfo is not None or end.tzinfo is not None:
        raise ValueError(f"planned stop {text!r} carries a UTC offset; planned stops are site-local time "
                         f"(site.timezone): write it as {_STOP_FORMAT}")
    if end <= start:
        raise ValueError(f"planned stop {text!r} ends before it starts; put the earlier time first")
    return start, end


class ShiftCalendar(_Model):
    shifts: list[ShiftPattern] = Field(default_factory=list)
    #: Planned stops (e.g. weekly maintenance) as "YYYY-MM-DDTHH:MM/YYYY-MM-DDTHH:MM" local-time intervals:
    #: time inside a shift and inside a planned stop is not planned production time (like a break).
    planned_stops: list[str] = Field(default_factory=list)

    @field_validator("planned_stops")
    @classmethod
    def _stops_parse(cls, value: list[str]) -> list[str]:
        for text in value:
            _parse_stop(text)
        return value

    def stop_intervals(self) -> list[tuple[datetime, datetime]]:
        """The planned stops as naive site-local (start, end) datetimes, in the order given."""
        return [_parse_stop(text) for text in self.planned_stops]

    @model_validator(mode="after")
    def _no_overlap(self) -> ShiftCalendar:
        # Every occurrence of every pattern in a local week, as [start, end) seconds since Monday 00:00; a shift
        # that runs past Sunday midnight wraps to Monday, so compare each pair on the week's circle.
        spans = []
        for pattern in self.shifts:
            for day in pattern.days:
                start = WEEKDAYS.index(day) * _DAY_S + _seconds(pattern.start)
                spans.append((start, pattern.length_s, day, pattern))
        for (s0, l0, d0, p0), (s1, l1, d1, p1) in combinations(spans, 2):
            overlap = max(_circular_overlap(s0, l0, s1, l1), _circular_overlap(s1, l1, s0, l0))
            if overlap > 0:
                raise ValueError(
                    f"shifts {p0.label()} on {d0} and {p1.label()} on {d1} overlap by {overlap // 60} min; "
                    "make one end when the other starts (or drop the day from one of them)")
        return self


def _circular_overlap(s0: int, l0: int, s1: int, l1: int) -> int:
    """Seconds of [s1, s1 + l1) that fall in [s0, s0 + l0) on a week's circle (s1 measured after s0)."""
    offset = (s1 - s0) % _WEEK_S
    return max(0, min(l0, offset + l1) - offset) if offset < l0 else 0
