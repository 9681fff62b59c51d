"""Publisher authorization: gateway config and secrets, identification by signature or binding, and the decoder
refusing readings for sites a gateway may not publish for."""

from __future__ import annotations

import json
import logging
import tomllib

import pytest

from andon.config import example_site_path, gateway_key_env, parse_site
from andon.errors import ConfigError
from andon.messages import RawBatch
from andon.operators.telemetry import TelemetryDecoder
from andon.readings import Registry
from andon.security import GATEWAY_HEADER, SIGNATURE_HEADER, Authorizer, sign, signed_headers

SECRET_A = "s3cret-for-gw-a-0b7f"
TS = 1_764_144_000_125
BOUNDS = (TS - 10**9, TS + 10**9)


def site_raw(site_id: str, gateways: list[dict] | None = None) -> dict:
    raw = tomllib.loads(example_site_path().read_text())
    raw["site"]["id"] = site_id
    if gateways is not None:
        raw["gateways"] = gateways
    return raw


GATEWAYS = [
    {"id": "gw-a", "sites": ["plant-a"], "key_name": "gw-a"},  # signs its messages
    {"id": "mes-a", "topic_pattern": r"plant-a\.telemetry", "sites": ["plant-a"]},  # bound to its own topic
    {"id": "keyed-b", "key_prefix": "plant-b/", "sites": ["plant-b"]},  # bound by key prefix
]


@pytest.fixture(scope="module")
def sites():
    env = {gateway_key_env("gw-a"): SECRET_A}
    return [parse_site(site_raw("plant-a", GATEWAYS), env=env), parse_site(site_raw("plant-b"), env=env)]


def reading(site: str, machine: str = "press-01") -> bytes:
    return json.dumps({"site": site, "machine": machine, "ts": TS, "signals": {"state": 10000}}).encode()


def batch(messages: list[tuple[bytes, bytes | None, list | None]], topic: str = "andon.telemetry.v1") -> RawBatch:
    return RawBatch(topic, 0, list(range(len(messages))), [m[0] for m in messages], [m[1] for m in messages],
                    [0] * len(messages), [m[2] for m in messages])


# ---- config ------------------------------------------------------------------------------------------------

def test_gateway_secret_comes_from_env_or_file_and_never_shows(tmp_path):
    site = parse_site(site_raw("plant-a", GATEWAYS), env={"ANDON_GATEWAY_KEY_GW_A": SECRET_A})
    assert site.gateways[0].secret.get_secret_value() == SECRET_A
    assert SECRET_A not in repr(site) and SECRET_A not in str(site.model_dump())
    secret_file = tmp_path / "key"
    secret_file.write_text(SECRET_A + "\n")
    site = parse_site(site_raw("plant-a", GATEWAYS), env={"ANDON_GATEWAY_KEY_GW_A_FILE": str(secret_file)})
    assert site.gateways[0].secret.get_secret_value() == SECRET_A
    assert SECRET_A not in repr(Authorizer.from_sites([site]))


def test_gateway_secret_in_the_file_is_refused():
    with pytest.raises(ConfigError, match="must not be written in the config file"):
        parse_site(site_raw("plant-a", [{"id": "gw-a", "key_name": "gw-a", "secret": "x"}]), env={})


@pytest.mark.parametrize(("gateways", "message"), [
    ([{"id": "gw-a", "key_name": "gw-a"}], "ANDON_GATEWAY_KEY_GW_A"),
    ([{"id": "gw-a"}], "can never be identified"),
])
def test_unusable_gateways_fail_at_start(gateways, message):
    site = parse_site(site_raw("plant-a", gateways), env={})
    with pytest.raises(ConfigError, match=message):
        Authorizer.from_sites([site])


def test_no_gateways_means_authorization_off_with_a_warning(caplog):
    site = parse_site(site_raw("plant-a"), env={})
    assert Authorizer.from_sites([site]) is None
    with caplog.at_level(logging.WARNING):
        decoder = TelemetryDecoder([site], Registry([site]), BOUNDS)
    assert "publisher authorization is off" in caplog.text
    out = decoder.decode(batch([(reading("plant-a"), None, None)]))
    assert len(out.batch) == 1 and not out.dead


