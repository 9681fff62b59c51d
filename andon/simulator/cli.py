"""`andon simulate`: plant telemetry to a JSONL file and/or a Kafka topic, with the ground truth beside it.

Example::

    andon simulate --machines 20 --hours 8 --seed 7 --out trace.jsonl      # also writes trace.truth.json
    andon simulate --bootstrap-servers 127.0.0.1:9092 --speed 60 --faults all --progress
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import click

from andon.cli_env import Command, alias, bootstrap_option, config_option, option
from andon.errors import SimulationError

if TYPE_CHECKING:
    from andon.config import SiteConfig

# The help is printed without importing the simulator (numpy) or the config (pydantic): these two mirror
# andon.simulator.faults.FAULT_KINDS and andon.simulator.simulation.DEFAULT_START (a test holds them equal).
FAULT_KINDS = ("duplicates", "out_of_order", "late", "batched", "malformed")
DEFAULT_START = "2026-03-02T06:00:00+01:00"


@click.command(cls=Command, name="simulate")
@config_option("site config (default: the example plant)", required=False)
@option("--machines", type=int, default=None, metavar="N", help="simulate the first N machines (default: all)")
@option("--hours", type=float, default=8.0, show_default=True, metavar="H", help="simulated hours")
@option("--seed", type=int, default=0, show_default=True, metavar="S", help="random seed")
@option("--start", default=None, metavar="ISO8601",
        help="simulated start; without an offset it is site-local time (default with --bootstrap-servers: the "
             "latest shift start that lets the run end by now, so `andon run telemetry`, which judges reading "
             f"times by the clock, accepts every reading; else {DEFAULT_START})")
@option("--period-ms", type=int, default=1000, show_default=True, metavar="MS", help="reading period")
@option("--faults", default="", metavar="LIST",
        help=f"comma list of gateway faults: {', '.join(FAULT_KINDS)}, or all")
@option("--noise-only", is_flag=True,
        help="machines run all the time (except breaks) with noisy signals: no downtime at all")
@option("--rollover", is_flag=True,
        help="start every machine's part counter near counter_max so it wraps during the run")
@option("--stagger", is_flag=True,
        help="offset each machine's readings by a few ms (break and shift edges then fall between readings; the "
             "truth is aligned to readings)")
@option("--out", default=None, metavar="FILE", help="write JSONL here (truth goes to FILE with suffix .truth.json)")
@bootstrap_option("produce to Kafka at these bootstrap servers, host:port[,...] (the site's other kafka.* "
                  "settings apply; never read from ANDON_KAFKA_BOOTSTRAP_SERVERS)",
                  envvar="ANDON_SIMULATE_BOOTSTRAP_SERVERS")
@alias("--kafka", "bootstrap_servers")
@option("--topic", default=None, help="Kafka topic (default: the site's topics.telemetry)")
@option("--truth", default=None, metavar="FILE",
        help="where to write the ground truth (default: beside --out, else TOPIC.truth.json)")
@option("--speed", type=float, default=0.0, show_default=True, metavar="X",
        help="X simulated seconds per wall second; 1 = real time, 0 = as fast as possible")
@option("--progress", is_flag=True, help="show live progress on stderr (plain lines when not a terminal)")
def cli(**params) -> int:
    """Generate plant telemetry with ground truth (deterministic for a seed)."""
    return simulate(SimpleNamespace(**params))


def parse_start(text: str, site: SiteConfig) -> int:
    """Epoch ms of an ISO 8601 instant; a time without offset is taken in the site's time zone."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise SimulationError(f"--start {text!r} is not an ISO 8601 date-time",
                              hint=f"e.g. --start {DEFAULT_START}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=ZoneInfo(site.site.timezone))
    return int(parsed.timestamp() * 1000)


def recent_start(site: SiteConfig, hours: float, now_ms: int | None = None) -> int:
    """The latest shift start (a whole hour without a calendar) from which `hours` end by `now_ms`: readings the
    live pipeline accepts (no older than processing.max_past_s, none in the future, even produced with --speed)."""
    from andon.shifts import ShiftSchedule

    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    span_ms = round(hours * 3_600_000)
    max_past_ms = int(site.processing.max_past_s * 1000)
    latest = now_ms - span_ms
    starts = [s.start_ms for s in ShiftSchedule.from_site(site).shifts_between(latest - 8 * 86_400_000, latest + 1)
              if s.start_ms <= latest]
    start = max(starts) if starts else latest - latest % 3_600_000
    if now_ms - start > max_past_ms:
        start = latest - latest % 60_000
    if now_ms - start > max_past_ms:
        raise SimulationError(f"--hours {hours:g} reaches further back than processing.max_past_s "
                              f"({site.processing.max_past_s:g} s): the live pipeline would refuse the oldest readings",
                              hint="simulate fewer hours, or write a file (--out) and run `andon replay` on it")
    return start


def simulate(args: SimpleNamespace) -> int:
    from andon.config import example_site_path, load_site
    from andon.simulator.faults import parse_faults
    from andon.simulator.output import JsonlSink, KafkaSink, Progress, Sink, run, truth_path_for, write_truth
    from andon.simulator.simulation import Simulation

    args.kafka = args.bootstrap_servers
    if not args.out and not args.kafka:
        raise SimulationError("nowhere to write the telemetry",
                              hint="pass --out FILE and/or --bootstrap-servers HOST:PORT")
    if args.topic and not args.kafka:
        raise SimulationError("--topic needs --bootstrap-servers",
                              hint="pass --bootstrap-servers HOST:PORT too, or drop --topic")
    site = load_site(args.config or example_site_path())
    if args.start is not None:
        start_ms = parse_start(args.start, site)
    elif args.kafka:
        start_ms = recent_start(site, args.hours)
        print(f"simulate: start {datetime.fromtimestamp(start_ms / 1000, UTC).isoformat()} (the latest shift start "
              "from which the run ends by now; pass --start for a reproducible trace)", file=sys.stderr)
    else:
        start_ms = parse_start(DEFAULT_START, site)
    sim = Simulation(site, machines=args.machines, hours=args.hours, seed=args.seed,
                     start_ms=start_ms, period_ms=args.period_ms,
                     faults=parse_faults(args.faults), noise_only=args.noise_only, rollover=args.rollover,
                     stagger=args.stagger)
    topic = args.topic or site.topics.telemetry
    if args.truth:
        truth_path = Path(args.truth)
    elif args.out:
        truth_path = truth_path_for(args.out)
    else:
        truth_path = Path(f"{topic}.truth.json")
    sinks: list[Sink] = []
    if args.out:
        sinks.append(JsonlSink(args.out, flush_each=args.speed > 0))
    if args.kafka:
        config = {k: v for k, v in site.kafka.client_config().items() if k != "bootstrap.servers"}
        try:
            sinks.append(KafkaSink(args.kafka, topic, config))
        except BaseException:
            for sink in sinks:
                sink.close()
            raise
    truth = run(sim, sinks, speed=args.speed, progress=Progress(sim) if args.progress else None)
    write_truth(truth, truth_path)
    where = " and ".join(filter(None, [args.out, f"kafka {args.kafka} topic {topic}" if args.kafka else None]))
    print(f"simulate: {truth['lines']:,} messages ({truth['readings']:,} readings from {len(truth['machines'])} "
          f"machines over {args.hours:g} h) to {where}; truth in {truth_path}", file=sys.stderr)
    return 0


def main(argv: list[str]) -> int:
    """`andon simulate ARGS...` as a function: its exit status (2 on a usage or simulation error)."""
    from andon.cli import invoke

    return invoke(cli, argv, "andon simulate")
