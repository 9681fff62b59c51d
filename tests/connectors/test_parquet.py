"""Parquet datasets: deterministic names, atomic writes, replayed rows replace instead of duplicating."""

from __future__ import annotations

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from andon.connectors.parquet import TELEMETRY_AGG, ParquetSink, Rows, file_path
from andon.connectors.parquet_dictionary import write_data_dictionary

H = 3_600_000
T0 = 1_772_431_200_000  # 2026-03-02T06:00:00Z


def agg_rows(machine: str, starts: list[int], value: float, final: bool = True) -> Rows:
    n = len(starts)
    table = pa.table({
        "machine": [machine] * n, "window_start": starts, "window_end": [s + 60_000 for s in starts],
        "signal": ["power_kw"] * n, "count": [60] * n, "min": [value] * n, "max": [value] * n,
        "mean": [value] * n, "last": [value] * n, "final": [final] * n,
        "covers_until": [s + (60_000 if final else 30_000) for s in starts],
    }, schema=TELEMETRY_AGG)
    return Rows("telemetry_agg", "plant-a", "2026-03-02", f"h{(starts[0] // H) % 24:02d}", table)


def test_files_are_deterministic_deduplicated_and_readable(tmp_path):
    sink = ParquetSink(tmp_path, ["shard-00"], retain=1, write_interval_s=3600)
    part = sink.build_part("out", "shard-00", None)
    part.write_batch([agg_rows("press-02", [T0, T0 + 60_000], 1.0), agg_rows("press-01", [T0], 2.0)])
    snapshot = part.snapshot()
    part.write_batch([agg_rows("press-01", [T0 + H], 3.0)])  # next hour: h06 is finalized and handed to the writer
    path06 = file_path(tmp_path, "telemetry_agg", "plant-a", "2026-03-02", "h06", "shard-00")
    assert "pending" in part.snapshot()  # a snapshot drops h06 from the state, so it waits until h06 is written
    assert path06.exists()
    first = path06.read_bytes()
    # a resumed partition (as after a crash) replays the same rows: same file, nothing duplicated
    resumed = sink.build_part("out", "shard-00", snapshot)
    resumed.write_batch([agg_rows("press-01", [T0 + H], 3.0), agg_rows("press-01", [T0], 2.0)])
    resumed.close()
    assert path06.read_bytes() == first
    assert not list(tmp_path.rglob("*.tmp"))
    table = ds.dataset(tmp_path / "telemetry_agg", partitioning="hive").to_table()
    assert table.num_rows == 4
    assert table.schema.field("window_start").type == pa.timestamp("ms", tz="UTC")
    df = pl.scan_parquet(str(tmp_path / "telemetry_agg" / "**" / "*.parquet"), hive_partitioning=True).collect()
    assert df.height == 4 and set(df["site"]) == {"plant-a"}
    assert df.filter(pl.col("machine") == "press-01").sort("window_start")["mean"].to_list() == [2.0, 3.0]
    got = duckdb.sql(f"select count(*), min(machine) from read_parquet('{tmp_path}/telemetry_agg/**/*.parquet', "
                     "hive_partitioning=1)").fetchall()
    assert got == [(4, "press-01")]


def test_late_rows_for_a_written_period_are_merged(tmp_path):
    sink = ParquetSink(tmp_path, ["s0"], retain=1, write_interval_s=3600)
    part = sink.build_part("out", "s0", None)
    part.write_batch([agg_rows("press-01", [T0], 1.0)])
    part.write_batch([agg_rows("press-01", [T0 + H], 1.0)])
    part.write_batch([agg_rows("press-09", [T0 + 120_000], 5.0)])  # late row for h06, already written
    part.close()
    path = file_path(tmp_path, "telemetry_agg", "plant-a", "2026-03-02", "h06", "s0")
    assert pl.read_parquet(path)["machine"].to_list() == ["press-01", "press-09"]


