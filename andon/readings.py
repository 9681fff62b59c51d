"""Telemetry reading v1 as andon's domain knows it: the reading model, the registry of sites and machines, a
batch of valid readings as columns, and refused readings as data (with the reason and what to do).

How bytes on the wire become these is `andon.wire` (the reference decoder, the fast paths, Arrow IPC, mapping).

Example::

    registry = Registry.from_sites([site])
    batch.ts, batch.machine, batch.values      # numpy columns of a ReadingBatch
    batch.invalid                               # list[InvalidReading], never raised
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import msgspec
import numpy as np

from andon.config import SiteConfig
from andon.jsonguard import MAX_DEPTH

SignalValue = float | int | bool | str


class Reading(msgspec.Struct, forbid_unknown_fields=False):
    """One telemetry reading as in the contract; `ts` is epoch ms or an RFC 3339 string."""

    site: str
    machine: str
    ts: int | float | str
    signals: dict[str, SignalValue]
    seq: int | None = None


class Reason(enum.StrEnum):
    """Why a reading was refused; travels in the dead-letter record."""

    OVERSIZED = "oversized"
    MALFORMED = "malformed_json"
    SCHEMA = "schema_violation"
    NON_FINITE = "non_finite_number"
    BAD_TIMESTAMP = "bad_timestamp"
    TS_FUTURE = "timestamp_in_future"
    TS_PAST = "timestamp_too_old"
    UNKNOWN_SITE = "unknown_site"
    UNKNOWN_MACHINE = "unknown_machine"
    UNAUTHORIZED = "unauthorized_publisher"
    INVALID_UTF8 = "invalid_utf8"
    DUPLICATE_KEY = "duplicate_key"
    TOO_DEEP = "nesting_too_deep"
    DECODER_ERROR = "decoder_error"
    IMPLAUSIBLE_COUNTER = "implausible_counter"


HINTS = {
    Reason.OVERSIZED: "split the payload or raise processing.max_message_bytes",
    Reason.MALFORMED: "the gateway must send UTF-8 JSON (an object or an array of objects)",
    Reason.SCHEMA: "send site, machine, ts and a flat signals map of numbers, bools or strings",
    Reason.NON_FINITE: "send null or omit the signal instead of NaN or Infinity",
    Reason.BAD_TIMESTAMP: "send ts as epoch milliseconds UTC or an RFC 3339 string with offset",
    Reason.TS_FUTURE: "check the gateway clock (NTP); raise processing.max_future_s if the skew is expected",
    Reason.TS_PAST: "check the gateway clock or buffer; raise processing.max_past_s for backfills",
    Reason.UNKNOWN_SITE: "add the site's config file or fix the gateway's site name",
    Reason.UNKNOWN_MACHINE: "add the machine to the site config ([[machines]]) or fix the gateway's machine name",
    Reason.UNAUTHORIZED: "publish only for the sites this gateway is authorized for",
    Reason.INVALID_UTF8: "the gateway must send UTF-8 text (check its character encoding setting)",
    Reason.DUPLICATE_KEY: "send each key once per object: readers disagree on which of two equal keys counts",
    Reason.TOO_DEEP: f"a reading nests 3 deep; keep payloads under {MAX_DEPTH} levels of arrays and objects",
    Reason.DECODER_ERROR: "a bug in andon's decoder: report it with this message (kept here, nothing else lost)",
    Reason.IMPLAUSIBLE_COUNTER: "check the gateway's counter mapping; a counter is a whole number from 0 to "
                                "counter_max that grows at most as fast as the machine's ideal cycle time allows",
}


@dataclass(frozen=True, slots=True)
class InvalidReading:
    """A refused message or reading: data for the dead-letter output, never an exception."""

    reason: Reason
    detail: str
    raw: bytes
    message_index: int  # position of the Kafka message (or line) in the batch it came from

    @property
    def hint(self) -> str:
        return HINTS[self.reason]


class Registry:
    """Known sites and machines with dense integer ids, and the signal columns of the batch format."""

    def __init__(self, sites: Sequence[SiteConfig]) -> None:
        self.sites = {s.site.id: s for s in sites}
        self.keys: list[tuple[str, str]] = [(s.site.id, m.id) for s in sites for m in s.machines]
        self.index: dict[tuple[str, str], int] = {key: i for i, key in enumerate(self.keys)}
        names: dict[str, None] = {}
        for s in sites:
            names.update(dict.fromkeys(s.signal_names()))
        self.signals: list[str] = list(names)
        self.signal_index = {name: i for i, name in enumerate(self.signals)}

    @classmethod
    def from_sites(cls, sites: Sequence[SiteConfig]) -> Registry:
        return cls(sites)

    def __len__(self) -> int:
        return len(self.keys)


@dataclass(slots=True)
class ReadingBatch:
    """Valid readings as columns. `values[i, j]` is signal `signals[j]` of reading i, NaN where absent."""

    machine: np.ndarray  # int32 registry index
    ts: np.ndarray  # int64 epoch ms UTC
    seq: np.ndarray  # int64, -1 where absent
    values: np.ndarray  # float64 [n, len(signals)]
    signals: list[str]
    invalid: list[InvalidReading] = field(default_factory=list)
    #: For each valid reading, the index of the message it came from (to attach offsets, DLQ context).
    message_index: np.ndarray | None = None
    #: Names of the codes in name-signal columns (a class's workorder_signal; `andon.wire.labels`), or None.
    labels: dict[int, str] | None = None

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    def column(self, name: str) -> np.ndarray:
        return self.values[:, self.signals.index(name)]


def parse_ts(value: int | float | str) -> int | None:
    """Epoch milliseconds from an int/float (ms) or an RFC 3339 string; None when it is not a timestamp."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) else None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return None
    return int(parsed.timestamp() * 1000)


_encoder = msgspec.json.Encoder()


def encode_reading(reading: Reading) -> bytes:
    return _encoder.encode(reading)
