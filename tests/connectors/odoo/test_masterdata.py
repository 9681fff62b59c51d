"""MasterData against the stand-in of each version and edition: it reads what the database has (probed once),
finds the scrap location per version, reads loss names in English whatever the user's language, counts waiting
orders as active, and finds an order's producing lot."""

from __future__ import annotations

import pytest

from andon.config import OdooSettings
from andon.connectors.odoo import OdooClient
from andon.connectors.odoo.masterdata import MasterData
from andon.connectors.odoo.transports import returned_none
from andon.connectors.standin import run_standin
from andon.connectors.standin.testing import INTEGRATION_PASSWORD

pytestmark = pytest.mark.odoo


def client_for(url: str, login: str = "andon-integration", password: str = INTEGRATION_PASSWORD,
               transport: str = "xmlrpc") -> OdooClient:
    return OdooClient(OdooSettings(url=url, username=login, password=password, transport=transport,
                                   rate_limit_per_s=10_000), rate_limit=False)


@pytest.mark.parametrize("version, edition", [("17", "community"), ("17", "enterprise"), ("18", "community"),
                                              ("19", "community"), ("19", "enterprise")])
def test_master_data_loads_on_every_version_and_edition(tmp_path, version, edition):
    with run_standin(tmp_path, odoo_version=version, edition=edition, mode="thread") as odoo:
        client = client_for(odoo.url)
        md = MasterData(client)
        md.load()
        schema, d = md.schema, md.data
        assert schema.major == int(version)
        assert schema.equipment_center_link == schema.request_order_links == (edition == "enterprise")
        assert d.has_quality_alert == (edition == "enterprise")
        assert len(d.centers) == 24 and len(d.equipment) == 24 and d.team
        assert bool(d.equipment_by_center) == (edition == "enterprise")
        scrap = client.read("stock.location", [d.scrap_location], ["complete_name", "usage"])[0]
        assert scrap == {"id": d.scrap_location, "complete_name": "Virtual Locations/Scrap", "usage": "inventory"}
        assert d.production_lot_field == ("lot_producing_ids" if version == "19" else "lot_producing_id")
        center = d.centers["WC-PRESS-04"]["id"]
        wo = md.active_work_order(center)
        assert wo is not None and wo.state == ("ready" if version == "19" else "waiting")
        assert md.producing_lot(wo.production_id) is not None and md.tracking(wo.product_id) == "lot"
        client.close()


def test_loss_names_are_read_in_english(tmp_path):
    with run_standin(tmp_path, odoo_version="17", mode="thread", integration_lang="de_DE") as odoo:
        admin = client_for(odoo.url, "admin", "admin")
        loss = admin.search("mrp.workcenter.productivity.loss", [("name", "=", "Equipment Failure")])
        admin.execute_kw("mrp.workcenter.productivity.loss", "write", [loss, {"name": "Anlagenausfall"}],
                         {"context": {"lang": "de_DE"}})
        client = client_for(odoo.url)
        assert client.read("mrp.workcenter.productivity.loss", loss, ["name"])[0]["name"] == "Anlagenausfall"
        md = MasterData(client)
        assert md.loss("Equipment Failure") == {"id": loss[0], "loss_type": "availability"}


def test_only_known_none_methods_turn_the_marshal_fault_into_success():
    text = "Traceback ...\nTypeError: cannot marshal None unless allow_none is enabled\n"
    assert returned_none("button_start", 1, text) and returned_none("button_pending", 1, text)
    assert not returned_none("create", 1, text)  # a real failure of another method stays an error
    assert not returned_none("button_start", 2, "You cannot start a work order that is already done")
