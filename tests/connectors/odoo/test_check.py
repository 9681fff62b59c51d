"""`andon odoo check`: what the site needs from Odoo and does not find, each with its fix; exit 1 until fixed."""

from __future__ import annotations

import pytest

from andon.config import OdooSettings, example_site_path
from andon.connectors.odoo import OdooClient
from andon.connectors.odoo.check import main
from andon.connectors.standin import run_standin
from andon.connectors.standin.testing import INTEGRATION_PASSWORD

pytestmark = pytest.mark.odoo


@pytest.fixture
def odoo17(tmp_path, monkeypatch):
    with run_standin(tmp_path / "odoo", odoo_version="17", mode="thread") as handle:
        monkeypatch.setenv("ANDON_ODOO_URL", handle.url)
        monkeypatch.setenv("ANDON_ODOO_TRANSPORT", "xmlrpc")
        monkeypatch.setenv("ANDON_ODOO_PASSWORD", INTEGRATION_PASSWORD)
        yield handle


def _admin(handle) -> OdooClient:
    return OdooClient(OdooSettings(url=handle.url, username="admin", password="admin", transport="xmlrpc"),
                      rate_limit=False)


def test_check_reports_each_problem_with_its_fix_until_fixed(odoo17, capsys):
    config = str(example_site_path())
    assert main(["check", "--config", config]) == 0
    assert "ok: Odoo has what site" in capsys.readouterr().out

    admin = _admin(odoo17)
    loss = admin.search("mrp.workcenter.productivity.loss", [("name", "=", "Machine Offline")])
    admin.write("mrp.workcenter.productivity.loss", loss, {"name": "Offline (old)"})
    equipment = admin.search("maintenance.equipment", [("name", "=", "EQ-PRESS-01")])
    admin.write("maintenance.equipment", equipment, {"active": False})
    product = admin.search("product.product", [("default_code", "=", "MC-300")])
    lots = admin.search("stock.lot", [("product_id", "in", product)])
    admin.unlink("stock.lot", lots)

    assert main(["check", "--config", config]) == 1
    out = capsys.readouterr().out
    assert "PROBLEM loss reason 'Machine Offline'" in out and "Productive Losses" not in out
    assert "create it (category Availability) in Manufacturing > Configuration > Productivity Losses" in out
    assert "PROBLEM machine press-01: no maintenance.equipment named 'EQ-PRESS-01'" in out
    assert "Maintenance / Equipment Manager" in out
    molders = [line for line in out.splitlines() if "[MC-300] Molded Cap is tracked by lot but has no lot" in line]
    assert len(molders) == 8  # the eight molding machines make it
    assert "Inventory > Products > Lots/Serial Numbers" in out

    admin.write("mrp.workcenter.productivity.loss", loss, {"name": "Machine Offline"})
    admin.write("maintenance.equipment", equipment, {"active": True})
    lot = admin.create("stock.lot", {"name": "LOT-MC-300-0100", "product_id": product[0]})
    orders = admin.search("mrp.production", [("product_id", "in", product)])
    admin.write("mrp.production", orders, {"lot_producing_id": lot})
    assert main(["check", "--config", config]) == 0
    admin.close()


def test_check_names_missing_rights_and_refuses_a_wrong_login(tmp_path, monkeypatch, capsys):
    with run_standin(tmp_path / "odoo", odoo_version="19", mode="thread",
                     integration_groups=["stock.group_stock_user"]) as handle:
        monkeypatch.setenv("ANDON_ODOO_URL", handle.url)
        monkeypatch.setenv("ANDON_ODOO_TRANSPORT", "jsonrpc")
        monkeypatch.setenv("ANDON_ODOO_PASSWORD", INTEGRATION_PASSWORD)
        assert main(["check", "--config", str(example_site_path())]) == 1
        out = capsys.readouterr().out
        assert "ERROR   rights on mrp.workorder: the integration user may not read mrp.workorder" in out
        assert "add the user to the group Manufacturing / User" in out
        monkeypatch.setenv("ANDON_ODOO_PASSWORD", "wrong")
        assert main(["check", "--config", str(example_site_path())]) == 1
        assert "ERROR   login 'andon-integration': Odoo refused the login" in capsys.readouterr().out
