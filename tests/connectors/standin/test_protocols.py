"""The stand-in speaks XML-RPC, JSON-RPC (odoorpc) and JSON-2 as real Odoo does, to the real clients."""

from __future__ import annotations

import xmlrpc.client

import odoorpc
import pytest

from andon.connectors.standin.testing import (
    INTEGRATION_KEY,
    INTEGRATION_PASSWORD,
    Json2Error,
    RawClient,
    error_name,
    error_text,
    json2,
)

pytestmark = pytest.mark.odoo

PROTOCOLS = ["xmlrpc", "jsonrpc", "json2"]


def _workorder(client: RawClient, code: str) -> dict:
    rows = client.search_read("mrp.workorder", [["workcenter_id.code", "=", code]],
                              ["name", "state", "workcenter_id", "production_id", "product_id"])
    assert len(rows) == 1
    return rows[0]


@pytest.mark.parametrize("protocol, code", [("xmlrpc", "WC-PRESS-02"), ("jsonrpc", "WC-PRESS-03"),
                                            ("json2", "WC-PRESS-04")])
def test_login_search_read_create_and_button(standin19, protocol, code):
    client = RawClient(protocol, standin19.url)
    assert client.uid == 2
    wo = _workorder(client, code)
    assert wo["state"] == "ready"
    assert wo["workcenter_id"][1].startswith(code)  # many2one as [id, display_name]
    log_id = client.create("mrp.workcenter.productivity", {
        "workcenter_id": wo["workcenter_id"][0], "loss_id": 1, "date_start": "2025-01-01 08:00:00",
        "date_end": "2025-01-01 08:30:00", "description": f"{protocol} test"})
    log = client.search_read("mrp.workcenter.productivity", [["id", "=", log_id]], ["duration", "loss_type"])[0]
    assert log["duration"] == pytest.approx(30.0)
    assert log["loss_type"] == "availability"
    if protocol == "xmlrpc":  # 19's button_start returns None, which Odoo's XML-RPC marshaller cannot send
        with pytest.raises(xmlrpc.client.Fault) as fault:
            client.button("mrp.workorder", [wo["id"]], "button_start")
        assert fault.value.faultCode == 1 and "cannot marshal None" in fault.value.faultString
    else:  # JSON-RPC and JSON-2 carry it as null
        assert client.button("mrp.workorder", [wo["id"]], "button_start") is None
    assert _workorder(client, code)["state"] == "progress"  # committed before the answer was marshalled


def test_odoorpc_browse_and_ref(standin17):
    odoo = odoorpc.ODOO("127.0.0.1", port=standin17.port)
    assert odoo.version == "17.0"
    odoo.login("andon", "andon-integration", INTEGRATION_PASSWORD)
    assert odoo.env.user.login == "andon-integration"
    assert "mrp.workorder" in odoo.env
    Workorder = odoo.env["mrp.workorder"]
    order = Workorder.browse(Workorder.search([("workcenter_id.code", "=", "WC-CNC-05")]))
    assert order.workcenter_id.code == "WC-CNC-05"
    assert order.production_id.product_id.default_code == "MH-200"
    assert odoo.env.ref("mrp.block_reason1").name == "Equipment Failure"
    order.button_start()
    assert Workorder.browse(order.id).state == "progress"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_wrong_credentials(standin19, protocol):
    url = standin19.url
    if protocol == "xmlrpc":
        assert xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/common").login("andon", "admin", "wrong") is False
        with pytest.raises(xmlrpc.client.Fault) as info:
            xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/object").execute_kw(
                "andon", 2, "wrong", "mrp.workcenter", "search", [[]])
        assert info.value.faultCode == 3
    elif protocol == "jsonrpc":
        odoo = odoorpc.ODOO("127.0.0.1", port=standin19.port)
        with pytest.raises(odoorpc.error.RPCError, match="Wrong login ID or password"):
            odoo.login("andon", "admin", "wrong")
    else:
        with pytest.raises(Json2Error) as info:
            json2(url, "mrp.workcenter", "search", {"domain": []}, key="wrong-key")
        assert info.value.status == 401
        assert info.value.body["name"] == "werkzeug.exceptions.Unauthorized"
        assert info.value.body["message"] == "Invalid apikey"