def test_final_rows_replace_provisional_ones_and_never_the_reverse(tmp_path):
    import pyarrow.parquet as pq

    path = file_path(tmp_path, "telemetry_agg", "plant-a", "2026-03-02", "h06", "s0")
    runs = [[agg_rows("press-01", [T0], 1.0, final=False), agg_rows("press-02", [T0], 1.0)],  # input ended early
            [agg_rows("press-01", [T0], 2.0), agg_rows("press-02", [T0], 7.0, final=False)],  # later runs
            [agg_rows("press-01", [T0], 9.0, final=False)]]
    for run in runs:  # each run a new sink over the same root, re-opening the file
        part = ParquetSink(tmp_path, ["s0"], sites={"plant-a": ("Europe/Berlin", "availability")},
                           retain=1, write_interval_s=3600).build_part("out", "s0", None)
        part.write_batch(run)
        part.close()
    got = pl.read_parquet(path)
    assert got.select("machine", "mean", "final").rows() == [("press-01", 2.0, True), ("press-02", 1.0, True)]
    meta = {k.decode(): v.decode() for k, v in pq.read_schema(path).metadata.items()}
    assert {key: meta[key] for key in ("andon.dataset", "andon.site", "andon.site_timezone",
                                       "andon.microstop_policy", "andon.schema_version")} == {
        "andon.dataset": "telemetry_agg", "andon.site": "plant-a", "andon.site_timezone": "Europe/Berlin",
        "andon.microstop_policy": "availability", "andon.schema_version": "2"}
    from andon import __version__

    assert meta["andon.producer_version"] == __version__
    kv = duckdb.sql(f"select decode(key), decode(value) from parquet_kv_metadata('{path}')").fetchall()
    assert ("andon.site_timezone", "Europe/Berlin") in kv
    assert duckdb.sql(f"select count(*) from read_parquet('{path}') where final").fetchall() == [(2,)]


def test_a_file_from_before_the_status_columns_is_read_as_provisional_and_replaced(tmp_path):
    import pyarrow.parquet as pq

    path = file_path(tmp_path, "telemetry_agg", "plant-a", "2026-03-02", "h06", "s0")
    path.parent.mkdir(parents=True)
    old = agg_rows("press-01", [T0, T0 + 60_000], 1.0).table.drop_columns(["final", "covers_until"])
    pq.write_table(old, path)
    part = ParquetSink(tmp_path, ["s0"], retain=1, write_interval_s=3600).build_part("out", "s0", None)
    part.write_batch([agg_rows("press-01", [T0], 5.0)])
    part.close()
    got = pl.read_parquet(path).sort("window_start")
    assert got["mean"].to_list() == [5.0, 1.0] and got["final"].to_list() == [True, None]


def test_data_dictionary_lists_every_column(tmp_path):
    text = write_data_dictionary(tmp_path).read_text()
    for column in [*TELEMETRY_AGG.names, "downtime_by_reason", "oee", "planned_time_s"]:
        assert f"| {column} |" in text


def test_a_failed_background_write_stops_the_dataflow_with_the_file_named(tmp_path):
    sink = ParquetSink(tmp_path, ["s0"], retain=1, write_interval_s=3600)
    part = sink.build_part("out", "s0", None)
    part.write_batch([agg_rows("press-01", [T0], 1.0)])
    blocker = tmp_path / "telemetry_agg" / "site=plant-a" / "date=2026-03-02"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("a file where the date folder should be")
    part.write_batch([agg_rows("press-01", [T0 + H], 1.0)])  # h06 finalized: its write cannot succeed
    with pytest.raises(OSError, match=r"part-h06-s0\.parquet failed.*restart"):
        part.snapshot()  # a snapshot after a failed write must fail, never claim the rows were written


