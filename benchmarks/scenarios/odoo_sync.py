"""Scenario odoo-sync: business events applied per second through the odoo_sync sink into the Odoo stand-in with
5 ms added latency per call, and Odoo calls per event (from the stand-in's /standin/stats).

The events are real: the simulator's plant run through the telemetry replay. They are applied in batches the size
the dataflow polls (`poll_size`), by one sync worker. The first batch (login and master-data load) is warm-up;
`calls_per_event` and `events_per_s` count the steady state after it. Baseline `one_event_per_batch` applies the
same events one per batch (what an unbatched sink would do), measured in the same run on a prefix of the events.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.scenarios.common import peak_rss_mb, pick, progress

LATENCY_MS = 5.0


def _events(root: Path, machines: int, hours: float) -> list[bytes]:
    from andon.config import example_site_path, load_site
    from andon.simulator import Simulation

    trace = root / "trace.jsonl"
    Simulation(load_site(example_site_path()), machines=machines, hours=hours, seed=7).write_jsonl(trace)
    subprocess.run([sys.executable, "-m", "andon.cli", "replay", str(trace), "--out", str(root / "replay")],
                   check=True, capture_output=True)
    return (root / "replay" / "events.jsonl").read_bytes().splitlines()


def _apply(url: str, lines: list[bytes], poll_size: int, warmup: int, odoo) -> tuple[float, int, int]:
    """(seconds, events, Odoo calls) of the steady state after `warmup` events."""
    from andon.config import OdooSettings, example_site_path, load_site
    from andon.connectors.odoo import OdooClient
    from andon.connectors.odoo.sync import Inbound, OdooSync
    from andon.connectors.standin.testing import INTEGRATION_PASSWORD

    settings = OdooSettings(url=url, password=INTEGRATION_PASSWORD, transport="jsonrpc", rate_limit_per_s=100_000)
    site = load_site(example_site_path()).model_copy(update={"odoo": settings})
    items = [Inbound.of(line) for line in lines]
    with OdooClient(settings) as client:
        sync = OdooSync(client, site)
        for start in range(0, warmup, poll_size):
            sync.apply(items[start:min(start + poll_size, warmup)])
        odoo.reset_stats()
        begin = time.perf_counter()
        for start in range(warmup, len(items), poll_size):
            sync.apply(items[start:start + poll_size])
        seconds = time.perf_counter() - begin
    return seconds, len(items) - warmup, odoo.stats()["calls"]


def odoo_sync(size: str = "full") -> dict:
    from andon.connectors.standin import run_standin

    machines, hours, poll_size = pick(size, (4, 1.0, 200), (10, 2.0, 1000), (20, 4.0, 1000))
    progress(f"odoo-sync: replaying {machines} machines x {hours} h into events, then into the Odoo stand-in")
    with tempfile.TemporaryDirectory(prefix="andon-bench-odoo-") as tmp:
        root = Path(tmp)
        lines = _events(root, machines, hours)
        with run_standin(root / "odoo", latency_ms=LATENCY_MS) as odoo:
            seconds, events, calls = _apply(odoo.url, lines, poll_size, min(poll_size, len(lines) // 4), odoo)
        prefix = lines[: pick(size, 50, 300, 1000)]
        progress("odoo-sync: baseline one_event_per_batch")
        with run_standin(root / "odoo-single", latency_ms=LATENCY_MS) as odoo:
            single_s, single_events, single_calls = _apply(odoo.url, prefix, 1, 1, odoo)
    rate = events / seconds
    single_rate = single_events / single_s
    return {"events_per_s": round(rate, 1), "calls_per_event": round(calls / events, 3), "events": events,
            "odoo_calls": calls, "seconds": round(seconds, 2), "latency_ms_per_call": LATENCY_MS,
            "poll_size": poll_size, "workers": 1, "peak_rss_mb": round(peak_rss_mb(), 1),
            "baselines": {"one_event_per_batch": {"events_per_s": round(single_rate, 1),
                                                  "calls_per_event": round(single_calls / single_events, 3)}}}
