"""Gateway payloads to andon's reading contract: each site's [mapping] profile, applied once before any decoder.

A message is read by the mapping of the site that listens on its topic (`Mapper.route`); the mapped message is
andon's contract JSON (or Arrow IPC with contract columns), which every decoder path (the byte scanner, the typed
msgspec path, the general path, the Arrow paths) then takes like a message the gateway had sent that way. A site
with profile `andon` has no route at all: its messages go to the decoders untouched and pay nothing for mapping.

Example::

    mapper = Mapper.from_sites([site])          # None when every site reads andon's format as it is
    route = mapper.route("umh.v1.acme.plant-a.hall-1.press-01._historian")
    mapped = route.apply([b'{"timestamp_ms": 1764144000125, "pieces": 7}'], [None])
    mapped.values   # [b'{"site":"plant-a","machine":"press-01","ts":1764144000125,"signals":{"pieces":7}}']

Profiles (see examples/plant-a.toml):

- `umh` (United Manufacturing Hub data model v1): the UNS path `umh.v1.<enterprise>.<site>.<area>….<machine>
  ._historian` in the topic or the message key (`site_from` / `machine_from`); any number of location levels
  between site and machine, the machine being the last level before `._historian`. The payload is
  `{"timestamp_ms": …, "<tag>": value, …}`: every field other than `timestamp_ms` is a signal.
- `custom`: field names for site, machine, timestamp and the signals object (`signals_field = ""`: signals at the
  top level), `ts_format` epoch_ms | epoch_s | rfc3339, `topic_pattern` with named groups `site` and `machine`
  matched against the whole topic (or key), `site_from = "config"` for gateways that send no site.

For both, `rename` (gateway name -> andon name) applies first, then `scale` (andon name -> factor, value × factor,
numbers only); a machine class's [machine_classes.X.mapping] overrides these for its machines. A message the mapping
cannot read becomes an InvalidReading with its reason and the original bytes, never an exception.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import msgspec

from andon.config import ClassMapping, Mapping, SiteConfig
from andon.errors import ConfigError
from andon.jsonguard import screen
from andon.readings import InvalidReading, Reason, parse_ts

#: Kafka topics carrying UMH v1 historian data, when the UNS path is the topic (the default subscription).
UMH_TOPIC_PATTERN = r"^umh\.v1\..+\._historian$"
UMH_TS_FIELD = "timestamp_ms"
#: The shortest UNS path: umh.v1.<enterprise>.<site>.<machine>._historian
_UMH_MIN_LEVELS = 6

log = logging.getLogger(__name__)

_json = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


class MappingRefusal(Exception):
    """A message or reading the mapping cannot read (internal: becomes an InvalidReading)."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def parse_uns_path(path: str) -> tuple[str, str]:
    """(site, machine) of a UMH v1 UNS path `umh.v1.<enterprise>.<site>.<area>….<machine>._historian`."""
    levels = path.split(".")
    if len(levels) < _UMH_MIN_LEVELS or levels[0] != "umh" or levels[1] != "v1" or levels[-1] != "_historian":
        raise MappingRefusal(Reason.SCHEMA, f"{path!r} is not a UMH v1 path umh.v1.<enterprise>.<site>.…"
                                            ".<machine>._historian")
    if not all(levels):
        raise MappingRefusal(Reason.SCHEMA, f"{path!r} has an empty level")
    return levels[3], levels[-2]


