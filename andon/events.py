"""Canonical business event envelope v1, its per-type payloads, and deterministic event ids.

Example::

    ev = make_event("machine.downtime_started", site="plant-a", machine="press-01",
                    occurred_at_ms=1764144000125, detected_at_ms=1764144120125,
                    data=DowntimeStarted(reason="Equipment Failure", loss_type="availability", state="breakdown"))
    encode_event(ev)       # JSON bytes; ev.event_id is the same on every replay
"""

from __future__ import annotations

import functools
import hashlib
import uuid
from datetime import UTC, datetime
from typing import Literal

import msgspec

from andon.jsonguard import screen

SCHEMA_VERSION = 1
#: Namespace for uuid5 event ids; fixed forever so replays reproduce ids.
EVENT_NAMESPACE = uuid.UUID("6f1d3a52-8c4e-5b7a-9e21-0a4d2c6b7e10")


class Event(msgspec.Struct, kw_only=True, omit_defaults=False):
    """The envelope every producer writes to the events topic."""

    event_id: str
    type: str
    schema_version: int = SCHEMA_VERSION
    occurred_at: str
    detected_at: str
    site: str
    machine: str
    work_center: str | None = None
    work_order: str | None = None
    correlation_id: str | None = None
    data: dict = msgspec.field(default_factory=dict)


# ---- payloads, one per type -------------------------------------------------------------------------------

class StateChanged(msgspec.Struct, kw_only=True):
    from_state: str
    to_state: str
    code: int | None = None


class DowntimeStarted(msgspec.Struct, kw_only=True):
    reason: str
    loss_type: Literal["availability", "performance", "quality"] = "availability"
    state: str


class DowntimeEnded(msgspec.Struct, kw_only=True):
    reason: str
    state: str
    started_at: str
    ended_at: str
    duration_s: float


class CountReported(msgspec.Struct, kw_only=True):
    shift_id: str
    window_start: str
    window_end: str
    total_count: int  # cumulative since shift start: absolute, so applying it twice changes nothing
    good_count: int
    reject_count: int
    window_total: int
    window_rejects: int


class ScrapRecorded(msgspec.Struct, kw_only=True):
    shift_id: str
    window_start: str
    window_end: str
    quantity: int  # rejects in this window
    shift_reject_count: int  # cumulative rejects since shift start
    reason: str = "Process Defect"
    lot: str | None = None


class QualityHoldRaised(msgspec.Struct, kw_only=True):
    rule: str  # reject_rate | spc_beyond_limits | spc_run_of_n
    signal: str | None = None
    value: float
    limit: float
    window_start: str
    window_end: str
    description: str


class QualityHoldReleased(msgspec.Struct, kw_only=True):
    """The reject rate is back at nominal: the hold raised at `raised_at` (its window end) is over."""

    rule: str  # reject_rate
    raised_at: str  # occurred_at of the quality.hold_raised this releases
    value: float  # reject rate of the releasing window
    limit: float
    window_start: str
    window_end: str
    description: str


class MaintenanceRequested(msgspec.Struct, kw_only=True):
    trigger: Literal["alarm", "cycle_count", "signal_limit"]
    detail: str
    maintenance_type: Literal["corrective", "preventive"] = "corrective"
    priority: Literal["0", "1", "2", "3"] = "2"
    alarm_code: int | None = None
    equipment: str | None = None


class OperationStarted(msgspec.Struct, kw_only=True):
    operation: str | None = None


class OperationFinished(msgspec.Struct, kw_only=True):
    quantity: int  # parts counted in the operation (work-order run), rejects included
    operation: str | None = None
    lot: str | None = None
    rejects: int = 0  # of `quantity`; good parts = quantity - rejects
    since: str | None = None  # when the operation's counting began (the previous finish, or the first reading)
    first_part_at: str | None = None  # its first counted part
    #: of `rejects`, those per reason (the class's reject_reason_signal); the rest carry no reason. None: no
    #: reasons known (no such signal, or none shown yet)
    rejects_by_reason: dict[str, int] | None = None


class OperationProgress(msgspec.Struct, kw_only=True):
    """The running operation's counts so far, at the end of a window in which they changed (absolute)."""

    quantity: int  # parts counted since `since`, rejects included, across shifts and counter resets
    rejects: int
    since: str  # when this operation's counting began: the previous operation's finish, or the first reading
    first_part_at: str | None = None
    rejects_by_reason: dict[str, int] | None = None  # as in OperationFinished


class WorkorderReleased(msgspec.Struct, kw_only=True):
    odoo_id: int
    production: str
    product: str
    qty_production: float
    state: str
    date_start: str | None = None
    write_date: str


#: Event type -> payload struct. Every producer and consumer goes through this table.
EVENT_TYPES: dict[str, type[msgspec.Struct]] = {
    "machine.state_changed": StateChanged,
    "machine.downtime_started": DowntimeStarted,
    "machine.downtime_ended": DowntimeEnded,
    "production.count_reported": CountReported,
    "production.scrap_recorded": ScrapRecorded,
    "quality.hold_raised": QualityHoldRaised,
    "quality.hold_released": QualityHoldReleased,
    "maintenance.requested": MaintenanceRequested,
    "operation.started": OperationStarted,
    "operation.finished": OperationFinished,
    "operation.progress": OperationProgress,
    "workorder.released": WorkorderReleased,
}


@functools.lru_cache(maxsize=65_536)
def _iso_seconds(epoch_s: int) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%S.")


_ISO_CACHE: dict[int, str] = {}


