"""`andon sync-shifts` against the stand-in over HTTP: the loss tree adds up, a second run writes nothing."""

from __future__ import annotations

from collections import defaultdict

import pytest
from flowtools import andon, odoo_env, odoo_writes, parquet_of

from andon.config import OdooSettings, example_site_path
from andon.connectors.odoo import OdooClient
from andon.connectors.standin import run_standin
from andon.simulator import Simulation

pytestmark = [pytest.mark.odoo]

PROD = "mrp.workcenter.productivity"


@pytest.fixture(scope="module")
def shifts(tmp_path_factory, site):
    """Parquet of 3 machines over 9 hours: one full early shift and the start of the late shift."""
    root = tmp_path_factory.mktemp("sync_shifts")
    Simulation(site, machines=3, hours=9, seed=10).write_jsonl(root / "trace.jsonl")
    andon("replay", str(root / "trace.jsonl"), "--out", str(root / "out"))
    return root / "out"


@pytest.fixture
def odoo(tmp_path):
    with run_standin(tmp_path / "odoo") as handle:
        yield handle


def sync(shifts, odoo, *extra):
    return andon("sync-shifts", "--config", str(example_site_path()), "--parquet", str(shifts),
                 "--from", "2026-03-02", "--to", "2026-03-02", *extra, env=odoo_env(odoo))


def test_dry_run_prints_the_plan_and_writes_nothing(shifts, odoo):
    odoo.reset_stats()
    proc = sync(shifts, odoo, "--dry-run")
    assert odoo_writes(odoo) == {}
    assert "Fully Productive Time" in proc.stdout and "WC-PRESS-02" in proc.stdout
    assert "nothing written" in proc.stdout


def test_losses_add_up_to_planned_time_and_a_second_run_writes_nothing(shifts, odoo):
    proc = sync(shifts, odoo)
    assert "records created" in proc.stderr
    admin = OdooClient(OdooSettings(url=odoo.url, username="admin", password="admin", transport="xmlrpc"),
                       rate_limit=False)
    logs = admin.search_read(PROD, [("description", "like", "[andon-shift:")],
                             ["workcenter_id", "loss_id", "duration", "description"])
    minutes = defaultdict(float)
    for log in logs:
        shift = log["description"].split("/")[2]
        minutes[(log["workcenter_id"][1].split(" ")[0], shift)] += log["duration"]
    expected = {(r["work_center"], r["shift_id"]): r["planned_time_s"] / 60
                for r in parquet_of(shifts, "shift_oee").iter_rows(named=True)}
    assert set(minutes) == set(expected)
    for key, planned in expected.items():
        assert minutes[key] == pytest.approx(planned, abs=0.05), key
    keys = [log["description"].split("]")[0] for log in logs]
    assert len(keys) == len(set(keys)), "one record per work center, shift and loss"

    odoo.reset_stats()
    again = sync(shifts, odoo)
    assert odoo_writes(odoo) == {}, "the second run wrote to Odoo"
    assert "0 records created, 0 updated" in again.stderr
