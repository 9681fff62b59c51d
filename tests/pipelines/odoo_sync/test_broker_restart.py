"""The Kafka broker restarted while odoo_sync applies events to Odoo.

Injects: the broker is stopped and started again while `andon run odoo-sync` is mid-run, with Odoo slowed by
25 ms per call and small polls so that the consumer, the Odoo writes and the DLQ producer are all in flight.

- Apache Kafka keeps its log directory: the same process must resume by itself (no restart of its own, no
  catch-up run) and finish with exit status 0.
- Tansu keeps everything in memory: a restart loses every topic. The upstream re-publishes the same events (the
  telemetry dataflow derives them deterministically, same ids); odoo_sync sees the topic's new id, resumes at its
  first offset (counted in andon_kafka_offset_resets_total) and finishes by itself too.

Checks: exit status 0, never a signal (odoo-sync used to die with SIGSEGV in librdkafka here: its producer was
garbage-collected with messages still queued, and librdkafka ran their delivery callbacks from the destructor);
every event in Odoo exactly once, read back over the API and compared with the events that must leave a record;
nothing transient dead-lettered.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid

import pytest
from flowtools import ROOT, odoo_writes, site_config
from odoo_variants import PER_TRANSPORT, admin_client
from odoosync_tools import PER_EVENT, assert_all_applied, dead_letters, keyed_summary, produce

from andon.connectors.broker import EmbeddedBroker, create_topics

pytestmark = [pytest.mark.fault, pytest.mark.broker, pytest.mark.odoo]


@pytest.mark.parametrize("variant", PER_TRANSPORT)  # a Kafka restart: one variant per transport
def test_broker_restart_mid_sync_loses_and_duplicates_nothing(tmp_path, variant, event_lines, fault_summary,
                                                               broker_engine):
    keeps = broker_engine == "kafka"
    options = {"data_dir": tmp_path / "kafka"} if keeps else {"log_path": tmp_path / "tansu.log"}
    with EmbeddedBroker(**options) as broker, variant.standin(tmp_path / "odoo") as odoo:
        config, topics = site_config(tmp_path, broker, f"rs{uuid.uuid4().hex[:6]}", PER_EVENT)
        produce(broker, topics[2], event_lines)
        env = variant.env(odoo, broker)
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
            broker.stop()
            time.sleep(5)  # a broker restart takes seconds; clients notice it is away meanwhile
            broker.start()  # Kafka: same log directory, every topic and message is there again
            if not keeps:  # Tansu: every topic and message is gone
                create_topics(broker.bootstrap, topics, partitions=4)
                produce(broker, topics[2], event_lines)  # the upstream re-publishes: same bytes, same event ids
            try:
                first_rc = proc.wait(timeout=150)
            except subprocess.TimeoutExpired:
                proc.kill()
                tail = log_path.read_text()[-3000:]
                raise AssertionError(f"odoo-sync hung after the broker restart:\n{tail}") from None
        odoo.clear_faults()

        admin = admin_client(odoo)
        expected, applied, duplicates = keyed_summary(admin, event_lines)
        reasons = {d["andon.dlq.reason"] for d in dead_letters(broker, topics[3])}
        what = "data kept" if keeps else "all topics lost, re-published"
        fault_summary(faults=f"broker restart ({what}) after {writes_before} Odoo writes + 25 ms Odoo latency",
                      readings_in="-", events_expected=expected, events_applied=applied, duplicates=duplicates,
                      lost=expected - applied, events_in=len(event_lines), first_run_exit=first_rc)
        assert first_rc == 0, f"odoo-sync exited {first_rc} (negative: a signal):\n{log_path.read_text()[-3000:]}"
        assert_all_applied(admin, event_lines)
        assert duplicates == 0
        assert reasons <= {"no_active_work_order"}, f"a transient failure was dead-lettered: {reasons}"
        admin.close()


def _base_env() -> dict:
    import os

    return dict(os.environ)