def iso_ms(epoch_ms: int) -> str:
    """RFC 3339 UTC with milliseconds, e.g. '2026-03-02T05:00:00.125Z'.

    Memoized: window boundaries repeat across every machine of a site, so most calls are hits."""
    text = _ISO_CACHE.get(epoch_ms)
    if text is None:
        seconds, millis = divmod(int(epoch_ms), 1000)
        text = f"{_iso_seconds(seconds)}{millis:03d}Z"
        if len(_ISO_CACHE) >= 65_536:
            _ISO_CACHE.clear()
        _ISO_CACHE[epoch_ms] = text
    return text


def parse_iso_ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


_NAMESPACE_SHA1 = hashlib.sha1(EVENT_NAMESPACE.bytes)
#: RFC 4122 variant: the high nibble of byte 8 becomes 10xx, i.e. hex digit 8 + (nibble & 3)
_VARIANT = "89ab" * 4


def event_id(type_: str, site: str, machine: str, occurred_at_ms: int, discriminator: str = "") -> str:
    """Deterministic id: the same type, machine, time and discriminator give the same id on every replay.

    It is RFC 4122 uuid5 of the key in EVENT_NAMESPACE (equal to ``uuid.uuid5``), computed without UUID objects.
    """
    sha = _NAMESPACE_SHA1.copy()
    sha.update(f"{type_}|{site}|{machine}|{occurred_at_ms}|{discriminator}".encode())
    h = sha.hexdigest()
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[int(h[16], 16)]}{h[17:20]}-{h[20:32]}"


def make_event(type_: str, *, site: str, machine: str, occurred_at_ms: int, detected_at_ms: int,
               data: msgspec.Struct, discriminator: str = "", work_center: str | None = None,
               work_order: str | None = None, correlation_id: str | None = None) -> Event:
    payload_type = EVENT_TYPES.get(type_)
    if payload_type is None:
        raise ValueError(f"unknown event type {type_!r}; known: {', '.join(EVENT_TYPES)}")
    if not isinstance(data, payload_type):
        raise TypeError(f"{type_} carries {payload_type.__name__}, not {type(data).__name__}")
    return trusted_event(type_, site, machine, occurred_at_ms, detected_at_ms, data, discriminator, work_center,
                         work_order, correlation_id)


_asdict = msgspec.structs.asdict


def trusted_event(type_: str, site: str, machine: str, occurred_at_ms: int, detected_at_ms: int,
                  data: msgspec.Struct, discriminator: str = "", work_center: str | None = None,
                  work_order: str | None = None, correlation_id: str | None = None) -> Event:
    """make_event without the type checks, for producers that build the payload struct of `type_` themselves
    (the operators' hot path). Payload fields are flat (str, int, float, None), so `asdict` equals
    `msgspec.to_builtins` here."""
    eid = event_id(type_, site, machine, occurred_at_ms, discriminator)
    return Event(event_id=eid, type=type_, occurred_at=iso_ms(occurred_at_ms), detected_at=iso_ms(detected_at_ms),
                 site=site, machine=machine, work_center=work_center, work_order=work_order,
                 correlation_id=correlation_id or eid, data=_asdict(data))


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Event)


class EventError(ValueError):
    """An event on the wire does not match the envelope or its type's payload."""


def encode_event(event: Event) -> bytes:
    return _encoder.encode(event)


def encode_event_lines(events: list[Event]) -> bytes:
    """Events as JSON lines (each `encode_event(event)` + newline) in one buffer."""
    return _encoder.encode_lines(events)


def decode_event(raw: bytes) -> Event:
    """Decode and validate an envelope and its payload; raises EventError saying what is wrong."""
    refusal = screen(raw)
    if refusal is not None:  # not UTF-8, nested too deep, or a key twice: readers could disagree on its meaning
        raise EventError(f"not a v1 event envelope: {refusal.kind}: {refusal.detail}")
    try:
        event = _decoder.decode(raw)
    except (msgspec.DecodeError, RecursionError) as exc:
        raise EventError(f"not a v1 event envelope: {exc}") from None
    payload_type = EVENT_TYPES.get(event.type)
    if payload_type is None:
        raise EventError(f"unknown event type {event.type!r}")
    if event.schema_version != SCHEMA_VERSION:
        raise EventError(f"schema_version {event.schema_version} is not supported (expected {SCHEMA_VERSION})")
    try:
        msgspec.convert(event.data, payload_type)
        parse_iso_ms(event.occurred_at)
        parse_iso_ms(event.detected_at)
    except (msgspec.ValidationError, ValueError) as exc:
        raise EventError(f"{event.type} event {event.event_id}: {exc}") from None
    return event


def payload(event: Event) -> msgspec.Struct:
    """The typed payload of an event."""
    return msgspec.convert(event.data, EVENT_TYPES[event.type])


def json_schema(type_: str) -> dict:
    """JSON Schema (2020-12) of the envelope with `type` fixed and `data` as this type's payload."""
    payload_type = EVENT_TYPES[type_]
    (data_schema,), components = msgspec.json.schema_components([payload_type], ref_template="#/$defs/{name}")
    envelope, env_components = msgspec.json.schema_components([Event], ref_template="#/$defs/{name}")
    env = dict(env_components["Event"])
    props = dict(env["properties"])
    props["type"] = {"const": type_}
    props["schema_version"] = {"const": SCHEMA_VERSION}
    props["data"] = data_schema
    env["properties"] = props
    env["additionalProperties"] = False
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:andon:event:{type_}:v{SCHEMA_VERSION}",
        "title": f"andon event {type_} v{SCHEMA_VERSION}",
        **{k: v for k, v in env.items() if k != "title"},
        "$defs": components,
    }
