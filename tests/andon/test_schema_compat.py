"""CI check: every event schema stays backward compatible with its released version (andon/schemas/), and the
checker itself finds deliberately incompatible changes; plus the integration catalog's flows and formats."""

from __future__ import annotations

import copy
import json

import pytest

from andon.catalog import (
    FLOWS,
    RELEASED_DIR,
    catalog_json,
    compatibility_problems,
    entries,
    main,
    released_schema,
)
from andon.events import EVENT_TYPES, SCHEMA_VERSION, json_schema


@pytest.mark.parametrize("type_", sorted(EVENT_TYPES))
def test_current_schema_is_backward_compatible_with_the_released_one(type_):
    released = released_schema(type_)
    if released is None:
        older = sorted(RELEASED_DIR.glob(f"{type_}.v*.schema.json"))
        assert not older, (f"{type_} was released as {older[-1].name} but has no released v{SCHEMA_VERSION}: "
                           f"release the new version with `andon catalog --schemas andon/schemas`")
        pytest.skip(f"{type_} is new: nothing released yet")
    problems = compatibility_problems(released, json_schema(type_))
    assert not problems, (f"{type_} v{SCHEMA_VERSION} breaks consumers of the released schema:\n  "
                          + "\n  ".join(problems)
                          + "\nmake the change backward compatible, or release a new envelope version")


def test_every_released_schema_names_a_known_type():
    for path in RELEASED_DIR.glob("*.schema.json"):
        assert path.name.split(".v")[0] in EVENT_TYPES, f"{path.name}: no such event type"


BASE = json_schema("maintenance.requested")


def changed(edit) -> dict:
    schema = copy.deepcopy(BASE)
    edit(schema)
    return schema


DATA = "$defs", "MaintenanceRequested"


def data(schema: dict) -> dict:
    return schema[DATA[0]][DATA[1]]


@pytest.mark.parametrize(("edit", "problem"), [
    (lambda s: s["properties"].pop("site"), "$.site: property removed"),
    (lambda s: data(s)["properties"].pop("detail"), "$.data.detail: property removed"),
    (lambda s: s["required"].append("work_center"), "$.work_center: property is now required"),
    (lambda s: (s["properties"].update(shift={"type": "string"}), s["required"].append("shift")),
     "$.shift: new property is now required"),
    (lambda s: s["properties"].update(work_order={"type": "string"}), "$.work_order: type null no longer allowed"),
    (lambda s: data(s)["properties"].update(alarm_code={"anyOf": [{"type": "integer", "minimum": 0},
                                                                  {"type": "null"}]}),
     "$.data.alarm_code: minimum tightened from none to 0"),
    (lambda s: data(s)["properties"]["trigger"]["enum"].remove("cycle_count"),
     '$.data.trigger: value "cycle_count" no longer allowed'),
    (lambda s: s["properties"].update(event_id={"type": "string", "pattern": "^[0-9a-f-]{36}$"}),
     "$.event_id: pattern changed"),
    (lambda s: s["properties"].update(site={"enum": ["plant-a"]}), "$.site: type string no longer allowed"),
    (lambda s: s["properties"].update(schema_version={"const": 2}), "$.schema_version: value 1 no longer allowed"),
    (lambda s: s["properties"].update(occurred_at={"type": "integer"}), "$.occurred_at: type string no longer allowed"),
])
def test_checker_finds_incompatible_changes(edit, problem):
    problems = compatibility_problems(BASE, changed(edit))
    assert any(p.startswith(problem) for p in problems), problems


def number_to_integer(s: dict) -> None:
    data(s)["properties"]["alarm_code"] = {"anyOf": [{"type": "number"}, {"type": "null"}]}


@pytest.mark.parametrize("edit", [
    lambda s: s["properties"].update(line={"type": "string"}),  # new optional field
    lambda s: data(s)["properties"].update(severity={"anyOf": [{"type": "integer"}, {"type": "null"}]}),
    lambda s: data(s)["properties"]["trigger"]["enum"].append("vibration"),  # enum widened
    lambda s: s["required"].remove("machine"),  # no longer required
    lambda s: s["properties"].update(site={"anyOf": [{"type": "string"}, {"type": "null"}]}),  # null added
    number_to_integer,  # integer widened to number
])
def test_checker_accepts_compatible_changes(edit):
    assert compatibility_problems(BASE, changed(edit)) == []


def test_narrowing_number_to_integer_is_found():
    wide = changed(number_to_integer)
    assert any("type number no longer allowed" in p for p in compatibility_problems(wide, BASE))


# ---- the integration catalog ---------------------------------------------------------------------------------

def test_catalog_lists_every_flow_with_topics_odoo_owner_service_level_and_recovery(capsys):
    names = {f.name for f in FLOWS}
    assert names == {"telemetry", "odoo_sync", "workorders", "sync-shifts", "reconcile", "dlq replay"}
    for f in FLOWS:
        assert f.owner and f.service_level and f.recovery and (f.reads or f.writes), f.name
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "### odoo_sync (`andon run odoo-sync`)" in out and "stock.scrap: search_read, create, action_validate" in out
    assert "| `maintenance.requested` |" in out  # the event table stays


def test_catalog_json_and_schemas(tmp_path, capsys):
    assert main(["--format", "json", "--schemas", str(tmp_path)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [f["name"] for f in doc["flows"]] == [f.name for f in FLOWS]
    assert {e["type"] for e in doc["events"]} == {e.type for e in entries()}
    assert doc == json.loads(json.dumps(catalog_json()))
    assert len(list(tmp_path.glob("*.schema.json"))) == len(EVENT_TYPES)
