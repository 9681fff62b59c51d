"""Site config: one TOML file per site, validated with pydantic, with environment overrides for secrets.

Example::

    site = load_site("examples/plant-a.toml")
    site.machine("press-01").work_center   # "WC-PRESS-01"
"""

from __future__ import annotations

import functools
import os
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from andon.calendar_config import WEEKDAYS, Break, ShiftCalendar, ShiftPattern  # noqa: F401 (re-exported)
from andon.errors import ConfigError
from andon.states import MachineState, parse_state


def _valid_regex(cls, value: str | None) -> str | None:
    """Validator shared by the models with a `topic_pattern`."""
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"topic_pattern is not a valid regular expression: {exc}") from None
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SiteInfo(_Model):
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")]
    name: str = ""
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {value!r} (e.g. 'Europe/Berlin')") from None
        return value


class Topics(_Model):
    telemetry: str = "andon.telemetry.v1"
    telemetry_dlq: str = "andon.telemetry.dlq.v1"
    events: str = "andon.events.v1"
    events_dlq: str = "andon.events.dlq.v1"
    workorders: str = "andon.workorders.v1"
    partitions: Annotated[int, Field(ge=1, le=1024)] = 4


class KafkaSettings(_Model):
    bootstrap_servers: str = "127.0.0.1:9092"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", "OAUTHBEARER"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_ca_location: str | None = None
    group_id: str = "andon"
    #: Further librdkafka settings passed through unchanged, e.g. {"fetch.max.bytes" = "52428800"}.
    extra: dict[str, str] = Field(default_factory=dict)

    def client_config(self) -> dict[str, str]:
        """librdkafka settings shared by producers and consumers (secrets included: never log the result)."""
        conf = {"bootstrap.servers": self.bootstrap_servers, "security.protocol": self.security_protocol}
        if self.sasl_mechanism:
            conf["sasl.mechanism"] = self.sasl_mechanism
        if self.sasl_username:
            conf["sasl.username"] = self.sasl_username
        if self.sasl_password:
            conf["sasl.password"] = self.sasl_password.get_secret_value()
        if self.ssl_ca_location:
            conf["ssl.ca.location"] = self.ssl_ca_location
        conf.update(self.extra)
        return conf


class PostingSettings(_Model):
    """What odoo_sync posts to Odoo and how often (`[odoo.posting]`, docs/odoo-sync.md). Telemetry and Parquet
    keep every window; only what reaches Odoo is coalesced, and totals stay exact."""

    #: Work-order quantities (`qty_producing`) at most once per this many seconds of event time per order, and
    #: always at the order's first counted part, at every shift end and at its finish; 0 = every window.
    quantity_interval_s: Annotated[int, Field(ge=0, le=86_400)] = 900
    #: Scrap: one validated stock.scrap per work order per this many seconds with rejects, and at its finish.
    scrap_interval_s: Annotated[int, Field(ge=0, le=86_400)] = 3600
    #: "per_work_order": rejects reach Odoo aggregated from the operation counts (the default);
    #: "per_event": one stock.scrap per production.scrap_recorded event (every window with rejects).
    scrap: Literal["per_work_order", "per_event"] = "per_work_order"


class OdooSettings(_Model):
    url: str = "http://127.0.0.1:8069"
    database: str = "andon"
    transport: Literal["xmlrpc", "jsonrpc", "json2"] = "jsonrpc"
    username: str = "andon-integration"
    password: SecretStr | None = None
    api_key: SecretStr | None = None
    timeout_s: Annotated[float, Field(gt=0, le=600)] = 30.0
    rate_limit_per_s: Annotated[float, Field(gt=0)] = 50.0
    batch_size: Annotated[int, Field(ge=1, le=10_000)] = 100
    posting: PostingSettings = Field(default_factory=PostingSettings)


