"""Bytewax glue of the telemetry dataflow: batch decoding with dead letters, sharding, and the shard logic.

Kernels and the ShardProcessor know nothing of bytewax; this module is the thin layer between them and the
dataflow in `andon.pipelines.telemetry`.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import msgspec
import numpy as np
from bytewax.operators import StatefulBatchLogic

from andon import shutdown
from andon.config import SiteConfig
from andon.messages import DeadLetter, RawBatch
from andon.readings import HINTS, InvalidReading, ReadingBatch, Reason, Registry
from andon.security import Authorizer
from andon.wire.arrow import ARROW_STREAM_MAGIC, decode_arrow
from andon.wire.decoder import BatchDecoder, future_detail, past_detail
from andon.wire.labels import fill_labels
from andon.wire.mapping import Mapper

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Decoded:
    """One source batch after decoding: valid readings as columns, refused ones as dead letters."""

    batch: ReadingBatch
    dead: list[DeadLetter]
    readings_in: int


class TelemetryDecoder:
    """Decodes RawBatch items (JSON or Arrow IPC payloads) into columns; never raises on bad input.

    With [[gateways]] configured, each message is first attributed to a gateway (`andon.security`) and each
    decoded reading must name a site that gateway may publish for; anything else becomes an
    `unauthorized_publisher` dead letter."""

    def __init__(self, sites: Sequence[SiteConfig], registry: Registry, bounds: tuple[int, int] | None = None):
        # decoded with the loosest limits of the sites, then each reading held to its own site's (SiteLimits)
        procs = [s.processing for s in sites]
        self.decoder = BatchDecoder(registry, max_message_bytes=max(p.max_message_bytes for p in procs),
                                    max_future_s=max(p.max_future_s for p in procs),
                                    max_past_s=max(p.max_past_s for p in procs))
        self.limits = SiteLimits.of(sites, registry, self.decoder)
        self.registry = registry
        self.fixed_bounds = bounds
        #: each site's [mapping], applied before any decoder path; None when every site sends andon's format
        self.mapper = Mapper.from_sites(sites)
        #: name signals (workorder_signal) whose string values fill_labels turns into codes
        self.label_signals = list(dict.fromkeys(n for s in sites for n in s.label_signal_names()))
        self.authorizer = Authorizer.from_sites(sites)
        if self.authorizer is None:
            log.warning("publisher authorization is off: no [[gateways]] in the site config(s) %s; any producer "
                        "with write access to the telemetry topic may publish for any site",
                        ", ".join(s.site.id for s in sites))
        else:
            ids = sorted({site_id for site_id, _ in registry.keys})
            self._site_code = np.array([ids.index(site_id) for site_id, _ in registry.keys], dtype=np.int64)
            self._site_ids = ids

    def decode(self, raw: RawBatch) -> Decoded:
        """Readings and dead letters of a source batch; whatever the bytes, this returns (one message that
        breaks a decoder becomes a `decoder_error` dead letter, the others are decoded one by one)."""
        try:
            if self.authorizer is None:
                return self._decode(raw)
            return self._authorized(raw)
        except Exception as exc:
            log.warning("decoding a batch of %d messages failed (%s: %s); decoding them one by one",
                        len(raw.values), type(exc).__name__, exc)
            return self._decode_each(raw)

    def _decode_each(self, raw: RawBatch) -> Decoded:
        parts: list[ReadingBatch] = []
        dead: list[DeadLetter] = []
        for i in range(len(raw.values)):
            one = RawBatch(raw.topic, raw.partition, [raw.offsets[i]], [raw.values[i]],
                           [raw.keys[i]] if raw.keys else [], [raw.timestamps[i]] if raw.timestamps else [],
                           [raw.headers[i]] if len(raw.headers) == len(raw.values) else [])
            try:
                got = self._decode(one) if self.authorizer is None else self._authorized(one)
            except Exception as exc:
                log.error("decoder failed on %s[%d] offset %d: %s: %s", raw.topic, raw.partition, raw.offsets[i],
                          type(exc).__name__, exc)
                dead.append(DeadLetter(Reason.DECODER_ERROR.value, f"{type(exc).__name__}: {exc}",
                                       HINTS[Reason.DECODER_ERROR], raw.values[i][:4096], raw.topic, raw.partition,
                                       raw.offsets[i], raw.keys[i] if raw.keys else None))
                continue
            dead.extend(got.dead)
            if len(got.batch):
                got.batch.message_index = np.full(len(got.batch), i, dtype=np.int64)
                parts.append(got.batch)
        batch = concat(parts) if parts else _no_readings(self.registry.signals)
        batch.invalid = []
        return Decoded(batch, dead, len(batch) + len(dead))

    def _authorized(self, raw: RawBatch) -> Decoded:
        """Refuse messages from no known gateway, decode the rest, then refuse readings for sites the message's
        gateway may not publish for (one dead letter per message and refused site)."""
        auth = self.authorizer
        headers = raw.headers if len(raw.headers) == len(raw.values) else [None] * len(raw.values)
        keys = raw.keys if raw.keys else [None] * len(raw.values)
        who = [auth.identify(raw.topic, k, h, v) for k, h, v in zip(keys, headers, raw.values, strict=True)]
        refused: list[DeadLetter] = []
        kept = [i for i, w in enumerate(who) if w.refusal is None]
        for i, w in enumerate(who):
            if w.refusal is not None:
                refused.append(_unauthorized(raw, i, w.refusal))
        if len(kept) < len(raw.values):
            sub = RawBatch(raw.topic, raw.partition, [raw.offsets[i] for i in kept], [raw.values[i] for i in kept],
                           [keys[i] for i in kept], [raw.timestamps[i] for i in kept] if raw.timestamps else [],
                           [headers[i] for i in kept])
            decoded = self._decode(sub)
            if decoded.batch.message_index is not None and len(decoded.batch):
                decoded.batch.message_index = np.asarray(kept, dtype=np.int64)[decoded.batch.message_index]
        else:
            decoded = self._decode(raw)
        batch = decoded.batch
        if len(batch):
            grants: dict[frozenset[str], int] = {}  # few distinct grants per batch: one mask row each
            grant_of = np.array([grants.setdefault(w.sites, len(grants)) for w in who], dtype=np.int64)
            masks = np.array([[site_id in g for site_id in self._site_ids] for g in grants], dtype=bool)
            site = self._site_code[batch.machine]
            ok = masks[grant_of[batch.message_index], site]
            if not ok.all():
                bad = np.flatnonzero(~ok)
                pairs: dict[tuple[int, int], int] = {}
                for r in bad:
                    pair = (int(batch.message_index[r]), int(site[r]))
                    pairs[pair] = pairs.get(pair, 0) + 1
                for (i, s), n in pairs.items():
                    w = who[i]
                    refused.append(_unauthorized(
                        raw, i, f"gateway {w.gateway!r} may publish for {sorted(w.sites)} only, not for site "
                                f"{self._site_ids[s]!r} ({n} reading{'s' if n != 1 else ''} refused)"))
                invalid = batch.invalid
                batch = take(batch, np.flatnonzero(ok))
                batch.invalid = invalid
        dead = decoded.dead + refused
        return Decoded(batch, dead, len(batch) + len(dead))

    def _decode(self, raw: RawBatch) -> Decoded:
        bounds = self.fixed_bounds or self.decoder.bounds()
        route = self.mapper.route(raw.topic) if self.mapper is not None else None
        if route is None:
            batch = self._decode_values(raw.values, bounds)
            if self.limits is not None:
                batch = self.limits.apply(batch, raw.values, bounds)
            return Decoded(batch, _dead_letters(raw, batch.invalid), len(batch) + len(batch.invalid))
        # mapped first (one place for every payload format and decoder path), then decoded like contract messages;
        # refusals keep the original bytes and positions
        mapped = route.apply(raw.values, raw.keys, raw.topic)
        batch = self._decode_values(mapped.values, bounds)
        kept = mapped.kept
        if batch.message_index is not None and len(batch):
            batch.message_index = np.asarray(kept, dtype=np.int64)[batch.message_index]
        later = [InvalidReading(bad.reason, bad.detail, raw.values[kept[bad.message_index]],
                                kept[bad.message_index]) for bad in batch.invalid]
        batch.invalid = sorted(mapped.invalid + later, key=lambda bad: bad.message_index)
        if self.limits is not None:
            batch = self.limits.apply(batch, raw.values, bounds)
        return Decoded(batch, _dead_letters(raw, batch.invalid), len(batch) + len(batch.invalid))

    def _decode_values(self, values: Sequence[bytes], bounds: tuple[int, int]) -> ReadingBatch:
        """Contract messages (JSON or Arrow IPC) decoded into one batch in message order."""
        # JSON first; Arrow IPC payloads (never valid JSON) come back set aside by position
        jb, arrow_idx = self.decoder.decode_json_only(values, ARROW_STREAM_MAGIC, bounds=bounds)
        if self.label_signals:
            fill_labels(jb, values, self.registry, self.label_signals)
        if not arrow_idx:
            return jb
        ab = decode_arrow([values[i] for i in arrow_idx], self.registry, bounds, indices=arrow_idx)
        if len(jb) == 0:  # Arrow only: decode_arrow keeps the payloads' order already
            batch = ab
        else:
            batch = concat([jb, ab])
            batch.labels = jb.labels
            order = np.argsort(batch.message_index, kind="stable")  # keep source order across both formats
            batch = take(batch, order)
        batch.invalid = jb.invalid + ab.invalid
        return batch


class SiteLimits:
    """Each site's own processing limits (max_message_bytes, max_future_s, max_past_s) where the sites of a
    deployment differ: the decoder takes the loosest, then each reading is held to its site's.

    The decoder's bounds are [t0 - loosest max_past, t1 + loosest max_future]; a site's are narrower by the
    difference of its limits from the loosest, so both come from the same clock reading."""

    def __init__(self, slack_past_ms: np.ndarray, slack_future_ms: np.ndarray, max_bytes: np.ndarray) -> None:
        self.slack_past_ms, self.slack_future_ms, self.max_bytes = slack_past_ms, slack_future_ms, max_bytes

    @classmethod
    def of(cls, sites: Sequence[SiteConfig], registry: Registry, decoder: BatchDecoder) -> SiteLimits | None:
        """None when every site has the same limits (nothing to add to the decoder's own checks)."""
        keys = {(s.processing.max_message_bytes, s.processing.max_future_s, s.processing.max_past_s) for s in sites}
        if len(keys) <= 1:
            return None
        by_id = {s.site.id: s.processing for s in sites}
        procs = [by_id[site_id] for site_id, _ in registry.keys]
        return cls(np.array([decoder.max_past_ms - int(p.max_past_s * 1000) for p in procs], np.int64),
                   np.array([decoder.max_future_ms - int(p.max_future_s * 1000) for p in procs], np.int64),
                   np.array([p.max_message_bytes for p in procs], np.int64))

    def apply(self, batch: ReadingBatch, values: Sequence[bytes], bounds: tuple[int, int]) -> ReadingBatch:
        """`batch` without the readings outside their site's limits, which join its invalid records."""
        if len(batch) == 0:
            return batch
        m = batch.machine
        lo = bounds[0] + self.slack_past_ms[m]
        hi = bounds[1] - self.slack_future_ms[m]
        size = np.fromiter(map(len, values), np.int64, len(values))[batch.message_index]
        oversized = size > self.max_bytes[m]
        future = ~oversized & (batch.ts > hi)
        past = ~oversized & ~future & (batch.ts < lo)
        bad = oversized | future | past
        if not bad.any():
            return batch
        refused: list[InvalidReading] = []
        told: set[int] = set()
        for r in np.flatnonzero(bad).tolist():
            i, t = int(batch.message_index[r]), int(batch.ts[r])
            if oversized[r]:
                if i not in told:  # one record per message, as the decoder's own size check
                    told.add(i)
                    refused.append(InvalidReading(Reason.OVERSIZED, f"{size[r]} bytes > limit {self.max_bytes[m[r]]} "
                                                  "of its site", values[i][:4096], i))
            elif future[r]:
                refused.append(InvalidReading(Reason.TS_FUTURE, future_detail(t, int(hi[r])), values[i], i))
            else:
                refused.append(InvalidReading(Reason.TS_PAST, past_detail(t, int(lo[r])), values[i], i))
        kept = take(batch, np.flatnonzero(~bad))
        kept.invalid = sorted(batch.invalid + refused, key=lambda bad: bad.message_index)
        return kept


def _dead_letters(raw: RawBatch, invalid: Sequence[InvalidReading]) -> list[DeadLetter]:
    return [DeadLetter(bad.reason.value, bad.detail, bad.hint, bad.raw, raw.topic, raw.partition,
                       raw.offsets[bad.message_index], raw.keys[bad.message_index] if raw.keys else None)
            for bad in invalid]


def _no_readings(signals: list[str]) -> ReadingBatch:
    e = np.zeros(0, dtype=np.int64)
    return ReadingBatch(np.zeros(0, np.int32), e, e.copy(), np.zeros((0, len(signals))), signals, [], e.copy())


def _unauthorized(raw: RawBatch, i: int, detail: str) -> DeadLetter:
    return DeadLetter(Reason.UNAUTHORIZED.value, detail, HINTS[Reason.UNAUTHORIZED], raw.values[i], raw.topic,
                      raw.partition, raw.offsets[i], raw.keys[i] if raw.keys else None)


def take(batch: ReadingBatch, rows: np.ndarray) -> ReadingBatch:
    return ReadingBatch(batch.machine[rows], batch.ts[rows], batch.seq[rows], batch.values[rows], batch.signals,
                        [], None if batch.message_index is None else batch.message_index[rows], batch.labels)


def concat(batches: Sequence[ReadingBatch]) -> ReadingBatch:
    if len(batches) == 1:
        return batches[0]
    first = batches[0]
    msg = [b.message_index if b.message_index is not None else np.full(len(b), -1) for b in batches]
    labels = {k: v for b in batches if b.labels for k, v in b.labels.items()} or None
    return ReadingBatch(np.concatenate([b.machine for b in batches]), np.concatenate([b.ts for b in batches]),
                        np.concatenate([b.seq for b in batches]), np.concatenate([b.values for b in batches]),
                        first.signals, [x for b in batches for x in b.invalid], np.concatenate(msg), labels)


#: Up to this many changes of key in a batch, grouping by key copies runs instead of sorting the whole batch.
FEW_RUNS = 64


def key_runs(keys: np.ndarray) -> list[tuple[int, list[tuple[int, int]]]] | None:
    """[(key, [(start, end), ...])] in ascending key order, each key's runs in arrival order, when `keys` changes
    fewer than FEW_RUNS times (e.g. Arrow payloads of one machine each); None otherwise. Concatenating the runs
    gives the rows of a stable sort by key, in the same order."""
    if keys.shape[0] == 0:
        return []
    cuts = np.flatnonzero(keys[1:] != keys[:-1]) + 1
    if cuts.size >= FEW_RUNS:
        return None
    starts = [0, *cuts.tolist()]
    runs: dict[int, list[tuple[int, int]]] = {}
    for a, b in zip(starts, [*starts[1:], keys.shape[0]], strict=True):
        runs.setdefault(int(keys[a]), []).append((a, b))
    return sorted(runs.items())


def cut(col: np.ndarray, spans: list[tuple[int, int]]) -> np.ndarray:
    """The rows of `spans` of a column, in order: a view for one span, else one copy."""
    if len(spans) == 1:
        return col[spans[0][0]:spans[0][1]]
    return np.concatenate([col[a:b] for a, b in spans])


class Sharding:
    """Stable machine -> shard assignment (crc32 of site/machine), independent of worker count and process."""

    def __init__(self, registry: Registry, shards: int) -> None:
        if shards < 1:
            raise ValueError("shards must be at least 1")
        self.keys = [f"shard-{i:02d}" for i in range(shards)]
        self.of_machine = np.array([zlib.crc32(f"{s}/{m}".encode()) % shards for s, m in registry.keys],
                                   dtype=np.int32)

    def split(self, decoded: Decoded) -> list[tuple[str, ReadingBatch]]:
        batch = decoded.batch
        if len(batch) == 0:
            return []
        shard = self.of_machine[batch.machine]
        runs = key_runs(shard)  # refusals travel as dead letters, not with the rows
        return self._split_gather(batch, shard) if runs is None else self._split_runs(batch, runs)

    def _split_gather(self, batch: ReadingBatch, shard: np.ndarray) -> list[tuple[str, ReadingBatch]]:
        """One stable gather by shard (radix sort of small keys), then a contiguous slice (a view) per shard."""
        order = np.argsort(shard.astype(np.uint16) if len(self.keys) <= 2**16 else shard, kind="stable")
        grouped = take(batch, order)
        bounds = np.flatnonzero(np.diff(shard[order])) + 1
        starts = np.concatenate(([0], bounds))
        ends = np.concatenate((bounds, [len(order)]))
        out = []
        for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
            part = ReadingBatch(grouped.machine[a:b], grouped.ts[a:b], grouped.seq[a:b], grouped.values[a:b],
                                grouped.signals, [], grouped.message_index[a:b]
                                if grouped.message_index is not None else None, batch.labels)
            out.append((self.keys[int(shard[order[a]])], part))
        return out

    def _split_runs(self, batch: ReadingBatch, runs) -> list[tuple[str, ReadingBatch]]:
        """`split` for batches made of few runs of one shard (`key_runs`): each shard's runs copied together in
        arrival order, the same rows in the same order as the stable gather (one run: views of the columns)."""
        msg = batch.message_index
        return [(self.keys[k], ReadingBatch(cut(batch.machine, spans), cut(batch.ts, spans), cut(batch.seq, spans),
                                            cut(batch.values, spans), batch.signals, [],
                                            None if msg is None else cut(msg, spans), batch.labels))
                for k, spans in runs]


_late_encoder = msgspec.json.Encoder()


def _reading_json(registry: Registry, signals: list[str], machine: int, ts: int, seq: int,
                  values: np.ndarray) -> tuple[bytes, str]:
    """A reading's columns re-encoded as contract JSON (for readings refused after decoding), and its machine."""
    site, machine_id = registry.keys[machine]
    doc = {"site": site, "machine": machine_id, "ts": ts,
           "signals": {name: float(v) for name, v in zip(signals, values, strict=True) if v == v}}
    if seq >= 0:
        doc["seq"] = seq
    return _late_encoder.encode(doc), machine_id


def late_dead_letters(batch: ReadingBatch, late_rows: np.ndarray, registry: Registry) -> list[DeadLetter]:
    """Readings that arrived after their window closed, re-encoded as contract JSON for the dead-letter topic."""
    out = []
    for r in np.asarray(late_rows, dtype=np.int64):
        raw, machine = _reading_json(registry, batch.signals, int(batch.machine[r]), int(batch.ts[r]),
                                     int(batch.seq[r]), batch.values[r])
        out.append(DeadLetter("late_reading", f"ts={int(batch.ts[r])} arrived after its window closed",
                              "raise processing.allowed_lateness_s if such delays are normal",
                              raw, "late", -1, -1, machine.encode()))
    return out


def shard_dead_letters(batch: ReadingBatch | None, out, registry: Registry) -> list[DeadLetter]:
    """Dead letters of a shard's output: late readings, and readings the counter guard refused (re-encoded as
    contract JSON; their source offsets are not known after decoding: topic "counters", offset -1)."""
    dead = late_dead_letters(batch, out.late, registry) if batch is not None and len(out.late) else []
    for bad in out.implausible:
        raw, machine = _reading_json(registry, registry.signals, bad.machine, bad.ts, bad.seq, bad.values)
        dead.append(DeadLetter(Reason.IMPLAUSIBLE_COUNTER.value, bad.detail, HINTS[Reason.IMPLAUSIBLE_COUNTER],
                               raw, "counters", -1, -1, machine.encode()))
    return dead


class ShardLogic(StatefulBatchLogic):
    """Runs one shard's ShardProcessor; emits one ShardOutput per batch and the final one at end of input."""

    def __init__(self, make_processor, resume_state) -> None:
        self.processor = make_processor(resume_state)

    def on_batch(self, values: list[ReadingBatch]):
        batch = concat(values)
        out = self.processor.process(batch)
        return [(batch if out.input is None else out.input, out)], StatefulBatchLogic.RETAIN

    def on_eof(self):
        if shutdown.requested():  # stopped by a signal, not the end of the input: keep open windows and shifts
            return [], StatefulBatchLogic.RETAIN
        out = self.processor.flush()
        return [(out.input, out)], StatefulBatchLogic.RETAIN

    def snapshot(self):
        return self.processor.snapshot()


__all__ = ["HINTS", "Decoded", "ShardLogic", "Sharding", "TelemetryDecoder", "concat", "late_dead_letters",
           "shard_dead_letters", "take"]
