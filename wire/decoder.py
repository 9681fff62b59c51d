"""The batch JSON decoder: the byte scanner and the typed msgspec path in front of the general msgspec path, every
message screened first; what none of them takes becomes InvalidReading data, never an exception.

Every path here is an optimisation of `andon.wire.reference` (the specification) and held equal to it by tests.

Example::

    decoder = BatchDecoder(Registry([site]))
    batch = decoder.decode([b'{"site":"plant-a","machine":"press-01","ts":1764144000125,"signals":{"state":10000}}'])
"""

from __future__ import annotations

import gc
import heapq
import logging
import math
import threading
import time
from collections.abc import Sequence
from operator import attrgetter

import msgspec
import numpy as np

from andon.config import SiteConfig
from andon.counters import CounterRange
from andon.jsonguard import screen
from andon.readings import InvalidReading, Reading, ReadingBatch, Reason, Registry, parse_ts
from andon.wire.json_scan import FALLBACK, TS_FUTURE, Scanner
from andon.wire.json_typed import FastDecoder

log = logging.getLogger(__name__)


_one = msgspec.json.Decoder(Reading | list[Reading])
_many = msgspec.json.Decoder(list[Reading | list[Reading]])
_raw_json = msgspec.json.Decoder()


_untyped = msgspec.json.Decoder()


def _schema_reason(raw: bytes, exc: msgspec.DecodeError) -> tuple[Reason, str]:
    text = str(exc)
    if isinstance(exc, msgspec.ValidationError):
        if text.startswith("Number out of range"):
            return Reason.NON_FINITE, text
        try:  # msgspec validates while it parses: text that is no JSON at all is malformed, whatever it hit first
            _untyped.decode(raw)
        except msgspec.DecodeError as syntax:
            if b"NaN" in raw or b"Infinity" in raw:
                return Reason.NON_FINITE, "NaN or Infinity is not a JSON number"
            return Reason.MALFORMED, str(syntax)
        except RecursionError:
            return Reason.TOO_DEEP, "arrays/objects nest too deep to decode"
        return Reason.SCHEMA, text
    if b"NaN" in raw or b"Infinity" in raw:
        return Reason.NON_FINITE, "NaN or Infinity is not a JSON number"
    return Reason.MALFORMED, text


def future_detail(t: int, hi: int) -> str:
    return f"ts={t} is {(t - hi) / 1000:.0f} s past the newest plausible time"


def past_detail(t: int, lo: int) -> str:
    return f"ts={t} is {(lo - t) / 1000:.0f} s older than the oldest plausible time"


_ts_only = msgspec.json.Decoder(msgspec.defstruct("TsOnly", [("ts", int)], forbid_unknown_fields=False))


def _refused_ts(raw: bytes) -> int:
    """The timestamp of a message the scanner refused by the bounds (it took it, so this decodes)."""
    return _ts_only.decode(raw).ts


def _collect(out: list, invalid: list[InvalidReading], i: int, raw: bytes, item) -> None:
    """Add a decoded message's readings (one, or an array of them) to `out`; an empty array is refused."""
    if isinstance(item, list):
        if not item:
            invalid.append(InvalidReading(Reason.SCHEMA, "an empty array holds no reading", raw, i))
        out.extend((i, raw, r) for r in item)
    else:
        out.append((i, raw, item))