# ---- identification ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("topic", "key", "headers", "gateway", "refusal"), [
    ("andon.telemetry.v1", b"press-01", signed_headers("gw-a", SECRET_A, reading("plant-a")), "gw-a", None),
    ("andon.telemetry.v1", b"press-01", [(GATEWAY_HEADER, b"gw-a"), (SIGNATURE_HEADER, sign("wrong", b"x"))],
     "gw-a", "bad andon-signature"),
    ("andon.telemetry.v1", b"press-01", [(GATEWAY_HEADER, b"gw-a")], "gw-a", "must sign"),
    ("andon.telemetry.v1", b"press-01", [(GATEWAY_HEADER, b"gw-z")], "gw-z", "not configured"),
    ("plant-a.telemetry", b"press-01", None, "mes-a", None),
    ("plant-a.telemetry", b"press-01", [(GATEWAY_HEADER, b"mes-a")], "mes-a", None),
    ("andon.telemetry.v1", b"press-01", [(GATEWAY_HEADER, b"mes-a")], "mes-a", "not on its topic/key binding"),
    ("andon.telemetry.v1", b"plant-b/press-01", None, "keyed-b", None),
    ("andon.telemetry.v1", b"press-01", None, None, "no gateway identified"),
    ("andon.telemetry.v1", None, [], None, "no gateway identified"),
])
def test_identify(sites, topic, key, headers, gateway, refusal):
    who = Authorizer.from_sites(sites).identify(topic, key, headers, reading("plant-a"))
    assert who.gateway == gateway
    if refusal is None:
        assert who.refusal is None
    else:
        assert refusal in who.refusal and not who.allows("plant-a")


def test_signature_covers_every_byte_of_the_value(sites):
    auth = Authorizer.from_sites(sites)
    value = reading("plant-a")
    headers = signed_headers("gw-a", SECRET_A, value)
    assert auth.identify("t", None, headers, value).allows("plant-a")
    tampered = value.replace(b"plant-a", b"plant-b")
    assert auth.identify("t", None, headers, tampered).refusal == "bad andon-signature for gateway 'gw-a'"


# ---- the decoder (acceptance at the unit level) --------------------------------------------------------------

def test_reading_for_site_b_from_a_gateway_authorized_for_site_a_only_is_refused_with_a_reason(sites):
    decoder = TelemetryDecoder(sites, Registry(sites), BOUNDS)
    good, bad = reading("plant-a"), reading("plant-b")
    both = b"[" + good + b"," + bad + b"]"
    out = decoder.decode(batch([
        (good, b"press-01", signed_headers("gw-a", SECRET_A, good)),
        (bad, b"press-01", signed_headers("gw-a", SECRET_A, bad)),
        (both, b"press-01", signed_headers("gw-a", SECRET_A, both)),
        (bad, b"plant-b/press-01", None),  # keyed-b may publish for plant-b
        (good, b"plant-b/press-01", None),  # ... but not for plant-a
        (good, b"press-01", None),  # nobody
    ]))
    registry = decoder.registry
    accepted = sorted((registry.keys[m][0], int(i)) for m, i in zip(out.batch.machine, out.batch.message_index,
                                                                    strict=True))
    assert accepted == [("plant-a", 0), ("plant-a", 2), ("plant-b", 3)]
    dead = sorted(out.dead, key=lambda d: d.source_offset)
    assert [(d.source_offset, d.reason) for d in dead] == [
        (1, "unauthorized_publisher"), (2, "unauthorized_publisher"), (4, "unauthorized_publisher"),
        (5, "unauthorized_publisher")]
    assert dead[0].detail == "gateway 'gw-a' may publish for ['plant-a'] only, not for site 'plant-b' (1 reading refused)"
    assert dead[0].raw == bad and dead[1].raw == both
    assert "keyed-b" in dead[2].detail and "'plant-a'" in dead[2].detail
    assert "no gateway identified" in dead[3].detail
    assert dict(dead[0].headers())["andon.dlq.reason"] == b"unauthorized_publisher"
    assert out.readings_in == len(out.batch) + len(out.dead)


def test_refused_messages_keep_the_offsets_of_the_rest_and_other_dead_letters(sites):
    decoder = TelemetryDecoder(sites, Registry(sites), BOUNDS)
    good, broken = reading("plant-a"), b'{"site": "plant-a", "machine":'
    out = decoder.decode(batch([
        (good, None, None),  # unidentified: refused before decoding
        (broken, None, signed_headers("gw-a", SECRET_A, broken)),
        (good, None, signed_headers("gw-a", SECRET_A, good)),
    ]))
    assert out.batch.message_index.tolist() == [2]
    assert sorted((d.source_offset, d.reason) for d in out.dead) == [(0, "unauthorized_publisher"),
                                                                     (1, "malformed_json")]