class Thresholds(_Model):
    window_s: Annotated[int, Field(ge=1, le=86_400)] = 60
    allowed_lateness_s: Annotated[float, Field(ge=0, le=86_400)] = 10.0
    min_dwell_s: Annotated[float, Field(ge=0, le=3_600)] = 3.0
    microstop_threshold_s: Annotated[float, Field(ge=0, le=86_400)] = 120.0
    offline_after_s: Annotated[float, Field(gt=0, le=86_400)] = 60.0
    microstop_policy: Literal["performance", "availability"] = "performance"
    max_message_bytes: Annotated[int, Field(ge=256, le=64 * 1024 * 1024)] = 1_048_576
    max_future_s: Annotated[float, Field(ge=0)] = 300.0
    max_past_s: Annotated[float, Field(ge=0)] = 30 * 86_400.0


class StateRules(_Model):
    """How a machine's state is found: from an explicit code signal, or inferred from signals."""

    source: Literal["code", "inferred"] = "code"
    code_signal: str = "state"
    #: Gateway state code -> andon state name; TOML keys are strings, e.g. {"10000" = "running"}.
    codes: dict[str, str] = Field(default_factory=dict)
    unmapped: str = "unknown"
    run_signal: str = "spindle_rpm"
    run_above: float = 100.0
    hysteresis: Annotated[float, Field(ge=0)] = 20.0
    alarm_signal: str = "alarm"

    @field_validator("codes")
    @classmethod
    def _codes(cls, value: dict[str, str]) -> dict[str, str]:
        for code, name in value.items():
            try:
                int(code)
            except ValueError:
                raise ValueError(f"state code {code!r} is not an integer") from None
            parse_state(name)
        return value

    @field_validator("unmapped")
    @classmethod
    def _unmapped(cls, value: str) -> str:
        parse_state(value)
        return value

    def code_table(self) -> dict[int, MachineState]:
        return {int(code): parse_state(name) for code, name in self.codes.items()}


class SignalLimit(_Model):
    signal: str
    above: float
    for_s: Annotated[float, Field(ge=0)] = 0.0


class SpcRule(_Model):
    """Western Electric style rules on a quality signal: `beyond_limits` or `run_of_n` on one side of centre."""

    signal: str
    rule: Literal["beyond_limits", "run_of_n"] = "beyond_limits"
    lower: float
    upper: float
    center: float | None = None
    n: Annotated[int, Field(ge=2, le=50)] = 7


class Rules(_Model):
    #: The reject rate a quality hold must catch (None: no reject-rate hold). Decided by a Bernoulli CUSUM of
    #: "rate at the limit" against "rate at nominal" over the parts counted (docs/odoo-sync.md).
    reject_rate_limit: Annotated[float, Field(gt=0, lt=1)] | None = 0.08
    #: The process's normal reject rate (default: half the limit); must be below the limit.
    reject_rate_nominal: Annotated[float, Field(gt=0, lt=1)] | None = None
    #: CUSUM decision threshold (log-likelihood ratio): higher = fewer false holds, later detection.
    reject_rate_cusum_h: Annotated[float, Field(ge=1, le=100)] = 12.0
    #: A hold needs at least this many parts since the CUSUM last stood at zero.
    reject_rate_min_count: Annotated[int, Field(ge=1)] = 20
    spc: list[SpcRule] = Field(default_factory=list)
    maintenance_alarm_codes: list[int] = Field(default_factory=list)
    maintenance_every_cycles: Annotated[int, Field(ge=1)] | None = None
    maintenance_signal_limits: list[SignalLimit] = Field(default_factory=list)

    @model_validator(mode="after")
    def _nominal_below_limit(self) -> Rules:
        if self.reject_rate_limit is not None and self.nominal_reject_rate >= self.reject_rate_limit:
            raise ValueError(f"reject_rate_nominal {self.reject_rate_nominal} must be below reject_rate_limit "
                             f"{self.reject_rate_limit}")
        return self

    @property
    def nominal_reject_rate(self) -> float:
        if self.reject_rate_nominal is not None:
            return self.reject_rate_nominal
        return (self.reject_rate_limit or 0.0) / 2


