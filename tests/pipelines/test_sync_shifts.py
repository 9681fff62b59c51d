"""`andon sync-shifts` against the stand-in over HTTP: the loss tree adds up, a second run writes nothing, a
shift that was not over when input ended is provisional and left alone until a later run makes it final."""

from __future__ import annotations

import json
import shutil
from collections import defaultdict

import pytest
from flowtools import andon, odoo_writes, parquet_of
from odoo_variants import PARAMS, admin_client

from andon.config import example_site_path
from andon.simulator import Simulation
from andon.simulator.simulation import DEFAULT_START_MS

pytestmark = [pytest.mark.odoo]

PROD = "mrp.workcenter.productivity"


HOUR_MS = 3_600_000
CUT_MS = DEFAULT_START_MS + 9 * HOUR_MS  # 15:00 local: an hour into the late shift (14:00-22:00)


def first_lines(source, target, before_ms: int) -> None:
    """The trace's readings before `before_ms`, as if the replay had been started an hour into the late shift."""
    with open(source, "rb") as src, open(target, "wb") as out:
        for line in src:
            if json.loads(line)["ts"] < before_ms:
                out.write(line)


@pytest.fixture(scope="module")
def trace(tmp_path_factory, site):
    """3 machines from 06:00 to 22:06 local: the early and the late shift, and 6 minutes of the night shift."""
    root = tmp_path_factory.mktemp("sync_shifts")
    truth = Simulation(site, machines=3, hours=16.1, seed=10).write_jsonl(root / "trace.jsonl")
    return root, truth


@pytest.fixture(scope="module")
def shifts(trace):
    """Parquet of the trace's first 9 hours: the early shift final, the late shift provisional."""
    root, _ = trace
    first_lines(root / "trace.jsonl", root / "first9h.jsonl", CUT_MS)
    andon("replay", str(root / "first9h.jsonl"), "--out", str(root / "out"))
    return root / "out"


def final_shift_rows(shifts):
    return parquet_of(shifts, "shift_oee").filter("final")


def test_input_ending_mid_shift_writes_a_provisional_row_covering_up_to_the_last_reading(shifts):
    rows = {(r["machine"], r["shift_id"][11:]): r for r in parquet_of(shifts, "shift_oee").iter_rows(named=True)}
    assert sorted({shift for _, shift in rows}) == ["early", "late"] and len(rows) == 6
    for (_, shift), row in rows.items():
        covers = int(row["covers_until"].timestamp() * 1000)
        if shift == "early":
            assert row["final"] and covers == int(row["shift_end"].timestamp() * 1000)
        else:
            assert not row["final"] and CUT_MS - 2000 <= covers < CUT_MS


@pytest.fixture(params=PARAMS)
def variant(request):
    return request.param


@pytest.fixture
def odoo(tmp_path, variant):
    with variant.standin(tmp_path / "odoo") as handle:
        yield handle


def sync(shifts, odoo, variant, *extra):
    return andon("sync-shifts", "--config", str(example_site_path()), "--parquet", str(shifts),
                 "--from", "2026-03-02", "--to", "2026-03-02", *extra, env=variant.env(odoo))


def test_dry_run_prints_the_plan_and_writes_nothing(shifts, odoo, variant):
    odoo.reset_stats()
    proc = sync(shifts, odoo, variant, "--dry-run")
    assert odoo_writes(odoo) == {}
    assert "Fully Productive Time" in proc.stdout and "WC-PRESS-02" in proc.stdout
    assert "nothing written" in proc.stdout


def test_losses_add_up_to_planned_time_and_a_second_run_writes_nothing(shifts, odoo, variant):
    proc = sync(shifts, odoo, variant)
    assert "records created" in proc.stderr
    admin = admin_client(odoo)
    logs = admin.search_read(PROD, [("description", "like", "[andon-shift:")],
                             ["workcenter_id", "loss_id", "duration", "description"])
    minutes = defaultdict(float)
    for log in logs:
        shift = log["description"].split("/")[2]
        minutes[(log["workcenter_id"][1].split(" ")[0], shift)] += log["duration"]
    expected = {(r["work_center"], r["shift_id"]): r["planned_time_s"] / 60
                for r in final_shift_rows(shifts).iter_rows(named=True)}
    assert {shift for _, shift in expected} == {"2026-03-02-early"}
    assert set(minutes) == set(expected), "the provisional late shift was sent to Odoo"
    assert "3 provisional left for a later run" in proc.stderr
    for key, planned in expected.items():
        assert minutes[key] == pytest.approx(planned, abs=0.05), key
    keys = [log["description"].split("]")[0] for log in logs]
    assert len(keys) == len(set(keys)), "one record per work center, shift and loss"

    odoo.reset_stats()
    again = sync(shifts, odoo, variant)
    assert odoo_writes(odoo) == {}, "the second run wrote to Odoo"
    assert "0 records created, 0 updated" in again.stderr


def test_a_later_run_replaces_the_provisional_row_with_the_final_one_and_sync_sends_it(trace, shifts, odoo,
                                                                                       variant, tmp_path):
    root, truth = trace
    later = tmp_path / "out"
    shutil.copytree(shifts, later)  # the same Parquet root, as a user's later run would find it
    andon("replay", str(root / "trace.jsonl"), "--out", str(later))
    rows = parquet_of(later, "shift_oee")
    by_key = {(r["machine"], r["shift_id"]): r for r in rows.iter_rows(named=True)}
    assert len(by_key) == rows.height, "a key appears twice"
    for machine, data in truth["per_machine"].items():
        for want in data["shifts"]:
            row = by_key[(machine, want["shift_id"])]
            if want["shift_id"].endswith("night"):
                assert not row["final"]  # 6 minutes of it: still provisional
                continue
            assert row["final"], (machine, want["shift_id"])
            assert (row["total_count"], row["reject_count"]) == (want["total_count"], want["reject_count"])
            assert abs(row["oee"] - want["oee"]) <= 0.001
    proc = sync(later, odoo, variant)
    admin = admin_client(odoo)
    logs = admin.search_read(PROD, [("description", "like", "[andon-shift:")], ["description"])
    assert {log["description"].split("/")[2] for log in logs} == {"2026-03-02-early", "2026-03-02-late"}
    assert "3 provisional left for a later run" in proc.stderr  # the night shift
