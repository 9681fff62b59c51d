"""Helpers for dataflow tests: running andon commands and comparing their outputs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[2]


def andon(*args: str, env: dict | None = None, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
    """Run the andon command in a subprocess (the way users and pods run it)."""
    proc = subprocess.run([sys.executable, "-m", "andon.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})}, cwd=ROOT)
    if check and proc.returncode != 0:
        raise AssertionError(f"andon {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


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
    keys = ["machine", "window_start", "signal"] if dataset == "telemetry_agg" else ["machine", "shift_id"]
    return df.sort(keys)


def file_names(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.parquet"))
