"""The data dictionary written beside the Parquet datasets: every column's type, unit and meaning, and how to read
the rows' final/provisional status and the files' key/value metadata.

Example::

    write_data_dictionary("andon-data")   # andon-data/DATA_DICTIONARY.md
"""

from __future__ import annotations

from pathlib import Path

from andon.connectors.parquet import DATASETS, SCHEMA_VERSION

#: Data dictionary for analytics teams: column -> (unit, meaning). Site and date come from the partition path.
DATA_DICTIONARY: dict[str, dict[str, tuple[str, str]]] = {
    "telemetry_agg": {
        "site": ("-", "site id (Hive partition)"),
        "date": ("YYYY-MM-DD", "UTC date of window_start (Hive partition)"),
        "machine": ("-", "machine id from the site config"),
        "window_start": ("UTC timestamp", "start of the tumbling window (inclusive), aligned to UTC"),
        "window_end": ("UTC timestamp", "end of the window (exclusive)"),
        "signal": ("-", "signal name as published by the gateway"),
        "count": ("readings", "readings with a value for this signal in the window"),
        "min": ("signal unit", "smallest value"),
        "max": ("signal unit", "largest value"),
        "mean": ("signal unit", "arithmetic mean"),
        "last": ("signal unit", "value of the latest reading (by event time) in the window"),
        "final": ("bool", "true: the window ended and the lateness allowance passed, the row will not change; "
                          "false: provisional (input ended first), a later run replaces it"),
        "covers_until": ("UTC timestamp", "event time the row's data reaches: window_end when final, else the "
                                          "machine's last reading"),
    },
    "shift_oee": {
        "site": ("-", "site id (Hive partition)"),
        "date": ("YYYY-MM-DD", "local date the shift starts on (Hive partition)"),
        "machine": ("-", "machine id"),
        "work_center": ("-", "Odoo work center code"),
        "shift_id": ("-", "local start date and shift name, e.g. 2026-03-02-early"),
        "shift_start": ("UTC timestamp", "shift start"),
        "shift_end": ("UTC timestamp", "shift end"),
        "planned_time_s": ("s", "shift time minus planned stops (breaks)"),
        "run_time_s": ("s", "planned time minus downtime (and micro-stops under the availability policy)"),
        "downtime_s": ("s", "unplanned stops that count against availability"),
        "microstop_s": ("s", "unspecified stops shorter than the micro-stop threshold"),
        "total_count": ("parts", "parts made"),
        "good_count": ("parts", "total minus rejects"),
        "reject_count": ("parts", "rejected parts"),
        "ideal_cycle_time_s": ("s/part", "ideal cycle time from the site config"),
        "availability": ("ratio", "run time / planned time"),
        "performance": ("ratio", "ideal cycle time x total count / run time"),
        "quality": ("ratio", "good count / total count"),
        "oee": ("ratio", "availability x performance x quality"),
        "downtime_by_reason": ("s", "downtime seconds per loss reason"),
        "final": ("bool", "true: the shift ended and the lateness allowance passed, the row will not change; "
                          "false: provisional (input ended mid-shift), a later run replaces it; sync-shifts "
                          "and reconcile use final rows only"),
        "covers_until": ("UTC timestamp", "event time the row's data reaches: shift_end when final, else the "
                                          "machine's last reading (figures cover shift_start..covers_until)"),
    },
    "operations": {
        "site": ("-", "site id (Hive partition)"),
        "date": ("YYYY-MM-DD", "local date the operation's counting began on (Hive partition)"),
        "machine": ("-", "machine id"),
        "work_center": ("-", "Odoo work center code"),
        "since": ("UTC timestamp", "when the operation (one work-order run) began counting: the previous one's "
                                   "finish (a setup's start), or the machine's first reading"),
        "finish": ("UTC timestamp", "where its setup began (null while it runs)"),
        "first_part_at": ("UTC timestamp", "its first counted part (null before)"),
        "parts": ("parts", "parts counted in the run, across shifts and counter resets"),
        "rejects": ("parts", "rejected parts of them"),
        "good": ("parts", "parts minus rejects: what the work order holds in Odoo"),
        "final": ("bool", "true: the run finished, the row will not change; false: provisional (still running or "
                          "input ended), a later row of the same machine and since replaces it"),
        "covers_until": ("UTC timestamp", "event time the row's counts reach: finish when final, else the end of "
                                          "the window of its latest count"),
        "rejects_by_reason": ("list of {reason, rejects}", "of `rejects`, those per reason the class's "
                                                           "reject_reason_signal named (the rest carry none); "
                                                           "null without the signal"),
    },
}


def write_data_dictionary(root: str | Path) -> Path:
    """Write DATA_DICTIONARY.md beside the datasets (column, type, unit, meaning)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    lines = ["# andon Parquet data dictionary", "",
             "Hive-partitioned (`site=…/date=…`), zstd, timestamps UTC with time zone. Read with e.g. "
             "`polars.scan_parquet('shift_oee/**/*.parquet', hive_partitioning=True)`, "
             "`pyarrow.dataset.dataset('shift_oee', partitioning='hive')` or duckdb "
             "`read_parquet('shift_oee/**/*.parquet', hive_partitioning=1)`.", "",
             "**Final and provisional rows.** A row is final (`final = true`) once its window or shift has ended and "
             "the lateness allowance (`processing.allowed_lateness_s`) has passed in the machine's event time: it "
             "will not change. When input ends before that (end of a replay, `--eof-idle`), the open windows and "
             "shifts are written as provisional rows (`final = false`) whose figures cover only up to "
             "`covers_until`; a later run that sees the rest writes the final row under the same key, which "
             "replaces the provisional one (a provisional row never replaces a final one). Filter on `final` for "
             "reports: `WHERE final`. `andon sync-shifts` and `andon reconcile` read final rows only.", "",
             "**File metadata.** Every file carries Parquet key/value metadata: `andon.dataset`, "
             f"`andon.schema_version` ({SCHEMA_VERSION}), `andon.producer` and `andon.producer_version` (the andon "
             "release that wrote it), `andon.site`, `andon.site_timezone` (IANA zone of the shift calendar and the "
             "shift_oee `date` partition) and `andon.microstop_policy` (`performance`: micro-stops count as run "
             "time, Nakajima; `availability`: as downtime, ISO 22400). Read it with "
             "`pyarrow.parquet.read_schema(path).metadata` or duckdb `parquet_kv_metadata(path)`.", "",
             "Checked with pyarrow, polars and duckdb (the project's tests read these files with all three); "
             "pandas (through pyarrow) and Spark read standard Parquet of these types but are not run in the "
             "tests.", ""]
    for name, spec in DATASETS.items():
        types = {f.name: str(f.type) for f in spec.schema}
        types.update(site="string", date="string")
        lines += [f"## {name}", "", f"One row per {' + '.join(spec.key)}; one file per shard and "
                  f"{'UTC hour' if spec.period == 'hour' else 'date'}.", "",
                  "| column | type | unit | meaning |", "|---|---|---|---|"]
        lines += [f"| {col} | {types[col]} | {unit} | {meaning} |"
                  for col, (unit, meaning) in DATA_DICTIONARY[name].items()]
        lines.append("")
    path = root / "DATA_DICTIONARY.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
