"""The Kafka broker restarted while odoo_sync applies events to Odoo.

Tansu keeps everything in memory: a restart loses every topic and message. That is a data loss no test can undo,
so this test states what "nothing lost" means here, as it would after losing a topic on any cluster:

- the events are reproducible: the telemetry dataflow derives them deterministically (same readings, same event
  ids), so after the loss the upstream re-publishes them (here: the same bytes, as a telemetry replay would);
- odoo_sync keeps no offsets worth keeping (Odoo-side keys are the truth): the recovery procedure is to run it over
  the re-published topic, and Odoo must end with every event applied exactly once.

Injects: the broker is stopped and restarted (empty) while `andon run odoo-sync` is mid-run, with Odoo slowed by
25 ms per call and small polls so that the consumer, the Odoo writes and the DLQ producer are all in flight.
Checks: the process either finishes or exits (no hang); after the re-publish and a catch-up run, every event is in
Odoo exactly once and nothing transient was dead-lettered. Seen here: in some runs the first process dies with
SIGSEGV (exit -11) inside native code when the broker vanishes (no Python traceback), which a pod restart turns
into the same recovery; the summary line reports the exit status.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import pytest
from flowtools import ROOT, odoo_env, odoo_writes, site_config
from odoosync_tools import assert_all_applied, dead_letters, keyed_summary, produce, run_sync

from andon.config import OdooSettings
from andon.connectors.broker import EmbeddedBroker, create_topics
from andon.connectors.odoo import OdooClient
from andon.connectors.standin import run_standin

pytestmark = [pytest.mark.fault, pytest.mark.broker, pytest.mark.odoo]


def test_broker_restart_mid_sync_loses_and_duplicates_nothing(tmp_path, event_lines, fault_summary):
    # log_path: EmbeddedBroker.restart() without one reopens the log in the temp dir stop() just removed
    with (EmbeddedBroker(log_path=tmp_path / "tansu.log") as broker,
          run_standin(tmp_path / "odoo", odoo_version="17") as odoo):
        config, topics = site_config(tmp_path, broker, f"rs{uuid.uuid4().hex[:6]}")
        produce(broker, topics[2], event_lines)
        env = odoo_env(odoo, broker)
        odoo.set_faults(latency_ms=25)
        log_path = tmp_path / "first-run.log"
        with open(log_path, "w") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", "andon.cli", "run", "odoo-sync", "--config", str(config), "--eof-idle", "4",
                 "--audit", str(tmp_path / "audit.jsonl"), "--poll-size", "50", "--breaker-reset", "1",
                 "--hold-max", "2"], cwd=ROOT, env={**_base_env(), **env}, stdout=subprocess.DEVNULL, stderr=log)
            deadline = time.monotonic() + 60
            while sum(odoo_writes(odoo).values()) < 15 and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.1)
            writes_before = sum(odoo_writes(odoo).values())
            assert proc.poll() is None, "odoo-sync finished before the restart: slow Odoo down more"
            broker.restart()  # every topic and message is gone
            create_topics(broker.bootstrap, topics, partitions=4)
            produce(broker, topics[2], event_lines)  # the upstream re-publishes: same bytes, same event ids
            try:
                first_rc = proc.wait(timeout=150)
            except subprocess.TimeoutExpired:
                proc.kill()
                tail = log_path.read_text()[-3000:]
                raise AssertionError(f"odoo-sync hung after the broker restart:\n{tail}") from None
        odoo.clear_faults()
        run_sync(config, tmp_path, env)  # the recovery procedure: one run over the re-published topic

        admin = OdooClient(OdooSettings(url=odoo.url, username="admin", password="admin", transport="xmlrpc",
                                        rate_limit_per_s=10_000), rate_limit=False)
        expected, applied, duplicates = keyed_summary(admin, event_lines)
        reasons = {d["andon.dlq.reason"] for d in dead_letters(broker, topics[3])}
        fault_summary(faults=f"broker restart (all topics lost) after {writes_before} Odoo writes + 25 ms Odoo latency",
                      readings_in="-", events_expected=expected, events_applied=applied, duplicates=duplicates,
                      lost=expected - applied, events_in=len(event_lines), first_run_exit=first_rc)
        assert_all_applied(admin, event_lines)
        assert duplicates == 0
        assert reasons <= {"no_active_work_order"}, f"a transient failure was dead-lettered: {reasons}"
        admin.close()


def _base_env() -> dict:
    import os

    return dict(os.environ)