class BatchDecoder:
    """Decodes many raw messages at once into a ReadingBatch; invalid input becomes InvalidReading data."""

    def __init__(self, registry: Registry, *, max_message_bytes: int = 1_048_576,
                 max_future_s: float = 300.0, max_past_s: float = 30 * 86_400.0, scanner: bool = True) -> None:
        self.registry = registry
        #: counters whole and within 0..counter_max, checked on every path's result
        self.counters = CounterRange(registry)
        self._fast = FastDecoder(registry.signals, registry.index)
        #: the numba byte scanner in front of the msgspec paths (None: msgspec paths only)
        self._scanner = Scanner(registry.index, registry.signals) if scanner else None
        #: messages the scanner took and messages it left to the msgspec paths, since construction
        self.scanned_messages = 0
        self.fallback_messages = 0
        self._stats_lock = threading.Lock()
        self.max_message_bytes = max_message_bytes
        self.max_future_ms = int(max_future_s * 1000)
        self.max_past_ms = int(max_past_s * 1000)

    @classmethod
    def for_site(cls, site: SiteConfig, registry: Registry | None = None) -> BatchDecoder:
        p = site.processing
        return cls(registry or Registry([site]), max_message_bytes=p.max_message_bytes,
                   max_future_s=p.max_future_s, max_past_s=p.max_past_s)

    def bounds(self, now_ms: int | None = None) -> tuple[int, int]:
        """Plausible timestamps [oldest, newest] around `now_ms` (wall clock when None)."""
        now_ms = int(time.time() * 1000) if now_ms is None else now_ms
        return now_ms - self.max_past_ms, now_ms + self.max_future_ms

    def decode(self, messages: Sequence[bytes], now_ms: int | None = None, *,
               bounds: tuple[int, int] | None = None) -> ReadingBatch:
        """Decode `messages`. Timestamps must lie within `bounds` (default: `self.bounds(now_ms)`)."""
        bounds = bounds or self.bounds(now_ms)
        return self._plausible(self._decode(messages, bounds), messages)

    def _decode(self, messages: Sequence[bytes], bounds: tuple[int, int]) -> ReadingBatch:
        try:
            if self._scanner is None or not messages:
                return self._decode_msgspec(messages, bounds)[0]
            return self._decode_scanned(messages, bounds)[0]
        except Exception as exc:  # a bug in a fast path must not stop the plant: the reference path, one by one
            log.warning("batch decoder failed (%s: %s); decoding its %d messages one by one", type(exc).__name__,
                        exc, len(messages))
            return self._decode_each(messages, bounds)

    def _plausible(self, batch: ReadingBatch, messages: Sequence[bytes]) -> ReadingBatch:
        """`batch` less the readings whose counters are out of range (implausible_counter records)."""
        try:
            return self.counters.refuse(batch, messages)
        except Exception as exc:  # the shard's counter guard refuses such values too
            log.error("counter range check failed: %s: %s", type(exc).__name__, exc)
            return batch

    def decode_json_only(self, messages: Sequence[bytes], skip_prefix: bytes, *,
                         bounds: tuple[int, int]) -> tuple[ReadingBatch, list[int]]:
        """Decode the JSON messages and set aside those starting with `skip_prefix` (another payload format,
        e.g. Arrow IPC): returns the batch (message indices relative to all `messages`) and the set-aside
        positions. JSON text never starts with that prefix, so only messages the scanner could not take are
        looked at: an all-JSON batch pays nothing for the check."""
        try:
            batch, skipped = self._decode_json_only(messages, skip_prefix, bounds)
        except Exception as exc:  # as in decode: the reference path, message by message
            log.warning("batch decoder failed (%s: %s); decoding its %d messages one by one", type(exc).__name__,
                        exc, len(messages))
            skipped = [i for i, m in enumerate(messages) if m.startswith(skip_prefix)]
            taken = set(skipped)
            kept = [i for i in range(len(messages)) if i not in taken]
            batch = _renumbered(self._decode_each([messages[i] for i in kept], bounds), kept)
        return self._plausible(batch, messages), skipped

    def decode_each(self, messages: Sequence[bytes], bounds: tuple[int, int]) -> ReadingBatch:
        """The reference path, one message at a time; a message it fails on becomes a `decoder_error` record."""
        return self._plausible(self._decode_each(messages, bounds), messages)

    def _decode_each(self, messages: Sequence[bytes], bounds: tuple[int, int]) -> ReadingBatch:
        parts: list[ReadingBatch] = []
        for i, raw in enumerate(messages):
            try:
                part = self._decode_msgspec([raw], bounds, fast=False)[0]
            except Exception as exc:
                log.error("decoder failed on message %d of a batch: %s: %s", i, type(exc).__name__, exc)
                bad = InvalidReading(Reason.DECODER_ERROR, f"{type(exc).__name__}: {exc}", raw[:4096], 0)
                part = _empty(self.registry.signals, [bad])
            parts.append(_renumbered(part, [i]))
        return _joined(parts, self.registry.signals)

    def _decode_json_only(self, messages: Sequence[bytes], skip_prefix: bytes,
                          bounds: tuple[int, int]) -> tuple[ReadingBatch, list[int]]:
        if self._scanner is None or len(messages) <= _FEW:
            # few messages (an Arrow batch is few large ones): look at each and never scan the Arrow bytes
            skipped = [i for i, m in enumerate(messages) if m.startswith(skip_prefix)]
            if not skipped:
                return self._decode(messages, bounds), []
            taken = set(skipped)
            kept = [i for i in range(len(messages)) if i not in taken]
            return _renumbered(self._decode([messages[i] for i in kept], bounds), kept), skipped
        return self._decode_scanned(messages, bounds, skip_prefix)

    def _decode_scanned(self, messages: Sequence[bytes], bounds: tuple[int, int],
                        skip_prefix: bytes | None = None) -> tuple[ReadingBatch, list[int]]:
        """The byte scanner for the messages it takes, the msgspec paths for the others, merged in message order;
        messages starting with `skip_prefix` (among those the scanner left) are set aside, their positions
        returned beside the batch.

        The result equals the msgspec paths' on the whole batch (less the set-aside messages): rows in message
        order; invalid records as the msgspec paths order them (oversized and undecodable messages first, then the
        per-reading refusals in message order), the scanner's timestamp refusals merged into the latter.
        """
        lo, hi = bounds
        scan = self._scanner.scan(messages, self.max_message_bytes, lo, hi)
        n, k = len(messages), len(scan.ts)
        with self._stats_lock:  # one decoder may serve several worker threads
            self.scanned_messages += n - scan.fallbacks
            self.fallback_messages += scan.fallbacks
        skipped: list[int] = []
        positions = np.flatnonzero(scan.status == FALLBACK) if scan.fallbacks else np.zeros(0, np.int64)
        if skip_prefix is not None and scan.fallbacks:
            pos = positions.tolist()
            skipped = [i for i in pos if messages[i].startswith(skip_prefix)]
            if skipped:
                taken = set(skipped)
                positions = np.asarray([i for i in pos if i not in taken], dtype=np.int64)
        if scan.fallbacks == n and not skipped:
            return self._decode_msgspec(messages, bounds)[0], skipped
        refused: list[InvalidReading] = []
        if k + scan.fallbacks < n:
            for i in np.flatnonzero(scan.status >= TS_FUTURE).tolist():
                t = _refused_ts(messages[i])
                if scan.status[i] == TS_FUTURE:
                    refused.append(InvalidReading(Reason.TS_FUTURE, future_detail(t, hi), messages[i], i))
                else:
                    refused.append(InvalidReading(Reason.TS_PAST, past_detail(t, lo), messages[i], i))
        signals = self.registry.signals
        if positions.size == 0:
            return ReadingBatch(scan.machine, scan.ts, scan.seq, scan.values, signals, refused,
                                scan.message_index), skipped
        rest, n_early = self._decode_msgspec([messages[i] for i in positions.tolist()], bounds)
        moved = [InvalidReading(bad.reason, bad.detail, bad.raw, int(positions[bad.message_index]))
                 for bad in rest.invalid]
        invalid = moved[:n_early] + list(heapq.merge(moved[n_early:], refused, key=attrgetter("message_index")))
        if len(rest) == 0:
            return ReadingBatch(scan.machine, scan.ts, scan.seq, scan.values, signals, invalid,
                                scan.message_index), skipped
        index = np.concatenate([scan.message_index, positions[rest.message_index]])
        order = np.argsort(index, kind="stable")
        return ReadingBatch(np.concatenate([scan.machine, rest.machine])[order],
                            np.concatenate([scan.ts, rest.ts])[order], np.concatenate([scan.seq, rest.seq])[order],
                            np.concatenate([scan.values, rest.values])[order], signals, invalid,
                            index[order]), skipped

    def _decode_msgspec(self, messages: Sequence[bytes], bounds: tuple[int, int], *,
                        fast: bool = True) -> tuple[ReadingBatch, int]:
        """The msgspec paths; also how many leading invalid records come from sizing, screening and decoding (the
        rest are per-reading refusals, in message order). `fast=False`: the reference path alone."""
        refusals = [screen(raw) if len(raw) <= self.max_message_bytes else None for raw in messages]
        clean = not any(refusals)
        if fast and clean and messages and max(map(len, messages)) <= self.max_message_bytes:
            columns = self._fast.decode(messages)
            if columns is not None:
                return self._checked(columns, messages, bounds), 0
        invalid: list[InvalidReading] = []
        sized: list[tuple[int, bytes]] = []
        for i, (raw, refusal) in enumerate(zip(messages, refusals, strict=True)):
            if len(raw) > self.max_message_bytes:
                invalid.append(InvalidReading(Reason.OVERSIZED, f"{len(raw)} bytes > limit {self.max_message_bytes}",
                                              raw[:4096], i))
            elif refusal is not None:
                invalid.append(InvalidReading(Reason(refusal.kind), refusal.detail, raw, i))
            else:
                sized.append((i, raw))
        decoded = self._decode_all(sized, invalid, whole=fast)
        n_early = len(invalid)
        return self._columns(decoded, invalid, bounds), n_early

    def _checked(self, fast, messages: Sequence[bytes], bounds: tuple[int, int]) -> ReadingBatch:
        """Vectorized checks of the fast path's columns; only refused rows become Python objects."""
        machine, ts, seq, values, msg_index, sites, machines = fast
        lo, hi = bounds
        unknown = machine < 0
        future = ~unknown & (ts > hi)
        past = ~unknown & (ts < lo)
        bad = unknown | future | past
        invalid: list[InvalidReading] = []
        if bad.any():
            for r in np.flatnonzero(bad):
                i = int(msg_index[r])
                if unknown[r]:
                    reason = Reason.UNKNOWN_SITE if sites[r] not in self.registry.sites else Reason.UNKNOWN_MACHINE
                    detail = f"site={sites[r]!r} machine={machines[r]!r}"
                elif future[r]:
                    reason, detail = Reason.TS_FUTURE, future_detail(int(ts[r]), hi)
                else:
                    reason, detail = Reason.TS_PAST, past_detail(int(ts[r]), lo)
                invalid.append(InvalidReading(reason, detail, messages[i], i))
            keep = ~bad
            machine, ts, seq, values, msg_index = machine[keep], ts[keep], seq[keep], values[keep], msg_index[keep]
        return ReadingBatch(machine.astype(np.int32), ts, seq, values, self.registry.signals, invalid, msg_index)

    def _decode_all(self, sized: list[tuple[int, bytes]], invalid: list[InvalidReading], *, whole: bool = True):
        """Fast path: the whole batch as one JSON array; on any error (or with `whole=False`), message by message
        to isolate it."""
        out: list[tuple[int, bytes, Reading]] = []
        if not sized:
            return out
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            items = None
            if whole:
                try:
                    items = _many.decode(b"[" + b",".join(raw for _, raw in sized) + b"]")
                except (msgspec.DecodeError, RecursionError):
                    items = None
            if items is not None and len(items) == len(sized):
                for (i, raw), item in zip(sized, items, strict=True):
                    _collect(out, invalid, i, raw, item)
                return out
            for i, raw in sized:
                try:
                    item = _one.decode(raw)
                except msgspec.DecodeError as exc:
                    reason, detail = _schema_reason(raw, exc)
                    invalid.append(InvalidReading(reason, detail, raw, i))
                    continue
                except RecursionError:
                    invalid.append(InvalidReading(Reason.TOO_DEEP, "arrays/objects nest too deep to decode", raw, i))
                    continue
                _collect(out, invalid, i, raw, item)
            return out
        finally:
            if gc_was_enabled:
                gc.enable()

    def _columns(self, decoded, invalid: list[InvalidReading], bounds: tuple[int, int]) -> ReadingBatch:
        reg = self.registry
        n = len(decoded)
        n_sig = len(reg.signals)
        machine = np.empty(n, dtype=np.int32)
        ts = np.empty(n, dtype=np.int64)
        seq = np.empty(n, dtype=np.int64)
        values = np.full((n, n_sig), np.nan, dtype=np.float64)
        msg_index = np.empty(n, dtype=np.int64)
        lo, hi = bounds
        sig_index = reg.signal_index
        index = reg.index
        k = 0
        for i, raw, r in decoded:
            key = (r.site, r.machine)
            m = index.get(key)
            if m is None:
                reason = Reason.UNKNOWN_SITE if r.site not in reg.sites else Reason.UNKNOWN_MACHINE
                invalid.append(InvalidReading(reason, f"site={r.site!r} machine={r.machine!r}", raw, i))
                continue
            t = parse_ts(r.ts)
            if t is None:
                invalid.append(InvalidReading(Reason.BAD_TIMESTAMP, f"ts={r.ts!r}", raw, i))
                continue
            if t > hi:
                invalid.append(InvalidReading(Reason.TS_FUTURE, future_detail(t, hi), raw, i))
                continue
            if t < lo:
                invalid.append(InvalidReading(Reason.TS_PAST, past_detail(t, lo), raw, i))
                continue
            row = values[k]
            bad = None
            for name, value in r.signals.items():
                j = sig_index.get(name)
                if j is None or isinstance(value, str):
                    continue  # unknown or textual signals are carried by the raw payload, not the columns
                fv = float(value)
                if not math.isfinite(fv):
                    bad = name
                    break
                row[j] = fv
            if bad is not None:
                row[:] = np.nan
                invalid.append(InvalidReading(Reason.NON_FINITE, f"signal {bad!r} is not finite", raw, i))
                continue
            machine[k] = m
            ts[k] = t
            seq[k] = -1 if r.seq is None else r.seq
            msg_index[k] = i
            k += 1
        return ReadingBatch(machine[:k], ts[:k], seq[:k], values[:k], reg.signals, invalid, msg_index[:k])