@dataclass(frozen=True, slots=True)
class PayloadRules:
    """How a payload's timestamp and signals read: the site's [mapping], or a machine class's override of it."""

    ts_field: str
    ts_format: str
    #: None: signals at the top level (every field but `skip`)
    signals_field: str | None
    rename: dict[str, str]
    scale: dict[str, float]
    #: top-level fields that are not signals
    skip: frozenset[str]

    @classmethod
    def of(cls, mapping: Mapping, override: ClassMapping | None = None) -> PayloadRules:
        if mapping.profile == "umh":
            ts_field, ts_format, signals_field = UMH_TS_FIELD, "epoch_ms", None
            skip = frozenset({UMH_TS_FIELD})
        else:
            ts_field, ts_format, signals_field = mapping.ts_field, mapping.ts_format, mapping.signals_field or None
            if override is not None:
                ts_field = override.ts_field or ts_field
                ts_format = override.ts_format or ts_format
                if override.signals_field is not None:
                    signals_field = override.signals_field or None
            skip = frozenset({mapping.site_field, mapping.machine_field, ts_field, "seq"})
        rename = override.rename if override is not None and override.rename is not None else mapping.rename
        scale = override.scale if override is not None and override.scale is not None else mapping.scale
        return cls(ts_field, ts_format, signals_field, dict(rename), dict(scale), skip)

    def timestamp(self, item: dict) -> int:
        """Epoch ms UTC of a payload object."""
        if self.ts_field not in item:
            raise MappingRefusal(Reason.SCHEMA, f"no timestamp field {self.ts_field!r}")
        value = item[self.ts_field]
        t = None
        if self.ts_format == "rfc3339":
            t = parse_ts(value) if isinstance(value, str) else None
        elif isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            # epoch_s: milliseconds rounded to the nearest (a float of seconds is rarely exact in binary)
            t = int(value) if self.ts_format == "epoch_ms" else round(value * 1000)
        if t is None:
            raise MappingRefusal(Reason.BAD_TIMESTAMP, f"{self.ts_field}={value!r} is not {self.ts_format}")
        return t

    def signals(self, item: dict) -> dict:
        """The payload's signals under andon's names, renamed first, then scaled."""
        if self.signals_field is None:
            raw = {k: v for k, v in item.items() if k not in self.skip}
        else:
            raw = item.get(self.signals_field)
            if not isinstance(raw, dict):
                raise MappingRefusal(Reason.SCHEMA, f"field {self.signals_field!r} is missing or not an object")
        rename, scale = self.rename, self.scale
        out = {rename.get(k, k): v for k, v in raw.items()} if rename else dict(raw)
        for name, factor in scale.items():
            value = out.get(name)
            if isinstance(value, int | float) and not isinstance(value, bool):
                out[name] = value * factor
        return out


@dataclass(slots=True)
class Mapped:
    """A batch after mapping: contract messages for the positions in `kept`, refusals for the others."""

    values: list[bytes]
    kept: list[int]
    invalid: list[InvalidReading] = field(default_factory=list)


