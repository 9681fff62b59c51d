"""`andon replay` and `andon run telemetry`: the telemetry dataflow from files or from Kafka (outside the
telemetry package, so that `--help` imports neither the dataflow nor numba nor bytewax)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import click

from andon.cli_env import Command, config_option, eof_idle_option, option
from andon.errors import AndonError
from andon.pipelines.runner import (
    broker_options,
    config_paths,
    observability_options,
    run_options,
    with_bootstrap,
)

# The dataflow, its kernels (numba) and bytewax are imported when a command runs, not to print its --help.


def infer_bounds(paths, max_past_s: float, max_future_s: float, sample: int = 1000) -> tuple[int, int]:
    """Plausible timestamps for a replay: no older than the earliest of the first readings minus max_past,
    no newer than the wall clock plus max_future (a recorded file is judged by its own time, not today's)."""
    import msgspec

    from andon.readings import Reading, parse_ts

    probe = msgspec.json.Decoder(Reading | list[Reading])
    earliest = None
    for path in paths:
        with open(path, "rb") as fh:
            for _, line in zip(range(sample), fh, strict=False):
                try:
                    item = probe.decode(line)
                except msgspec.DecodeError:
                    continue
                for r in item if isinstance(item, list) else [item]:
                    t = parse_ts(r.ts)
                    if t is not None and t <= time.time() * 1000 + max_future_s * 1000:
                        earliest = t if earliest is None else min(earliest, t)
    now = int(time.time() * 1000)
    lo = (earliest if earliest is not None else now) - int(max_past_s * 1000)
    return lo, now + int(max_future_s * 1000)


def loosest_limits(sites) -> tuple[float, float]:
    """(max_past_s, max_future_s) the decoder takes for several sites; each reading is then held to its site's."""
    return max(s.processing.max_past_s for s in sites), max(s.processing.max_future_s for s in sites)


def _readings_seen() -> tuple[float, str]:
    from andon.pipelines.telemetry import metrics

    return metrics.READINGS_IN._value.get(), "readings"


@click.command(cls=Command, name="replay")
@click.argument("inputs", nargs=-1, required=True, metavar="JSONL...")
@config_option("site TOML, or a directory of them; repeat for several sites (default: the example plant)",
               required=False, multiple=True)
@option("--out", required=True, metavar="DIR", help="output directory (events.jsonl, dlq.jsonl, Parquet)")
@option("--shards", type=int, default=4, show_default=True, help="state shards = Parquet files per period")
@option("--batch-size", type=int, default=10_000, show_default=True, help="lines per batch")
@run_options
def replay(**params) -> int:
    """Run the telemetry dataflow over JSONL files of readings (one reading or array per line)."""
    args = SimpleNamespace(**params)
    args.inputs = list(args.inputs)
    from andon.config import example_site_path, load_sites
    from andon.pipelines.runner import Progress, execute
    from andon.pipelines.telemetry import TelemetryFlowConfig, build_flow

    sites = load_sites(config_paths(args) or [example_site_path()])
    for path in args.inputs:
        if not Path(path).is_file():
            raise AndonError(f"input file {path} does not exist", hint="pass JSONL files written by andon simulate")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    max_past_s, max_future_s = loosest_limits(sites)
    bounds = infer_bounds(args.inputs, max_past_s, max_future_s)
    cfg = TelemetryFlowConfig(sites=sites, out_dir=out, source="files", inputs=args.inputs, shards=args.shards,
                              batch_size=args.batch_size, ts_bounds=bounds)
    started = time.monotonic()
    with Progress(_readings_seen):
        execute(build_flow(cfg), args)
    summary = summarize(out)
    summary["seconds"] = round(time.monotonic() - started, 2)
    print(json.dumps(summary, indent=2))
    return 0


def summarize(out: Path) -> dict:
    """Counts of what a run wrote: events by type, dead letters by reason, Parquet files and rows."""
    import pyarrow.parquet as pq

    events: dict[str, int] = {}
    if (out / "events.jsonl").exists():
        for line in (out / "events.jsonl").read_bytes().splitlines():
            kind = json.loads(line)["type"]
            events[kind] = events.get(kind, 0) + 1
    dlq: dict[str, int] = {}
    if (out / "dlq.jsonl").exists():
        for line in (out / "dlq.jsonl").read_bytes().splitlines():
            reason = json.loads(line)["reason"]
            dlq[reason] = dlq.get(reason, 0) + 1
    parquet = {}
    for dataset in ("telemetry_agg", "shift_oee"):
        files = sorted((out / dataset).rglob("*.parquet")) if (out / dataset).exists() else []
        parquet[dataset] = {"files": len(files), "rows": sum(pq.read_metadata(f).num_rows for f in files),
                            "path": str(out / dataset)}
    return {"events": dict(sorted(events.items())), "dead_letters": dict(sorted(dlq.items())), "parquet": parquet}


@click.command(cls=Command, name="telemetry")
@config_option("site TOML, or a directory of them; repeat for several sites of one deployment (secrets from "
               "ANDON_* environment variables)", required=True, multiple=True)
@option("--out", default="andon-data", show_default=True, metavar="DIR", help="Parquet root directory")
@option("--shards", type=int, default=None, help="state shards (default: topic partitions)")
@option("--batch-size", type=int, default=10_000, show_default=True, help="messages per batch")
@eof_idle_option(None, "stop after this many seconds without input (default: run forever)")
@option("--now", type=int, default=None, hidden=True)  # fixed clock for tests, epoch ms
@run_options
@broker_options
@observability_options
def run_telemetry(**params) -> int:
    """Production telemetry dataflow: Kafka readings -> business events, dead letters, Parquet."""
    args = SimpleNamespace(**params)
    from andon.config import load_sites
    from andon.connectors.kafka_health import BROKER, wait_for_broker
    from andon.pipelines.runner import execute, start_observability
    from andon.pipelines.telemetry import TelemetryFlowConfig, build_flow, metrics

    sites = [with_bootstrap(s, args.bootstrap_servers) for s in load_sites(config_paths(args))]
    status = start_observability(args, f"andon telemetry · {', '.join(s.site.id for s in sites)}")
    if status is not None:
        status.add_check("kafka", BROKER.check)
    wait_for_broker(sites[0].kafka.client_config(), args.broker_wait)
    bounds = None
    if args.now is not None:
        max_past_s, max_future_s = loosest_limits(sites)
        bounds = (args.now - int(max_past_s * 1000), args.now + int(max_future_s * 1000))
    cfg = TelemetryFlowConfig(sites=sites, out_dir=args.out, source="kafka", shards=args.shards or
                              sites[0].topics.partitions, batch_size=args.batch_size, eof_idle_s=args.eof_idle,
                              ts_bounds=bounds)
    execute(build_flow(cfg), args)
    print(f"telemetry dataflow finished: {metrics.READINGS_IN._value.get():,.0f} readings", file=sys.stderr)
    return 0