#: [mapping] keys each profile reads (besides `profile`); any other key set under that profile is refused.
PROFILE_KEYS: dict[str, frozenset[str]] = {
    "andon": frozenset(),
    "umh": frozenset({"site_from", "machine_from", "topic_pattern", "rename", "scale"}),
    "custom": frozenset({"site_from", "machine_from", "topic_pattern", "site_field", "machine_field", "ts_field",
                         "ts_format", "signals_field", "rename", "scale"}),
}
#: Per machine class [machine_classes.X.mapping] keys each site profile reads.
CLASS_PROFILE_KEYS: dict[str, frozenset[str]] = {
    "andon": frozenset(),
    "umh": frozenset({"rename", "scale"}),
    "custom": frozenset({"ts_field", "ts_format", "signals_field", "rename", "scale"}),
}

TsFormat = Literal["epoch_ms", "epoch_s", "rfc3339"]


def _keys_not_read(model: BaseModel, allowed: frozenset[str], profile: str, where: str) -> None:
    extra = sorted(set(model.model_fields_set) - allowed - {"profile"})
    if extra:
        reads = ", ".join(sorted(allowed)) or "no key but profile"
        raise PydanticCustomError(
            "unread_key", "not read under profile {profile} ({where} reads {reads}): remove the key or choose the "
            "profile that uses it", {"keys": extra, "profile": repr(profile), "where": where, "reads": reads})


class ClassMapping(_Model):
    """Per machine class overrides of the site's [mapping], where gateways differ within a site.

    Where site and machine are found stays the site's (`site_from`, `machine_from`, field names, `topic_pattern`);
    a class may change how the rest of its payloads reads."""

    ts_field: str | None = None
    ts_format: TsFormat | None = None
    #: "" = signals at the top level of the payload.
    signals_field: str | None = None
    rename: dict[str, str] | None = None
    scale: dict[str, float] | None = None


class Mapping(_Model):
    """Per-site mapping profile that adapts a gateway's payloads to the reading contract (see andon.wire.mapping).

    `andon`: payloads already in the contract format (the default, decoded as they are). `umh`: United Manufacturing
    Hub data model v1, the UNS path `umh.v1.<enterprise>.<site>.<area>….<machine>._historian` in the topic or the
    key, payloads `{"timestamp_ms": …, "<tag>": value, …}`. `custom`: field names, timestamp format and site and
    machine sources named here. `rename` (gateway name -> andon name) applies first, then `scale` (value × factor).
    """

    profile: Literal["andon", "umh", "custom"] = "andon"
    #: where the site id comes from; default: topic for umh, payload for custom
    site_from: Literal["payload", "topic", "key", "config"] | None = None
    #: where the machine id comes from; default: topic for umh, payload for custom
    machine_from: Literal["payload", "topic", "key"] | None = None
    #: custom: regular expression with named groups `site` and/or `machine`, matched against the whole topic (or
    #: key) for the ids taken from there; umh: which topics carry UNS paths (default: every `umh.v1.…._historian`)
    topic_pattern: str | None = None
    site_field: str = "site"
    machine_field: str = "machine"
    ts_field: str = "ts"
    ts_format: TsFormat = "epoch_ms"
    #: "" = signals at the top level of the payload (every field other than site, machine, ts and seq)
    signals_field: str = "signals"
    rename: dict[str, str] = Field(default_factory=dict)
    scale: dict[str, float] = Field(default_factory=dict)

    _regex = field_validator("topic_pattern")(_valid_regex)

    @model_validator(mode="after")
    def _profile_keys(self) -> Mapping:
        _keys_not_read(self, PROFILE_KEYS[self.profile], self.profile, "mapping")
        if self.profile == "andon":
            return self
        site_from, machine_from = self.site_source, self.machine_source
        if self.profile == "umh":
            if site_from == "payload" or machine_from == "payload":
                raise ValueError("UMH payloads carry no site or machine: site_from must be topic, key or config and "
                                 "machine_from topic or key")
            if self.topic_pattern and "topic" not in (site_from, machine_from):
                raise ValueError("topic_pattern is not read: it picks the UNS topics to read when site_from or "
                                 "machine_from is topic, and neither is")
            return self
        groups = set(re.compile(self.topic_pattern).groupindex) if self.topic_pattern else set()
        for name, source in (("site", site_from), ("machine", machine_from)):
            if source in ("topic", "key") and name not in groups:
                raise ValueError(f"{name}_from = {source!r} needs a topic_pattern with a named group {name!r}, "
                                 f"e.g. topic_pattern = '^plant/(?P<site>[^/]+)/(?P<machine>[^/]+)$'")
        if self.topic_pattern and "topic" not in (site_from, machine_from) and "key" not in (site_from, machine_from):
            raise ValueError("topic_pattern is not read: neither site_from nor machine_from is topic or key")
        return self

    @property
    def site_source(self) -> str:
        """Where the site id comes from, with the profile's default."""
        return self.site_from or ("topic" if self.profile == "umh" else "payload")

    @property
    def machine_source(self) -> str:
        """Where the machine id comes from, with the profile's default."""
        return self.machine_from or ("topic" if self.profile == "umh" else "payload")