#: Up to this many messages, decode_json_only looks at each message's prefix instead of scanning them all.
_FEW = 64


def _empty(signals: list[str], invalid: list[InvalidReading]) -> ReadingBatch:
    e = np.zeros(0, dtype=np.int64)
    return ReadingBatch(np.zeros(0, np.int32), e, e.copy(), np.zeros((0, len(signals))), signals, invalid, e.copy())


def _joined(parts: list[ReadingBatch], signals: list[str]) -> ReadingBatch:
    """Batches of disjoint messages (message indices already relative to all of them), in order."""
    invalid = [bad for p in parts for bad in p.invalid]
    rows = [p for p in parts if len(p)]
    if not rows:
        return _empty(signals, invalid)
    return ReadingBatch(np.concatenate([p.machine for p in rows]).astype(np.int32, copy=False),
                        np.concatenate([p.ts for p in rows]), np.concatenate([p.seq for p in rows]),
                        np.concatenate([p.values for p in rows]), signals, invalid,
                        np.concatenate([p.message_index for p in rows]))


def _renumbered(batch: ReadingBatch, kept: Sequence[int]) -> ReadingBatch:
    """`batch` decoded from the messages at positions `kept`: message indices made relative to all messages."""
    where = np.asarray(kept, dtype=np.int64)
    invalid = [InvalidReading(bad.reason, bad.detail, bad.raw, int(where[bad.message_index])) for bad in batch.invalid]
    index = where[batch.message_index] if batch.message_index is not None and len(batch) else batch.message_index
    return ReadingBatch(batch.machine, batch.ts, batch.seq, batch.values, batch.signals, invalid, index)
