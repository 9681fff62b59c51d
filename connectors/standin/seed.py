"""Seed data for one plant: what an Odoo database set up for andon holds before the first event arrives.

Per machine of the site config: a work center (code = the machine's work_center), equipment (name = the machine's
equipment), a product, one manufacturing order and one ready work order; plus the loss reasons, a maintenance team
and stages, stock and scrap locations, a few lots, the admin and the integration user, and external ids.
"""

from __future__ import annotations

from typing import Any

from andon.config import SiteConfig
from andon.connectors.standin import hooks
from andon.connectors.standin.orm import Env
from andon.connectors.standin.service import ADMIN_LOGIN, INTEGRATION_LOGIN, Registry

#: Odoo's own loss reasons (mrp/data/mrp_data.xml) plus the two andon adds for stops without a known reason.
LOSS_REASONS = (
    ("Material Availability", "availability", "mrp.block_reason0"),
    ("Equipment Failure", "availability", "mrp.block_reason1"),
    ("Setup and Adjustments", "availability", "mrp.block_reason2"),
    ("Reduced Speed", "performance", "mrp.block_reason4"),
    ("Process Defect", "quality", "mrp.block_reason5"),
    ("Reduced Yield", "quality", "mrp.block_reason6"),
    ("Fully Productive Time", "productive", "mrp.block_reason7"),
    ("Unspecified Stop", "availability", "andon.loss_unspecified_stop"),
    ("Machine Offline", "availability", "andon.loss_machine_offline"),
)

CLASS_PRODUCTS = {"press": ("Pressed Bracket", "PB-100"), "cnc": ("Machined Housing", "MH-200"),
                  "molding": ("Molded Cap", "MC-300")}
SEEDED_KEY = "seeded"


def _xmlid(env: Env, xml_id: str, model: str, res_id: int) -> None:
    module, name = xml_id.split(".", 1)
    env.create("ir.model.data", {"module": module, "name": name, "model": model, "res_id": res_id})


def seed(registry: Registry, site: SiteConfig, *, integration_lang: str = "en_US") -> bool:
    """Fill an empty database for `site`; does nothing (returns False) when it was seeded before."""
    with registry.store.lock:
        tx = registry.store.begin()
        if tx.meta(SEEDED_KEY):
            return False
        env = Env(tx, registry.models, 1, registry.version, hooks=hooks)
        _seed(env, site, integration_lang)
        tx.set_meta(SEEDED_KEY, site.site.id)
        tx.commit()
        return True