class SiteReader:
    """One site's mapping, compiled: where site and machine come from, and each machine's payload rules."""

    def __init__(self, site: SiteConfig) -> None:
        m = site.mapping
        self.site_id = site.site.id
        self.profile = m.profile
        self.site_source, self.machine_source = m.site_source, m.machine_source
        self.site_field, self.machine_field = m.site_field, m.machine_field
        self.pattern = re.compile(m.topic_pattern) if m.topic_pattern and m.profile == "custom" else None
        self.rules = PayloadRules.of(m)
        overrides = {name: PayloadRules.of(m, cls.mapping) for name, cls in site.machine_classes.items()
                     if cls.mapping is not None}
        self.machine_rules = {mach.id: overrides[mach.machine_class] for mach in site.machines
                              if mach.machine_class in overrides}
        if "topic" in (self.site_source, self.machine_source):
            default = UMH_TOPIC_PATTERN if m.profile == "umh" else m.topic_pattern
            listen = m.topic_pattern if m.profile == "umh" and m.topic_pattern else default
            self.listens_on: re.Pattern | str = re.compile(listen)
        else:
            self.listens_on = site.topics.telemetry

    @property
    def locates_by(self) -> tuple:
        """What decides site and machine: sites sharing a topic must agree on it."""
        pattern = self.pattern.pattern if self.pattern is not None else None
        return (self.profile, self.site_source, self.machine_source, pattern,
                self.site_field if self.site_source == "payload" else None,
                self.machine_field if self.machine_source == "payload" else None,
                self.site_id if self.site_source == "config" else None)

    def listens(self, topic: str) -> bool:
        on = self.listens_on
        return on == topic if isinstance(on, str) else on.fullmatch(topic) is not None

    def _from_path(self, text: str | None, what: str, name: str) -> str:
        if text is None:
            raise MappingRefusal(Reason.SCHEMA, f"the {what} is empty: it must hold the {name}")
        if self.profile == "umh":
            site, machine = parse_uns_path(text)
            return site if name == "site" else machine
        found = self.pattern.fullmatch(text)
        if found is None or found.group(name) is None:
            raise MappingRefusal(Reason.SCHEMA, f"{what} {text!r} does not match topic_pattern "
                                                f"{self.pattern.pattern!r}")
        return found.group(name)

    def ids_outside_payload(self, topic: str, key: bytes | None) -> tuple[str | None, str | None]:
        """Site and machine ids from the topic, the key or the config (None for those the payload holds)."""
        key_text = None
        if key is not None and "key" in (self.site_source, self.machine_source):
            try:
                key_text = key.decode("utf-8")
            except UnicodeDecodeError:
                raise MappingRefusal(Reason.SCHEMA, "the message key is not UTF-8") from None
        texts = {"topic": (topic, "topic"), "key": (key_text, "message key")}
        site = machine = None
        if self.site_source == "config":
            site = self.site_id
        elif self.site_source in texts:
            site = self._from_path(*texts[self.site_source], "site")
        if self.machine_source in texts:
            machine = self._from_path(*texts[self.machine_source], "machine")
        return site, machine

    def reading(self, item, site: str | None, machine: str | None, readers: dict[str, SiteReader]) -> dict:
        """One payload object as a contract reading (a dict)."""
        if not isinstance(item, dict):
            raise MappingRefusal(Reason.SCHEMA, "a reading must be a JSON object")
        if site is None:
            site = item.get(self.site_field)
            if not isinstance(site, str):
                raise MappingRefusal(Reason.SCHEMA, f"field {self.site_field!r} is missing or not a string")
        if machine is None:
            machine = item.get(self.machine_field)
            if not isinstance(machine, str):
                raise MappingRefusal(Reason.SCHEMA, f"field {self.machine_field!r} is missing or not a string")
        owner = readers.get(site, self)  # a topic shared by sites: the site found reads its own machines' rules
        rules = owner.machine_rules.get(machine, owner.rules)
        out = {"site": site, "machine": machine, "ts": rules.timestamp(item), "signals": rules.signals(item)}
        seq = item.get("seq") if self.profile == "custom" else None
        if isinstance(seq, int) and not isinstance(seq, bool):
            out["seq"] = seq
        return out


class Route:
    """How the messages of one topic are mapped: by one site's reader, or refused (`refusal`)."""

    def __init__(self, reader: SiteReader | None, readers: dict[str, SiteReader], refusal: str | None = None,
                 max_message_bytes: int = 1_048_576) -> None:
        self.reader = reader
        self.readers = readers
        self.refusal = refusal
        self.max_message_bytes = max_message_bytes

    def apply(self, values: Sequence[bytes], keys: Sequence[bytes | None] | None, topic: str = "") -> Mapped:
        """Contract JSON for every message the mapping reads, an InvalidReading (original bytes) for the others."""
        out = Mapped([], [])
        keys = keys if keys else [None] * len(values)
        for i, (raw, key) in enumerate(zip(values, keys, strict=True)):
            try:
                out.values.append(self.message(raw, key, topic))
                out.kept.append(i)
            except MappingRefusal as bad:
                profile = self.reader.profile if self.reader is not None else "?"
                kept = raw[:4096] if bad.reason is Reason.OVERSIZED else raw
                out.invalid.append(InvalidReading(bad.reason, f"[mapping] profile {profile}: {bad.detail}", kept, i))
            except Exception as exc:  # a bug in the mapping must not stop the plant: this message only
                log.error("mapping failed on message %d of a batch: %s: %s", i, type(exc).__name__, exc)
                out.invalid.append(InvalidReading(Reason.DECODER_ERROR, f"mapping: {type(exc).__name__}: {exc}",
                                                  raw, i))
        return out

    def message(self, raw: bytes, key: bytes | None, topic: str) -> bytes:
        """One message as contract JSON (or contract Arrow IPC); raises MappingRefusal."""
        if self.refusal is not None:
            raise MappingRefusal(Reason.UNKNOWN_SITE, self.refusal)
        if len(raw) > self.max_message_bytes:
            raise MappingRefusal(Reason.OVERSIZED, f"{len(raw)} bytes > limit {self.max_message_bytes}")
        reader = self.reader
        site, machine = reader.ids_outside_payload(topic, key)
        if raw[:4] == b"\xff\xff\xff\xff":
            from andon.wire.mapping_arrow import map_arrow

            return map_arrow(raw, reader, site, machine)
        refusal = screen(raw)  # UTF-8, bounded nesting, no key twice: as for every JSON message
        if refusal is not None:
            raise MappingRefusal(Reason(refusal.kind), refusal.detail)
        try:
            doc = _json.decode(raw)
        except msgspec.DecodeError as exc:
            if b"NaN" in raw or b"Infinity" in raw:
                raise MappingRefusal(Reason.NON_FINITE, "NaN or Infinity is not a JSON number") from None
            raise MappingRefusal(Reason.MALFORMED, str(exc)) from None
        if isinstance(doc, list):
            if not doc:
                raise MappingRefusal(Reason.SCHEMA, "an empty array holds no reading")
            return _encoder.encode([reader.reading(item, site, machine, self.readers) for item in doc])
        return _encoder.encode(reader.reading(doc, site, machine, self.readers))