class MachineClass(_Model):
    #: Numeric signals this class publishes (used for typed batch decoding and window aggregation).
    signals: list[str] = Field(default_factory=lambda: ["state", "spindle_rpm", "power_kw", "part_count",
                                                        "reject_count", "alarm"])
    states: StateRules = Field(default_factory=StateRules)
    rules: Rules = Field(default_factory=Rules)
    part_counter: str = "part_count"
    reject_counter: str = "reject_count"
    counter_max: Annotated[int, Field(ge=1)] = 2**32 - 1
    #: A counter may grow between two readings by at most floor(dt / ideal_cycle_time_s * counter_jump_factor)
    #: + counter_jump_slack; faster growth is a jump, held until the next reading confirms or refutes it.
    counter_jump_factor: Annotated[float, Field(ge=1, le=1_000_000)] = 3.0
    counter_jump_slack: Annotated[int, Field(ge=0)] = 10
    #: Overrides of the site's [mapping] for this class's gateways (profiles umh and custom only).
    mapping: ClassMapping | None = None
    #: A signal carrying the work order the machine runs (the manufacturing order's name, e.g. "WH/MO/00012", or
    #: the work order's; a string, or a whole number): each change of its value ends the running operation and
    #: the next counts from there (instead of setups). For sites without a setup state code (docs/odoo-sync.md).
    workorder_signal: Annotated[str, Field(min_length=1)] | None = None
    #: A signal naming the reason of the rejects the reject counter counts (e.g. "dimension", "surface", or a
    #: whole-number reason code; sticky: a reading without it keeps the last reason shown): rejects are counted per
    #: operation and reason, and odoo-sync posts one stock.scrap per work order and reason (docs/odoo-sync.md).
    reject_reason_signal: Annotated[str, Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _workorder_signal_apart(self) -> MachineClass:
        taken = {self.part_counter: "part_counter", self.reject_counter: "reject_counter",
                 self.states.code_signal: "states.code_signal", self.states.run_signal: "states.run_signal",
                 self.states.alarm_signal: "states.alarm_signal"}
        for key in ("workorder_signal", "reject_reason_signal"):
            name = getattr(self, key)
            if name is None:
                continue
            if name in taken:
                raise ValueError(f"{key} {name!r} is also {taken[name]}: name the signal that carries the "
                                 f"{'work order' if key == 'workorder_signal' else 'reject reason'}'s name")
            if name in self.signals:
                raise ValueError(f"{key} {name!r} is listed in signals (numeric signals, aggregated per window): "
                                 "remove it there")
            taken[name] = key
        return self


class Machine(_Model):
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]
    machine_class: str = Field(alias="class")
    work_center: str
    equipment: str | None = None
    ideal_cycle_time_s: Annotated[float, Field(gt=0, le=86_400)]


