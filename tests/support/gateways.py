"""Test gateways: the same readings written as other plants' gateways send them (UMH v1 `_historian`, a custom
gateway with its own field names, watts, RFC 3339 timestamps and no site), and the mapping configs that read them.

The contract side of a comparison is `contract(reading)`: what andon's own format carries for the gateway's values
(for the custom gateway, watts × 0.001 computed as the mapping computes it, so both sides hold the same floats).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

ENTERPRISE = "acme"
#: custom gateway: its own names for andon's signals; power is sent in watts
RENAME = {"pieces": "part_count", "rejects": "reject_count", "power_w": "power_kw", "status": "state",
          "rpm": "spindle_rpm"}
TO_GATEWAY = {andon: gateway for gateway, andon in RENAME.items()}
W_TO_KW = 0.001


def uns_path(site: str, machine: str, enterprise: str = ENTERPRISE) -> str:
    """A UNS path with two location levels between site and machine."""
    return f"umh.v1.{enterprise}.{site}.hall-1.line-{machine.split('-')[0]}.{machine}._historian"


def _signals(reading: dict) -> dict:
    return dict(reading["signals"])


def umh_payload(reading: dict) -> bytes:
    """`{"timestamp_ms": …, "<tag>": value, …}`."""
    return json.dumps({"timestamp_ms": reading["ts"], **_signals(reading)}).encode()


def watts(kw: float) -> float:
    return round(kw * 1000.0, 1)


def custom_payload(reading: dict) -> bytes:
    """A gateway that names the machine `asset`, the time `time` (RFC 3339), sends power in watts, signals at the
    top level and no site at all."""
    doc = {"asset": reading["machine"], "time": datetime.fromtimestamp(reading["ts"] / 1000, UTC)
           .isoformat(timespec="milliseconds").replace("+00:00", "Z")}
    for name, value in _signals(reading).items():
        doc[TO_GATEWAY.get(name, name)] = watts(value) if name == "power_kw" else value
    return json.dumps(doc).encode()


def contract(reading: dict, *, custom: bool = False) -> dict:
    """The reading in andon's format carrying the same values a mapped gateway message gives (no seq: neither
    gateway sends one)."""
    signals = _signals(reading)
    if custom and "power_kw" in signals:
        signals["power_kw"] = watts(signals["power_kw"]) * W_TO_KW
    return {"site": reading["site"], "machine": reading["machine"], "ts": reading["ts"], "signals": signals}


UMH_BY_KEY = '''
[mapping]
profile = "umh"
site_from = "key"
machine_from = "key"
'''

UMH_BY_TOPIC = '''
[mapping]
profile = "umh"
topic_pattern = "^umh\\\\.v1\\\\.{enterprise}\\\\..+\\\\._historian$"
'''

CUSTOM = '''
[mapping]
profile = "custom"
site_from = "config"
machine_field = "asset"
ts_field = "time"
ts_format = "rfc3339"
signals_field = ""
rename = { pieces = "part_count", rejects = "reject_count", power_w = "power_kw", status = "state", rpm = "spindle_rpm" }
scale = { power_kw = 0.001 }
'''


def with_mapping(toml_text: str, mapping: str, **fmt: str) -> str:
    """A site TOML with its [mapping] table replaced."""
    head, rest = toml_text.split("\n[mapping]\n", 1)
    tail = rest.split("\n\n", 1)[1] if "\n\n" in rest else ""
    for name, value in fmt.items():
        mapping = mapping.replace("{" + name + "}", value)
    return head + "\n" + mapping.strip() + "\n\n" + tail
