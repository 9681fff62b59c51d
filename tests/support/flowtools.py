"""Helpers for dataflow tests: running andon commands and comparing their outputs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl
from confluent_kafka import Producer

from andon.config import example_site_path
from andon.connectors.broker import create_topics
from andon.connectors.kafka import read_topic

ROOT = Path(__file__).resolve().parents[2]


def andon(*args: str, env: dict | None = None, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
    """Run the andon command in a subprocess (the way users and pods run it)."""
    proc = subprocess.run([sys.executable, "-m", "andon.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})}, cwd=ROOT)
    if check and proc.returncode != 0:
        raise AssertionError(f"andon {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


@contextmanager
def running_andon(*args: str, env: dict | None = None) -> Iterator[subprocess.Popen]:
    """An andon command running in the background (its own process group, stderr captured for the checks); killed
    with its children on the way out if it is still running."""
    proc = subprocess.Popen([sys.executable, "-m", "andon.cli", *args], cwd=ROOT, env={**os.environ, **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def stop_by_signal(proc: subprocess.Popen, signum: int) -> tuple[float, str]:
    """Sends `signum` to a running andon process and checks the stop every andon process promises (docs/cli.md):
    exit 0 within 10 s, one "stopped cleanly on SIG..." line, no traceback or Rust panic. Returns (seconds it took,
    its stderr)."""
    proc.send_signal(signum)
    sent = time.monotonic()
    _, err = proc.communicate(timeout=30)
    took = time.monotonic() - sent
    assert proc.returncode == 0, err
    assert took < 10, f"took {took:.1f} s to stop"
    assert f"stopped cleanly on {signal.Signals(signum).name}" in err, err
    for bad in ("Traceback", "KeyboardInterrupt", "panicked", "stack backtrace", "error:"):
        assert bad not in err, err
    return took, err


def events_of(path: Path) -> dict[str, dict]:
    """event_id -> event, checking that no id appears twice with different content."""
    out: dict[str, dict] = {}
    for line in path.read_bytes().splitlines():
        event = json.loads(line)
        previous = out.setdefault(event["event_id"], event)
        assert previous == event, f"event id {event['event_id']} emitted with different content"
    return out


def parquet_of(root: Path, dataset: str) -> pl.DataFrame:
    files = sorted((root / dataset).rglob("*.parquet"))
    if not files:
        return pl.DataFrame()
    df = pl.scan_parquet([str(f) for f in files], hive_partitioning=True).collect()
    keys = {"telemetry_agg": ["machine", "window_start", "signal"], "operations": ["machine", "since"]}.get(
        dataset, ["machine", "shift_id"])
    return df.sort(keys)


def file_names(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.parquet"))


def site_config(tmp_path, broker, tag: str, extra: str = ""):
    """The example site with its own topics, so each test run starts from empty topics; `extra` TOML appended."""
    text = example_site_path().read_text() + ("\n" + extra if extra else "")
    for name in ("andon.telemetry.dlq.v1", "andon.telemetry.v1", "andon.events.dlq.v1", "andon.events.v1",
                 "andon.workorders.v1"):
        text = text.replace(f'"{name}"', f'"{tag}.{name}"')
    path = tmp_path / f"{tag}.toml"
    path.write_text(text)
    topics = [f"{tag}.andon.{t}" for t in ("telemetry.v1", "telemetry.dlq.v1", "events.v1", "events.dlq.v1",
                                             "workorders.v1")]
    create_topics(broker.bootstrap, topics, partitions=4)
    return path, topics


def produce_trace(broker, topic, trace):
    producer = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True, "linger.ms": 20})
    n = 0
    for line in trace.read_bytes().splitlines():
        doc = json.loads(line)
        machine = (doc[0] if isinstance(doc, list) else doc)["machine"]
        while True:
            try:
                producer.produce(topic, line, machine.encode())
                break
            except BufferError:
                producer.poll(0.1)
        n += 1
    assert producer.flush(30) == 0
    return n


def run_args(config, out, truth, *extra):
    return ["run", "telemetry", "--config", str(config), "--out", str(out), "--eof-idle", "4",
            "--now", str(truth["end_ms"]), "--snapshot-interval", "0.5", *extra]


def events_from_topic(broker, topic):
    messages = read_topic({"bootstrap.servers": broker.bootstrap}, topic, idle_s=2)
    return [json.loads(m.value()) for m in messages]


# ---- reconcile and sync-shifts (issue 7) -----------------------------------------------------------------------

def drop_readings(trace: Path, out: Path, machine: str, start_ms: int, end_ms: int) -> int:
    """Copy a JSONL trace without `machine`'s readings in [start_ms, end_ms): a gateway outage. Returns lines
    dropped."""
    dropped = 0
    with open(trace, "rb") as src, open(out, "wb") as dst:
        for line in src:
            doc = json.loads(line)
            first = doc[0] if isinstance(doc, list) else doc
            if isinstance(first, dict) and first.get("machine") == machine and start_ms <= first.get("ts", -1) < end_ms:
                dropped += 1
                continue
            dst.write(line)
    return dropped


def odoo_env(odoo, broker=None) -> dict:
    """Environment for andon commands that talk to the stand-in (integration user) and, optionally, the broker."""
    from andon.connectors.standin.testing import INTEGRATION_PASSWORD

    env = {"ANDON_ODOO_URL": odoo.url, "ANDON_ODOO_PASSWORD": INTEGRATION_PASSWORD}
    if broker is not None:
        env["ANDON_KAFKA_BOOTSTRAP_SERVERS"] = broker.bootstrap
    return env


def odoo_writes(odoo) -> dict[str, int]:
    """Write calls the stand-in served since its stats were reset: {"model.method": n}."""
    writes = ("create", "write", "unlink", "button_start", "button_finish", "button_pending", "action_validate",
              "do_scrap")
    return {m: n for m, n in odoo.stats()["by_method"].items() if m.rsplit(".", 1)[-1] in writes}


CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")


def chromium(page: Path | str, tmp: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run Debian's headless Chromium on a local file (or an http:// URL) with a fresh profile (as root:
    --no-sandbox)."""
    import shutil

    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        raise AssertionError("chromium is not installed: make test installs it (apt-get install -y chromium)")
    profile = tmp / f"chromium-profile-{len(list(tmp.glob('chromium-profile-*')))}"
    return subprocess.run([binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args,
                           page if isinstance(page, str) else page.resolve().as_uri()],
                          capture_output=True, text=True, timeout=timeout, check=False)