class Gateway(_Model):
    """A publisher (plant gateway, MES) and the sites it may publish readings for; see docs/security.md.

    A message is attributed to a gateway by a signed header (`andon-gateway` + `andon-signature`, HMAC-SHA256 of
    the raw value with the secret named by `key_name`) or, for unsigned gateways, by the topic or key it arrives
    on. The secret never sits in the file: it comes from ANDON_GATEWAY_KEY_<KEY_NAME> (or ..._FILE).
    """

    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")]
    #: Sites this gateway may publish for (default: the site whose file declares it).
    sites: list[str] = Field(default_factory=list)
    #: Regular expression the whole topic must match for an unsigned message to count as this gateway's.
    topic_pattern: str | None = None
    #: Prefix the message key must start with for an unsigned message to count as this gateway's.
    key_prefix: str | None = None
    #: Name of the HMAC key: when set, this gateway's messages must be signed; secret from ANDON_GATEWAY_KEY_<NAME>.
    key_name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")] | None = None
    #: Filled from the environment only (a value in the file is refused).
    secret: SecretStr | None = None

    _regex = field_validator("topic_pattern")(_valid_regex)


def gateway_key_env(key_name: str) -> str:
    """The environment variable holding a gateway's HMAC secret, e.g. 'gw-a' -> ANDON_GATEWAY_KEY_GW_A."""
    return "ANDON_GATEWAY_KEY_" + re.sub(r"[^A-Za-z0-9]", "_", key_name).upper()


def apply_gateway_secrets(raw: dict, env: dict[str, str] | None = None) -> dict:
    """Return `raw` with each signed gateway's secret taken from the environment; a secret in the file is an error."""
    gateways = raw.get("gateways")
    if not gateways:
        return raw
    env = dict(os.environ if env is None else env)
    out_gateways = []
    for index, gateway in enumerate(gateways):
        gateway = dict(gateway) if isinstance(gateway, dict) else gateway
        if isinstance(gateway, dict):
            if "secret" in gateway:
                raise ConfigError(f"gateways[{index}]: a gateway secret must not be written in the config file",
                                  hint="remove `secret`, set key_name and put the secret in "
                                       "ANDON_GATEWAY_KEY_<KEY_NAME> (or ..._FILE)")
            name = gateway.get("key_name")
            if isinstance(name, str):
                value = _env_value(gateway_key_env(name), env)
                if value:
                    gateway["secret"] = value
        out_gateways.append(gateway)
    return {**raw, "gateways": out_gateways}


class SiteConfig(_Model):
    site: SiteInfo
    topics: Topics = Field(default_factory=Topics)
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    odoo: OdooSettings = Field(default_factory=OdooSettings)
    processing: Thresholds = Field(default_factory=Thresholds)
    calendar: ShiftCalendar = Field(default_factory=ShiftCalendar)
    mapping: Mapping = Field(default_factory=Mapping)
    machine_classes: dict[str, MachineClass] = Field(default_factory=dict)
    machines: list[Machine]
    #: Publishers and the sites they may publish for; none configured = publisher authorization off.
    gateways: list[Gateway] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> SiteConfig:
        gateway_ids = [g.id for g in self.gateways]
        if len(set(gateway_ids)) != len(gateway_ids):
            raise ValueError(f"a gateway id appears twice in [[gateways]]: {gateway_ids}")
        seen: set[str] = set()
        for machine in self.machines:
            if machine.id in seen:
                raise ValueError(f"machine id {machine.id!r} appears twice")
            seen.add(machine.id)
            if machine.machine_class not in self.machine_classes:
                known = ", ".join(sorted(self.machine_classes)) or "(none defined)"
                raise ValueError(
                    f"machine {machine.id!r} has class {machine.machine_class!r}, which is not defined "
                    f"under [machine_classes]; defined: {known}"
                )
        if not self.machines:
            raise ValueError("a site needs at least one [[machines]] entry")
        for name, cls in self.machine_classes.items():
            if cls.mapping is not None:
                _keys_not_read(cls.mapping, CLASS_PROFILE_KEYS[self.mapping.profile], self.mapping.profile,
                               f"machine_classes.{name}.mapping")
        return self

    @functools.cached_property
    def _machines_by_id(self) -> dict[str, Machine]:
        return {m.id: m for m in self.machines}

    def machine(self, machine_id: str) -> Machine:
        return self._machines_by_id[machine_id]

    def class_of(self, machine_id: str) -> MachineClass:
        return self.machine_classes[self.machine(machine_id).machine_class]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.site.timezone)

    def signal_names(self) -> list[str]:
        """Every numeric signal any machine class of this site publishes, in a stable order."""
        names: dict[str, None] = {}
        for cls in self.machine_classes.values():
            names.update(dict.fromkeys(cls.signals))
        return list(names) + [n for n in self.label_signal_names() if n not in names]

    def label_signal_names(self) -> list[str]:
        """Signals that carry names (a class's `workorder_signal` and `reject_reason_signal`): columns of codes, not
        aggregated."""
        return list(dict.fromkeys(n for c in self.machine_classes.values()
                                  for n in (c.workorder_signal, c.reject_reason_signal) if n))