class Mapper:
    """Every site's mapping; `route(topic)` says how the messages of a topic are read (None: as they are)."""

    def __init__(self, sites: Sequence[SiteConfig]) -> None:
        self.sites = list(sites)
        self.readers = {s.site.id: SiteReader(s) for s in self.sites}
        self.max_message_bytes = max(s.processing.max_message_bytes for s in self.sites)
        self._routes: dict[str, Route | None] = {}
        by_topic: dict[str, list[SiteReader]] = {}
        for reader in self.readers.values():
            if isinstance(reader.listens_on, str):
                by_topic.setdefault(reader.listens_on, []).append(reader)
        for topic, readers in by_topic.items():
            if len({r.locates_by for r in readers}) > 1:
                names = ", ".join(f"{r.site_id} ({r.profile}, site from {r.site_source})" for r in readers)
                raise ConfigError(f"topics.telemetry {topic!r} is read by sites {names}, whose [mapping] finds site "
                                  "and machine differently: no message could be attributed",
                                  hint="give each such site its own telemetry topic, or the same [mapping] way of "
                                       "finding site and machine")

    @classmethod
    def from_sites(cls, sites: Sequence[SiteConfig]) -> Mapper | None:
        """None when every site reads andon's contract as it is (no mapping cost at all)."""
        if all(s.mapping.profile == "andon" for s in sites):
            return None
        return cls(sites)

    def subscriptions(self) -> list[str]:
        """Topics to read: names, and `^…` regular expressions for UNS paths and other topic patterns."""
        out: dict[str, None] = {}
        for reader in self.readers.values():
            on = reader.listens_on
            out[on if isinstance(on, str) else _anchored(on.pattern)] = None
        return list(out)

    def route(self, topic: str) -> Route | None:
        found = self._routes.get(topic, False)
        if found is False:
            found = self._routes[topic] = self._route(topic)
        return found

    def _route(self, topic: str) -> Route | None:
        readers = [r for r in self.readers.values() if r.listens(topic)]
        if not readers:
            if len(self.readers) != 1:
                return None  # a topic no site maps (e.g. a replayed file): andon's format
            readers = list(self.readers.values())
        if all(r.profile == "andon" for r in readers):
            return None
        ways = {r.locates_by for r in readers}
        if len(ways) > 1:
            names = ", ".join(f"{r.site_id} ({r.profile})" for r in readers)
            return Route(None, self.readers, refusal=f"topic {topic!r} is read by sites {names}, whose [mapping] "
                                                     "finds site and machine differently: give each its own topic")
        return Route(readers[0], {r.site_id: r for r in readers if r.profile != "andon"},
                     max_message_bytes=self.max_message_bytes)


def _anchored(pattern: str) -> str:
    """A regular expression as librdkafka's topic subscription takes it (a leading ^ marks a pattern)."""
    return pattern if pattern.startswith("^") else "^" + pattern
