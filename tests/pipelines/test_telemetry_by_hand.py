"""The demo done by hand: `andon simulate --bootstrap-servers` with its default start, then `andon run telemetry` on the wall
clock, keeps the readings; a trace from months ago is thrown away loudly (a WARNING naming the reason), not
silently."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from flowtools import andon, parquet_of, site_config

from andon.connectors.kafka import read_topic

pytestmark = pytest.mark.broker


def by_hand(broker, tmp_path, *simulate_args):
    config, topics = site_config(tmp_path, broker, f"bh{uuid.uuid4().hex[:6]}")
    env = {"ANDON_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap}
    sim = andon("simulate", "--config", str(config), "--bootstrap-servers", broker.bootstrap, "--machines", "2", "--hours", "0.5",
                "--seed", "3", "--truth", str(tmp_path / "truth.json"), *simulate_args, env=env)
    run = andon("run", "telemetry", "--config", str(config), "--out", str(tmp_path / "out"), "--eof-idle", "3",
                env=env)
    dlq = read_topic({"bootstrap.servers": broker.bootstrap}, topics[1], idle_s=1.5)
    reasons = {dict(m.headers() or []).get("andon.dlq.reason", b"?").decode() for m in dlq}
    return sim, run, reasons, tmp_path / "out"


def test_default_start_is_accepted_by_the_live_pipeline(broker, tmp_path):
    sim, run, reasons, out = by_hand(broker, tmp_path)
    assert "the latest shift start from which the run ends by now" in sim.stderr
    assert "timestamp_too_old" not in reasons and "dead-lettered as" not in run.stderr
    agg = parquet_of(out, "telemetry_agg")
    assert agg.height > 0 and set(agg["machine"]) == {"press-01", "press-02"}


def test_a_trace_from_months_ago_is_dead_lettered_with_a_warning(broker, tmp_path):
    months_ago = (datetime.now(UTC) - timedelta(days=90)).replace(microsecond=0).isoformat()
    _, run, reasons, out = by_hand(broker, tmp_path, "--start", months_ago)
    assert reasons == {"timestamp_too_old"}
    assert "WARNING andon.telemetry:" in run.stderr and "dead-lettered as timestamp_too_old" in run.stderr
    assert "what to do: check the gateway clock" in run.stderr
    assert parquet_of(out, "telemetry_agg").height == 0