#: Environment variables that override config keys: secrets and endpoints never need to sit in the file.
#: A variable named NAME_FILE instead holds the path of a file whose content is the value (Kubernetes secrets).
ENV_OVERRIDES: dict[str, tuple[str, str]] = {
    "ANDON_KAFKA_BOOTSTRAP_SERVERS": ("kafka", "bootstrap_servers"),
    "ANDON_KAFKA_SECURITY_PROTOCOL": ("kafka", "security_protocol"),
    "ANDON_KAFKA_SASL_MECHANISM": ("kafka", "sasl_mechanism"),
    "ANDON_KAFKA_SASL_USERNAME": ("kafka", "sasl_username"),
    "ANDON_KAFKA_SASL_PASSWORD": ("kafka", "sasl_password"),
    "ANDON_KAFKA_SSL_CA_LOCATION": ("kafka", "ssl_ca_location"),
    "ANDON_KAFKA_GROUP_ID": ("kafka", "group_id"),
    "ANDON_ODOO_URL": ("odoo", "url"),
    "ANDON_ODOO_DATABASE": ("odoo", "database"),
    "ANDON_ODOO_TRANSPORT": ("odoo", "transport"),
    "ANDON_ODOO_USERNAME": ("odoo", "username"),
    "ANDON_ODOO_PASSWORD": ("odoo", "password"),
    "ANDON_ODOO_API_KEY": ("odoo", "api_key"),
}


def _env_value(name: str, env: dict[str, str]) -> str | None:
    if name in env:
        return env[name]
    path = env.get(f"{name}_FILE")
    if path is None:
        return None
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(
            f"{name}_FILE points to {path!r}, which cannot be read: {exc.strerror}",
            hint="mount the secret at that path or unset the variable",
        ) from None


def apply_env_overrides(raw: dict, env: dict[str, str] | None = None) -> dict:
    """Return `raw` with the ANDON_* environment overrides applied (see ENV_OVERRIDES)."""
    env = dict(os.environ if env is None else env)
    out = {key: dict(value) if isinstance(value, dict) else value for key, value in raw.items()}
    for name, (section, key) in ENV_OVERRIDES.items():
        value = _env_value(name, env)
        if value is not None:
            out.setdefault(section, {})
            out[section][key] = value
    return out


def _message(err: dict) -> str:
    if err["type"] == "extra_forbidden":
        return ("unknown key: no andon code reads it (check its spelling and section against "
                "examples/plant-a.toml)")
    return err["msg"].removeprefix("Value error, ")


def _error_lines(source: str, err: dict) -> list[str]:
    """One line per refused key: file, key path, reason."""
    if err["type"] == "unread_key":
        return [f"{source}: {err['ctx']['where']}.{key}: {err['msg']}" for key in err["ctx"]["keys"]]
    return [f"{source}: {_location(err['loc'])}: {_message(err)}"]


def _location(loc: tuple) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "(top level)"


