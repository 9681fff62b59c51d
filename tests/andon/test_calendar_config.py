"""Calendar mistakes are refused when the config is read (naming both parties); planned stops count as stops."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime

import pytest

from andon.config import example_site_path, parse_site
from andon.errors import ConfigError
from andon.shifts import ShiftSchedule


def example_raw() -> dict:
    return tomllib.loads(example_site_path().read_text())


def shift(raw: dict, name: str) -> dict:
    return next(s for s in raw["calendar"]["shifts"] if s["name"] == name)


def _time(text: str):
    return datetime.strptime(text, "%H:%M").time()


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda r: shift(r, "late").update(start=_time("13:00")),
         "shifts 'early' (06:00-14:00) on mon and 'late' (13:00-22:00) on mon overlap by 60 min"),
        (lambda r: shift(r, "night").update(end=_time("07:00")),
         "shifts 'early' (06:00-14:00) on mon and 'night' (22:00-07:00) on sun overlap by 60 min"),
        (lambda r: r["calendar"]["shifts"].append({"name": "extra", "start": _time("20:00"), "end": _time("23:00"),
                                                    "days": ["sat"]}),
         "'late' (14:00-22:00) on sat and 'extra' (20:00-23:00) on sat overlap by 120 min"),
        (lambda r: shift(r, "early").update(breaks=[{"start": _time("13:45"), "end": _time("14:15")}]),
         "break 13:45-14:15 is not inside its shift 'early' (06:00-14:00)"),
        (lambda r: shift(r, "night").update(breaks=[{"start": _time("21:00"), "end": _time("21:30")}]),
         "break 21:00-21:30 is not inside its shift 'night' (22:00-06:00)"),
        (lambda r: shift(r, "late").update(breaks=[{"start": _time("18:00"), "end": _time("18:30")},
                                                   {"start": _time("18:15"), "end": _time("18:45")}]),
         "breaks 18:00-18:30 and 18:15-18:45 of shift 'late' (14:00-22:00) overlap"),
        (lambda r: shift(r, "late").update(breaks=[{"start": _time("18:00"), "end": _time("18:00")}]),
         "break 18:00-18:00 of shift 'late' (14:00-22:00) has no length"),
        (lambda r: r["calendar"].update(planned_stops=["2026-04-06 06:00 to 10:00"]),
         "planned stop '2026-04-06 06:00 to 10:00' is not an interval"),
        (lambda r: r["calendar"].update(planned_stops=["2026-04-06T06:00/2026-04-6T10:00"]),
         "planned stop '2026-04-06T06:00/2026-04-6T10:00' cannot be parsed"),
        (lambda r: r["calendar"].update(planned_stops=["2026-04-06T10:00/2026-04-06T06:00"]),
         "ends before it starts"),
        (lambda r: r["calendar"].update(planned_stops=["2026-04-06T06:00+02:00/2026-04-06T10:00+02:00"]),
         "carries a UTC offset"),
    ],
)
def test_calendar_mistake_is_a_config_error_naming_both_parties(mutate, expected):
    raw = example_raw()
    mutate(raw)
    with pytest.raises(ConfigError) as info:
        parse_site(raw, "plant-a.toml", env={})
    message = str(info.value)
    assert expected in message
    assert "plant-a.toml: calendar" in message and "what to do" in message


@pytest.mark.parametrize(
    "mutate",
    [
        lambda r: None,  # three shifts meeting end to start, the night one past midnight
        lambda r: [s.update(days=["mon", "tue", "wed", "thu", "fri"]) for s in r["calendar"]["shifts"]],
        lambda r: r["calendar"].update(shifts=[{"name": "all-day", "start": _time("06:00"), "end": _time("06:00")}]),
        lambda r: r["calendar"]["shifts"].append({"name": "weekend", "start": _time("06:00"), "end": _time("18:00"),
                                                  "days": ["sat", "sun"]})
        or [s.update(days=["mon", "tue", "wed", "thu", "fri"]) for s in r["calendar"]["shifts"][:3]],
        lambda r: shift(r, "night").update(breaks=[{"start": _time("23:30"), "end": _time("00:15")}]),
    ],
)
def test_sound_calendars_are_accepted(mutate):
    raw = example_raw()
    mutate(raw)
    parse_site(raw, env={})


def test_planned_stop_is_planned_time_off_merged_with_a_break():
    raw = example_raw()
    # Monday 2026-04-06, Europe/Berlin (UTC+2): a stop 09:00-11:00 local covers the early shift's 10:00-10:30 break.
    raw["calendar"]["planned_stops"] = ["2026-04-06T09:00/2026-04-06T11:00"]
    site = parse_site(raw, env={})
    assert site.site.timezone == "Europe/Berlin"
    schedule = ShiftSchedule.from_site(site)
    early = next(s for s in schedule.shifts_starting_on(datetime(2026, 4, 6).date()) if s.name == "early")
    assert early.planned_s == 6 * 3600
    assert early.in_break(int(datetime(2026, 4, 6, 7, 30, tzinfo=UTC).timestamp() * 1000))
    tuesday = next(s for s in schedule.shifts_starting_on(datetime(2026, 4, 7).date()) if s.name == "early")
    assert tuesday.planned_s == 7.5 * 3600


def test_overlapping_shifts_exit_2_with_one_message(tmp_path, capsys):
    from andon.cli import main

    text = example_site_path().read_text().replace("start = 14:00:00", "start = 13:00:00", 1)
    path = tmp_path / "site.toml"
    path.write_text(text)
    assert main(["broker", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.count("overlap by") == 1 and err.count("error:") == 1 and "'early' (06:00-14:00)" in err and "'late' (13:00-22:00)" in err