@pytest.mark.parametrize("protocol, code, expected", [
    ("xmlrpc", "WC-MOLD-01", "fault2"),
    ("jsonrpc", "WC-MOLD-02", "odoo.exceptions.UserError"),
    ("json2", "WC-MOLD-03", "422 odoo.exceptions.UserError"),
])
def test_button_start_refuses_on_blocked_work_center(standin19, protocol, code, expected):
    client = RawClient(protocol, standin19.url)
    wo = _workorder(client, code)
    client.create("mrp.workcenter.productivity", {"workcenter_id": wo["workcenter_id"][0], "loss_id": 2,
                                                  "description": "breakdown"})
    state = client.search_read("mrp.workcenter", [["code", "=", code]], ["working_state"])[0]["working_state"]
    assert state == "blocked"
    with pytest.raises((xmlrpc.client.Fault, odoorpc.error.RPCError, Json2Error)) as info:
        client.button("mrp.workorder", [wo["id"]], "button_start")
    assert error_name(info.value) == expected
    assert "unblock the work center" in error_text(info.value)
    assert _workorder(client, code)["state"] == "ready"


@pytest.mark.parametrize("protocol, expected", [
    ("xmlrpc", "fault4"), ("jsonrpc", "odoo.exceptions.AccessError"), ("json2", "403 odoo.exceptions.AccessError")])
def test_integration_user_is_least_privilege(standin19, protocol, expected):
    client = RawClient(protocol, standin19.url, "andon-integration", INTEGRATION_PASSWORD, INTEGRATION_KEY)
    assert client.search_read("mrp.workcenter", [["code", "=", "WC-CNC-01"]], ["code"])[0]["code"] == "WC-CNC-01"
    with pytest.raises((xmlrpc.client.Fault, odoorpc.error.RPCError, Json2Error)) as info:
        client.call("mrp.workcenter", "write", [[1], {"name": "renamed"}], named={"ids": [1], "vals": {"name": "x"}})
    assert error_name(info.value) == expected
    assert "not allowed to modify 'Work Center' (mrp.workcenter)" in error_text(info.value)
    request_id = client.create("maintenance.request", {"name": "Check hydraulics", "equipment_id": 1,
                                                       "priority": "2"})
    assert request_id > 0


@pytest.mark.parametrize("protocol, expected", [
    ("xmlrpc", "fault1"), ("jsonrpc", "builtins.ValueError"), ("json2", "422 builtins.ValueError")])
def test_unknown_field_is_a_value_error(standin19, protocol, expected):
    client = RawClient(protocol, standin19.url)
    with pytest.raises((xmlrpc.client.Fault, odoorpc.error.RPCError, Json2Error)) as info:
        client.create("stock.scrap", {"product_id": 1, "scrap_qty": 1, "bogus": 1})
    assert error_name(info.value) == expected
    assert "Invalid field 'bogus' on model 'stock.scrap'" in error_text(info.value)


@pytest.mark.parametrize("protocol, expected", [
    ("xmlrpc", "fault2"), ("jsonrpc", "odoo.exceptions.ValidationError"),
    ("json2", "422 odoo.exceptions.ValidationError")])
def test_missing_required_field(standin19, protocol, expected):
    client = RawClient(protocol, standin19.url)
    with pytest.raises((xmlrpc.client.Fault, odoorpc.error.RPCError, Json2Error)) as info:
        client.create("maintenance.request", {"description": "no name"})
    assert error_name(info.value) == expected
    assert "a mandatory field is not set" in error_text(info.value)
    assert "Field: Subjects (name)" in error_text(info.value)


def test_json2_only_on_odoo_19(standin17):
    with pytest.raises(Json2Error) as info:
        json2(standin17.url, "mrp.workcenter", "search", {"domain": []})
    assert info.value.status == 404


def test_json2_named_arguments_only(standin19):
    with pytest.raises(Json2Error) as info:
        json2(standin19.url, "mrp.workcenter", "search_read", {"domain": [], "bogus_arg": 1})
    assert info.value.status == 422
    with pytest.raises(Json2Error) as info:
        json2(standin19.url, "no.such.model", "search", {"domain": []})
    assert info.value.status == 404


@pytest.mark.parametrize("version", ["17", "19"])
def test_version_reporting(standin17, standin19, version):
    handle = standin17 if version == "17" else standin19
    info = xmlrpc.client.ServerProxy(f"{handle.url}/xmlrpc/2/common").version()
    assert info["server_version"] == f"{version}.0"
    assert info["server_version_info"][:2] == [int(version), 0]
    assert odoorpc.ODOO("127.0.0.1", port=handle.port).version == f"{version}.0"