def _seed(env: Env, site: SiteConfig, integration_lang: str = "en_US") -> None:
    def user(name: str, login: str, **vals: Any) -> int:
        partner = env.create("res.partner", {"name": name})
        return env.create("res.users", {"name": name, "login": login, "partner_id": partner, **vals})

    user("OdooBot", "__system__", active=False)
    admin = user("Administrator", ADMIN_LOGIN, tz=site.site.timezone)
    integration = user("andon integration", INTEGRATION_LOGIN, tz="UTC", lang=integration_lang)
    from andon.connectors.standin.security import GROUPS

    for xml_id, (label, _, _) in GROUPS.items():
        _xmlid(env, xml_id, "res.groups", env.create("res.groups", {"name": label.split(" / ")[-1],
                                                                    "full_name": label}))
    _xmlid(env, "base.user_admin", "res.users", admin)
    _xmlid(env, "andon.user_integration", "res.users", integration)
    for name, spec in env.models.items():
        env.create("ir.model", {"model": name, "name": spec.description})

    units = env.create("uom.uom", {"name": "Units", "rounding": 1.0})
    _xmlid(env, "uom.product_uom_unit", "uom.uom", units)
    stock = env.create("stock.location", {"name": "Stock", "complete_name": "WH/Stock", "usage": "internal"})
    # stock_data.xml `stock_location_scrapped`: usage inventory; <= 18 also flagged scrap_location
    flag = {"scrap_location": True} if "scrap_location" in env.models["stock.location"].fields else {}
    scrap = env.create("stock.location", {"name": "Scrap", "complete_name": "Virtual Locations/Scrap",
                                          "usage": "inventory", **flag})
    production_loc = env.create("stock.location", {"name": "Production", "usage": "production",
                                                   "complete_name": "Virtual Locations/Production"})
    _xmlid(env, "stock.stock_location_stock", "stock.location", stock)
    _xmlid(env, "stock.stock_location_scrapped", "stock.location", scrap)
    _xmlid(env, "stock.location_production", "stock.location", production_loc)

    for name, loss_type, xml_id in LOSS_REASONS:
        loss = env.create("mrp.workcenter.productivity.loss", {"name": name, "loss_type": loss_type,
                                                               "manual": loss_type != "productive"})
        _xmlid(env, xml_id, "mrp.workcenter.productivity.loss", loss)

    team = env.create("maintenance.team", {"name": "Plant Maintenance"})
    _xmlid(env, "maintenance.equipment_team_maintenance", "maintenance.team", team)
    for sequence, (name, done) in enumerate((("New Request", False), ("In Progress", False),
                                             ("Repaired", True), ("Scrap", True))):
        env.create("maintenance.stage", {"name": name, "sequence": sequence, "done": done})

    products: dict[str, int] = {}
    lots: dict[int, int] = {}  # product -> the lot its orders produce
    storable = {"is_storable": True} if int(env.version) >= 18 else {"type": "product"}
    for cls in sorted({m.machine_class for m in site.machines}):
        label, code = CLASS_PRODUCTS.get(cls, (f"{cls.title()} Part", f"{cls[:3].upper()}-900"))
        products[cls] = env.create("product.product", {"name": label, "default_code": code, "uom_id": units,
                                                       "tracking": "lot", **storable})
        env.tx.put("product.product", products[cls], {**env.tx.get("product.product", products[cls]),
                                                      "qty_available": 10_000.0})
        for n in (1, 2):
            lot = env.create("stock.lot", {"name": f"LOT-{code}-{n:04d}", "product_id": products[cls]})
            lots.setdefault(products[cls], lot)

    for n, machine in enumerate(site.machines):
        # <= 18: every fourth order waits for components (not reserved), as Odoo's `_compute_state` sets it
        state = "waiting" if int(env.version) <= 18 and n % 4 == 3 else "ready"
        product = products[machine.machine_class]
        _seed_machine(env, machine, product, units, team, state, lots[product])


def _seed_machine(env: Env, machine: Any, product: int, uom: int, team: int, state: str, lot: int) -> None:
    center = env.create("mrp.workcenter", {"name": f"{machine.work_center} ({machine.id})",
                                           "code": machine.work_center})
    if machine.equipment:
        link = {"workcenter_id": center} if "workcenter_id" in env.models["maintenance.equipment"].fields else {}
        env.create("maintenance.equipment", {"name": machine.equipment, "serial_no": f"SN-{machine.id}",
                                             "maintenance_team_id": team, **link})
    # a lot-tracked product's order names the lot it produces (Odoo needs it to finish; 17 to scrap)
    lot_field = {"lot_producing_ids": [(6, 0, [lot])]} if "lot_producing_ids" in env.models["mrp.production"].fields \
        else {"lot_producing_id": lot}
    production = env.create("mrp.production", {"product_id": product, "product_qty": 1000.0,
                                                "product_uom_id": uom, "state": "confirmed",
                                                "origin": f"andon seed {machine.id}", **lot_field})
    mo_name = env.tx.get("mrp.production", production)["name"]
    env.create("mrp.workorder", {"name": f"{mo_name} - Run on {machine.work_center}", "workcenter_id": center,
                                 "production_id": production, "state": state,
                                 "duration_expected": machine.ideal_cycle_time_s * 1000.0 / 60.0})
