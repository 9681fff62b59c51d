"""The telemetry dataflow: raw readings (Kafka or JSONL) -> business events, dead letters and Parquet.

Example::

    flow = build_flow(TelemetryFlowConfig(sites=[site], source="kafka", out_dir="out"))
    # python -m bytewax.run ... or bytewax.testing.run_main(flow)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import bytewax.operators as op
from bytewax.dataflow import Dataflow

from andon.config import SiteConfig
from andon.connectors.files import JsonlBatchSource, JsonlSink
from andon.connectors.kafka import KafkaBatchSource, KafkaSink
from andon.connectors.parquet import ParquetSink
from andon.connectors.parquet_dictionary import write_data_dictionary
from andon.errors import ConfigError
from andon.operators.shard import ShardProcessor
from andon.operators.telemetry import Sharding, ShardLogic, TelemetryDecoder, shard_dead_letters
from andon.pipelines.status import BOARD
from andon.pipelines.telemetry import metrics
from andon.pipelines.telemetry.outputs import event_messages, operation_rows, shift_rows, window_rows
from andon.readings import Registry
from andon.wire.mapping import Mapper


@dataclass
class TelemetryFlowConfig:
    """What the telemetry dataflow reads, where it writes, and how it is cut into shards."""

    sites: Sequence[SiteConfig]
    out_dir: str | Path
    source: str = "kafka"  # "kafka" | "files"
    inputs: Sequence[str | Path] = ()  # JSONL files when source == "files"
    shards: int = 4
    batch_size: int = 10_000
    #: Plausible reading timestamps [oldest, newest] in epoch ms; None = around the wall clock per batch.
    ts_bounds: tuple[int, int] | None = None
    #: Kafka source ends after this long without a message (None: runs forever, as in production).
    eof_idle_s: float | None = None
    kafka_config: dict = field(default_factory=dict)
    #: A bytewax Source of RawBatch items to use instead of Kafka or files (benchmarks, embedding).
    custom_source: object | None = None
    parquet_write_interval_s: float = 30.0

    def __post_init__(self) -> None:
        if not self.sites:
            raise ValueError("at least one site config is needed")
        if self.source not in {"kafka", "files", "custom"}:
            raise ValueError(f"source must be 'kafka', 'files' or 'custom', not {self.source!r}")
        if self.source == "custom" and self.custom_source is None:
            raise ValueError("source 'custom' needs custom_source")
        if self.source == "files" and not self.inputs:
            raise ValueError("source 'files' needs at least one input file")
        ids = [s.site.id for s in self.sites]
        if len(set(ids)) != len(ids):
            raise ConfigError(f"a site is configured twice: {ids}", hint="give each site one config file")
        first = self.sites[0].topics
        for s in self.sites[1:]:
            for name in ("events", "telemetry_dlq"):
                if getattr(s.topics, name) != getattr(first, name):
                    raise ConfigError(
                        f"site {s.site.id!r}: topics.{name} = {getattr(s.topics, name)!r} differs from site "
                        f"{self.sites[0].site.id!r}'s {getattr(first, name)!r}",
                        hint="the sites of one telemetry deployment write one events topic and one dead-letter "
                             "topic (events and dead letters carry their site); set the same name in every file")


def telemetry_topics(sites: Sequence[SiteConfig]) -> list[str]:
    """What the telemetry source reads: each site's topic, or the pattern of the topics its [mapping] reads the
    UNS path or topic_pattern from (e.g. ^umh\\.v1\\..+\\._historian$)."""
    mapper = Mapper.from_sites(sites)
    if mapper is not None:
        return mapper.subscriptions()
    return list(dict.fromkeys(s.topics.telemetry for s in sites))


def build_flow(cfg: TelemetryFlowConfig) -> Dataflow:
    registry = Registry(cfg.sites)
    site = cfg.sites[0]
    topics = site.topics
    decoder = TelemetryDecoder(cfg.sites, registry, cfg.ts_bounds)
    sharding = Sharding(registry, cfg.shards)
    out_dir = Path(cfg.out_dir)
    write_data_dictionary(out_dir)
    BOARD.register_sites(cfg.sites, "telemetry")

    flow = Dataflow("andon_telemetry")
    if cfg.source == "kafka":
        kafka = {**site.kafka.client_config(), **cfg.kafka_config}
        source = KafkaBatchSource(kafka, telemetry_topics(cfg.sites), batch_size=cfg.batch_size, eof_idle_s=cfg.eof_idle_s,
                                  on_lag=metrics.report_lag, group_prefix=site.kafka.group_id)
    elif cfg.source == "custom":
        source = cfg.custom_source
    else:
        source = JsonlBatchSource(cfg.inputs, batch_lines=cfg.batch_size)
    raw = op.input("telemetry_in", flow, source)
    metrics.init_labels(registry, topics.telemetry_dlq if cfg.source == "kafka" else "dlq.jsonl")
    decoded = op.map("decode", raw, metrics.count_decoded(decoder.decode, metrics.Freshness(registry)))
    sharded = op.flat_map("shard", decoded, sharding.split)

    def make_processor(resume_state):
        return ShardProcessor(cfg.sites, registry, state=resume_state)

    results = op.stateful_batch("operators", sharded, lambda resume: ShardLogic(make_processor, resume))
    shard_key_and_result = op.map("count_outputs", results, metrics.count_outputs)

    # a shard batch's events travel as one item (a block), not one bytewax item per event
    events = op.filter_map("events", shard_key_and_result, lambda kv: kv[1][1].events or None)
    dead = op.merge(
        "dead_letters",
        op.flat_map("invalid", decoded, lambda d: d.dead),
        op.flat_map("late", shard_key_and_result, lambda kv: shard_dead_letters(kv[1][0], kv[1][1], registry)),
    )
    windows = op.flat_map("window_rows", shard_key_and_result,
                          lambda kv: [(kv[0], rows) for rows in window_rows(kv[1][1].windows, registry)])
    shifts = op.flat_map("shift_rows", shard_key_and_result,
                         lambda kv: [(kv[0], rows) for rows in shift_rows(kv[1][1].shifts)])
    operations = op.flat_map("operation_rows", shard_key_and_result,
                             lambda kv: [(kv[0], rows) for rows in operation_rows(kv[1][1].events, registry)])
    parquet = ParquetSink(out_dir, sharding.keys, write_interval_s=cfg.parquet_write_interval_s,
                          sites={s.site.id: (s.site.timezone, s.processing.microstop_policy) for s in cfg.sites})
    op.output("telemetry_agg_out", windows, parquet)
    op.output("shift_oee_out", shifts, parquet)
    op.output("operations_out", operations, parquet)

    if cfg.source == "kafka":
        sink = KafkaSink({**site.kafka.client_config(), **cfg.kafka_config})
        op.output("events_out", op.map("event_msg", events, lambda block: event_messages(block, topics.events)),
                  sink)
        op.output("dlq_out", op.map("dlq_msg", dead, lambda d: metrics.dead_letter_message(d, topics.telemetry_dlq)),
                  sink)
    else:
        from andon.events import encode_event_lines
        from andon.pipelines.telemetry.files import dead_letter_line

        op.output("events_out", op.map("event_lines", events, lambda block: ("events", encode_event_lines(block))),
                  JsonlSink(out_dir / "events.jsonl"))
        def dlq_line(d):
            metrics.count_dead_letter("dlq.jsonl", d.reason)
            return "dlq", dead_letter_line(d)

        op.output("dlq_out", op.map("dlq_line", dead, dlq_line),
                  JsonlSink(out_dir / "dlq.jsonl"))
    return flow
