"""odoo_sync stopped by SIGTERM (Kubernetes' stop) or SIGINT (the image's STOPSIGNAL, Ctrl-C) in the middle of a run,
then started again: exit 0 within 10 s with one line that says so and no traceback, and after the restart Odoo
holds every event exactly once (read back over the API and compared with the events), nothing dead-lettered but
what the stream itself refuses. Odoo is slowed by 40 ms per call and the polls are small (10 messages) so that the
signal arrives with most of the stream still to go (the batch in flight is finished, not abandoned). Signals are not
Odoo's business: one variant (17 Community over JSON-RPC, the full stream)."""

from __future__ import annotations

import signal
import time

import pytest
from flowtools import running_andon, stop_by_signal
from odoo_variants import FULL
from odoosync_tools import (
    PROD,
    assert_all_applied,
    assert_per_machine_order,
    dead_letters,
    keyed_summary,
    run_sync,
)

pytestmark = [pytest.mark.broker, pytest.mark.odoo]


@pytest.mark.parametrize("variant", [pytest.param(FULL, id=FULL.id)])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_mid_sync_stops_cleanly_and_the_restart_loses_and_duplicates_nothing(signum, plant, odoo, admin,
                                                                                    broker, tmp_path, event_lines):
    config, topics, env = plant
    odoo.set_faults(latency_ms=40)
    with running_andon("run", "odoo-sync", "--config", str(config), "--audit", str(tmp_path / "audit.jsonl"),
                       "--snapshot-interval", "1", "--poll-size", "10", env=env) as proc:
        deadline, written_before = time.monotonic() + 90, 0
        while written_before < 3 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)  # until mid-run: some logs written, most of the stream still to go
            written_before = admin.search_count(PROD, [("description", "like", "[andon:")])
        assert proc.poll() is None, proc.stderr.read()
        took, _ = stop_by_signal(proc, signum)
    expected, applied, _ = keyed_summary(admin, event_lines)
    assert written_before >= 3 and applied < expected, "the signal came after the run had finished: test nothing"
    print(f"stopped in {took:.2f} s with {applied} of {expected} keyed events in Odoo")

    odoo.clear_faults()
    run_sync(config, tmp_path, env)  # the restart, to the end of the stream
    expected, applied, duplicates = keyed_summary(admin, event_lines)
    assert (applied, duplicates) == (expected, 0)
    assert_all_applied(admin, event_lines)
    assert_per_machine_order(admin, event_lines)
    reasons = {d["andon.dlq.reason"] for d in dead_letters(broker, topics[3])}
    assert reasons <= {"no_active_work_order"}, f"the stop dead-lettered an event: {reasons}"