def expand_machine_groups(raw: dict) -> dict:
    """Turn `[[machine_groups]]` (prefix, count, class, work_center pattern, ...) into `[[machines]]` entries.

    Example: ``{prefix = "press-", count = 2, class = "press", work_center = "WC-PRESS-{n:02d}",
    ideal_cycle_time_s = 1.2}`` gives machines press-01 and press-02 on work centers WC-PRESS-01 and WC-PRESS-02.
    """
    groups = raw.get("machine_groups")
    if not groups:
        return raw
    out = {key: value for key, value in raw.items() if key != "machine_groups"}
    machines = list(raw.get("machines", []))
    for index, group in enumerate(groups):
        try:
            group = dict(group)
            prefix, count = group.pop("prefix"), int(group.pop("count"))
            width = int(group.pop("digits", 2))
            for n in range(1, count + 1):
                entry = {key: (value.format(n=n) if isinstance(value, str) else value) for key, value in group.items()}
                entry["id"] = f"{prefix}{n:0{width}d}"
                machines.append(entry)
        except (KeyError, ValueError, TypeError, IndexError) as exc:
            raise ConfigError(
                f"machine_groups[{index}]: cannot expand ({type(exc).__name__}: {exc})",
                hint="a group needs prefix, count, class, work_center (may use {n}) and ideal_cycle_time_s",
            ) from None
    out["machines"] = machines
    return out


def parse_site(raw: dict, source: str = "<config>", env: dict[str, str] | None = None) -> SiteConfig:
    """Validate a parsed TOML document; errors name the file, the key path and the reason."""
    try:
        return SiteConfig.model_validate(apply_gateway_secrets(apply_env_overrides(expand_machine_groups(raw), env),
                                                               env))
    except ValidationError as exc:
        lines = [line for err in exc.errors() for line in _error_lines(source, err)]
        raise ConfigError(
            "invalid site config:\n  " + "\n  ".join(lines),
            hint="fix the keys named above (see examples/plant-a.toml for a complete file)",
        ) from None


def load_site(path: str | Path, env: dict[str, str] | None = None) -> SiteConfig:
    """Read and validate one site's TOML file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"site config {path} does not exist", hint="pass --config PATH to a site TOML file") from None
    except OSError as exc:
        raise ConfigError(f"site config {path} cannot be read: {exc.strerror}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}", hint="fix the syntax at the line named") from None
    return parse_site(raw, str(path), env)


EXAMPLE_SITE = Path(__file__).resolve().parent.parent / "examples" / "plant-a.toml"


def example_site_path() -> Path:
    """The example plant shipped with andon (used by the demo and the tests)."""
    if EXAMPLE_SITE.exists():
        return EXAMPLE_SITE
    raise ConfigError("the example site config is not installed", hint="run from a source checkout of andon")


def load_sites(paths: Sequence[str | Path], env: dict[str, str] | None = None) -> list[SiteConfig]:
    """Several sites of one deployment: each path a site TOML or a directory of them (`*.toml`, in name order).

    Site ids must be unique; the sites must share the Kafka cluster (one source and one producer serve them all)."""
    files: list[Path] = []
    for raw_path in paths:
        path = Path(raw_path)
        if path.is_dir():
            found = sorted(path.glob("*.toml"))
            if not found:
                raise ConfigError(f"site config directory {path} holds no *.toml file",
                                  hint="put one TOML file per site in it, or pass --config FILE")
            files.extend(found)
        else:
            files.append(path)
    sites = [load_site(f, env) for f in files]
    seen: dict[str, Path] = {}
    for f, site in zip(files, sites, strict=True):
        if site.site.id in seen:
            raise ConfigError(f"site {site.site.id!r} is configured twice: {seen[site.site.id]} and {f}",
                              hint="give each site one file")
        seen[site.site.id] = f
    first = sites[0] if sites else None
    for f, site in zip(files, sites, strict=True):
        if site.kafka.client_config() != first.kafka.client_config():
            raise ConfigError(f"{f}: [kafka] differs from {files[0]}'s: the sites of one deployment share one Kafka "
                              "cluster and its settings", hint="give every site's file the same [kafka] table, or "
                                                               "run one deployment per cluster")
    return sites