def test_building_a_partition_sweeps_stale_temporary_files_but_not_ones_being_written(tmp_path):
    from andon.connectors import parquet

    folder = tmp_path / "shift_oee" / "site=plant-a" / "date=2026-03-02"
    folder.mkdir(parents=True)
    stale = folder / ".part-day-s0.parquet.999.tmp"  # left by a killed process
    busy = folder / ".part-h06-s0.parquet.1000.tmp"  # the writer thread is on it (another output step)
    other_shard = folder / ".part-day-s1.parquet.999.tmp"
    for f in (stale, busy, other_shard):
        f.write_bytes(b"partial")
    parquet._writing.add(busy)
    try:
        ParquetSink(tmp_path, ["s0", "s1"]).build_part("out", "s0", None)
    finally:
        parquet._writing.discard(busy)
    assert not stale.exists()
    assert busy.exists() and other_shard.exists()


def test_window_columns_become_one_table_per_file_with_tables_from_older_snapshots(tmp_path):
    import pickle

    import numpy as np

    from andon.connectors.parquet import AggColumns, as_tables

    machines, signals = pa.array(["press-01", "press-02"]), pa.array(["power_kw", "rpm"])

    def cols(machine: int, start: int, value: float) -> AggColumns:
        one = np.array
        return AggColumns(one([machine], np.int32), one([start], np.int64), one([start + 60_000], np.int64),
                          one([0], np.int16), one([60], np.int64), one([value]), one([value]), one([value]),
                          one([value]), one([True]), one([start + 60_000], np.int64), machines, signals)

    older = agg_rows("press-01", [T0 + 60_000], 9.0).table  # a pa.Table, as a version-1 snapshot holds
    parts = pickle.loads(pickle.dumps([older, cols(1, T0, 1.0), cols(0, T0, 2.0), cols(0, T0 + 60_000, 3.0)]))
    tables = as_tables(parts)
    assert len(tables) == 2 and tables[0].equals(older)  # the three column parts were built as one table
    assert tables[1].column("machine").to_pylist() == ["press-02", "press-01", "press-01"]
    assert tables[1].schema == TELEMETRY_AGG

    sink = ParquetSink(tmp_path, ["s0"], retain=1, write_interval_s=3600)
    part = sink.build_part("out", "s0", None)
    part.write_batch([Rows("telemetry_agg", "plant-a", "2026-03-02", "h06", p) for p in parts])
    part.close()
    got = pl.read_parquet(file_path(tmp_path, "telemetry_agg", "plant-a", "2026-03-02", "h06", "s0"))
    # sorted by key; the replayed (press-01, T0 + 60 s) row keeps the last value written
    assert got["machine"].to_list() == ["press-01", "press-01", "press-02"]
    assert got["mean"].to_list() == [2.0, 3.0, 1.0]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 4), st.integers(0, 2), st.floats(-5, 5),
                                   st.booleans()),
                         min_size=1, max_size=12), min_size=1, max_size=5))
def test_window_columns_deduplicate_exactly_like_the_table_path(batches):
    import numpy as np

    from andon.connectors.parquet import DATASETS, AggColumns, _dedup, _dedup_sorted

    # names in an order unlike their sort order, with a non-ASCII one
    machines, signals = pa.array(["press-10", "Press-2", "drück-1", "press-1"]), pa.array(["rpm", "power_kw", "Ä"])
    parts = []
    for rows in batches:
        m, w, sig, v, final = (np.array(c) for c in zip(*rows, strict=True))
        end = T0 + (w.astype(np.int64) + 1) * 60_000
        parts.append(AggColumns(m.astype(np.int32), T0 + w.astype(np.int64) * 60_000, end, sig.astype(np.int16),
                                np.full(len(rows), 60, np.int64), v, v, v, v, final.astype(bool),
                                np.where(final, end, end - 1), machines, signals))
    spec = DATASETS["telemetry_agg"]
    fast, kept = _dedup(spec, parts)
    assert isinstance(kept, AggColumns)
    assert fast.equals(_dedup_sorted(spec, [p.to_table() for p in parts]))
