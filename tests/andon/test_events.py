"""Event envelope v1: deterministic ids, round trips, validation, one JSON Schema per type, the catalog."""

from __future__ import annotations

import json

import msgspec
import pytest

from andon.catalog import render_markdown, write_schemas
from andon.cli import main
from andon.events import (
    EVENT_TYPES,
    DowntimeStarted,
    EventError,
    decode_event,
    encode_event,
    encode_event_lines,
    event_id,
    iso_ms,
    make_event,
    payload,
)


def downtime(**overrides):
    args = dict(site="plant-a", machine="press-01", occurred_at_ms=1764144000125, detected_at_ms=1764144120125,
                data=DowntimeStarted(reason="Equipment Failure", state="breakdown"), work_center="WC-PRESS-01")
    args.update(overrides)
    return make_event("machine.downtime_started", **args)


def test_same_input_same_id_and_different_input_different_id():
    assert downtime().event_id == downtime().event_id
    assert downtime().event_id != downtime(occurred_at_ms=1764144000126).event_id
    assert downtime().event_id != downtime(machine="press-02").event_id
    assert event_id("a", "s", "m", 1, "x") != event_id("a", "s", "m", 1, "y")


def test_round_trip_and_typed_payload():
    ev = downtime()
    back = decode_event(encode_event(ev))
    assert back == ev
    assert back.occurred_at == "2025-11-26T08:00:00.125Z" == iso_ms(1764144000125)
    assert payload(back) == DowntimeStarted(reason="Equipment Failure", state="breakdown")


def test_a_block_of_events_is_their_lines_in_order():
    events = [downtime(), downtime(machine="press-02"), downtime(occurred_at_ms=1764144000126)]
    block = encode_event_lines(events)
    assert block == b"".join(encode_event(e) + b"\n" for e in events)
    assert [decode_event(line) for line in block.splitlines()] == events
    assert encode_event_lines([]) == b""


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update(type="machine.exploded"), "unknown event type"),
        (lambda d: d.update(schema_version=7), "schema_version 7"),
        (lambda d: d["data"].pop("reason"), "Object missing required field `reason`"),
        (lambda d: d.pop("site"), "missing required field `site`"),
        (lambda d: d.update(occurred_at="last tuesday"), "Invalid isoformat"),
    ],
)
def test_invalid_events_say_what_is_wrong(mutate, message):
    doc = json.loads(encode_event(downtime()))
    mutate(doc)
    with pytest.raises(EventError, match=message):
        decode_event(json.dumps(doc).encode())


def test_make_event_checks_payload_type():
    with pytest.raises(TypeError, match="DowntimeStarted"):
        make_event("machine.downtime_ended", site="s", machine="m", occurred_at_ms=0, detected_at_ms=0,
                   data=DowntimeStarted(reason="x", state="y"))


def test_catalog_lists_every_type_with_owner_producers_consumers(capsys):
    assert main(["catalog"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| `")]
    assert len(rows) == len(EVENT_TYPES)
    for type_ in EVENT_TYPES:
        row = next(r for r in rows if r.startswith(f"| `{type_}`"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert cells[1] == "1" and all(cells[2:6]), row
    assert out == render_markdown()


def test_schemas_are_written_and_validate_real_events(tmp_path):
    paths = write_schemas(tmp_path)
    assert len(paths) == len(EVENT_TYPES)
    schema = json.loads((tmp_path / "machine.downtime_started.v1.schema.json").read_text())
    assert schema["properties"]["type"] == {"const": "machine.downtime_started"}
    data_ref = schema["properties"]["data"]["$ref"].split("/")[-1]
    assert set(schema["$defs"][data_ref]["required"]) == {"reason", "state"}
    assert set(schema["required"]) >= {"event_id", "type", "occurred_at", "detected_at", "site", "machine"}
    # every payload struct's required fields appear in its schema
    for type_, struct in EVENT_TYPES.items():
        doc = json.loads((tmp_path / f"{type_}.v1.schema.json").read_text())
        name = doc["properties"]["data"]["$ref"].split("/")[-1]
        fields = msgspec.structs.fields(struct)
        required = {f.name for f in fields if f.required}
        assert set(doc["$defs"][name].get("required", [])) == required


def test_real_events_validate_against_their_schema(tmp_path):
    import jsonschema

    write_schemas(tmp_path)
    ev = json.loads(encode_event(downtime()))
    schema = json.loads((tmp_path / "machine.downtime_started.v1.schema.json").read_text())
    jsonschema.validate(ev, schema)
    ev["data"]["reason"] = 42
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(ev, schema)


@pytest.mark.parametrize("key", [("a", "s", "m", 0, ""), ("machine.state_changed", "plant-a", "press-01",
                                                           1764144000125, "running>stopped"), ("x", "é", "ü", -5, "|")])
def test_event_id_is_rfc4122_uuid5(key):
    import uuid

    from andon.events import EVENT_NAMESPACE

    type_, site, machine, at, disc = key
    assert event_id(*key) == str(uuid.uuid5(EVENT_NAMESPACE, f"{type_}|{site}|{machine}|{at}|{disc}"))
