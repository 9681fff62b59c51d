"""Declarative table of the Odoo models the stand-in serves: real model and field names, types, required flags,
relations and selections, per Odoo version.

Behaviour that is not a plain stored column (computed fields, button methods) lives in `hooks.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

VERSIONS = ("16", "17", "18", "19")
#: Community is Odoo's open edition; Enterprise adds the modules andon uses where they exist (mrp_maintenance's
#: equipment/work order links, the Quality app).
EDITIONS = ("community", "enterprise")


@dataclass(frozen=True)
class Field:
    """One field: `type` is Odoo's (char, text, html, integer, float, boolean, date, datetime, selection,
    many2one, one2many); `default` is a value or a callable `(env) -> value`."""

    type: str
    string: str = ""
    required: bool = False
    relation: str | None = None
    inverse: str | None = None
    selection: tuple[tuple[str, str], ...] = ()
    readonly: bool = False
    default: Any = None
    computed: bool = False
    translate: bool = False

    def label(self, name: str) -> str:
        base = name[:-3] if name.endswith("_id") else name[:-4] if name.endswith("_ids") else name
        return self.string or base.replace("_", " ").title()

    def describe(self, name: str) -> dict[str, Any]:
        """This field as `fields_get` reports it."""
        out: dict[str, Any] = {
            "type": self.type,
            "string": self.label(name),
            "required": self.required,
            "readonly": self.readonly or self.computed,
            "store": not (self.computed and self.type in ("selection", "float") and name in _NON_STORED),
            "searchable": True,
            "sortable": True,
        }
        if self.relation:
            out["relation"] = self.relation
        if self.inverse:
            out["relation_field"] = self.inverse
        if self.type == "selection":
            out["selection"] = [list(pair) for pair in self.selection]
        return out


_NON_STORED = {"working_state", "oee", "qty_remaining"}


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    fields: dict[str, Field]
    order: str = "id"
    rec_name: str = "name"
    sequence_prefix: str | None = field(default=None)


def now_str() -> str:
    """Odoo's datetime wire format: naive UTC 'YYYY-MM-DD HH:MM:SS'."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


def today_str() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d")


def _first(model: str, domain: list | None = None):
    def default(env) -> int | bool:
        ids = env.search(model, domain or [], limit=1)
        return ids[0] if ids else False

    return default


LOSS_TYPES = (("availability", "Availability"), ("performance", "Performance"), ("quality", "Quality"),
              ("productive", "Productive"))
PRODUCTION_STATES = (("draft", "Draft"), ("confirmed", "Confirmed"), ("progress", "In Progress"),
                     ("to_close", "To Close"), ("done", "Done"), ("cancel", "Cancelled"))


def workorder_states(version: str) -> tuple[tuple[str, str], ...]:
    if int(version) >= 19:
        return (("blocked", "Blocked"), ("ready", "Ready"), ("progress", "In Progress"), ("done", "Finished"),
                ("cancel", "Cancelled"))
    return (("pending", "Waiting for another WO"), ("waiting", "Waiting for components"), ("ready", "Ready"),
            ("progress", "In Progress"), ("done", "Finished"), ("cancel", "Cancelled"))


def product_types(version: str) -> tuple[tuple[str, str], ...]:
    if int(version) >= 18:
        return (("consu", "Goods"), ("service", "Service"), ("combo", "Combo"))
    return (("consu", "Consumable"), ("service", "Service"), ("product", "Storable Product"))


def _uid(env) -> int:
    return env.uid


def build_models(version: str, edition: str = "community") -> dict[str, ModelSpec]:
    """Every model the stand-in serves, for one Odoo major version ('16' to '19') and edition: Enterprise adds
    the fields of mrp_maintenance (equipment and request links to work centers and orders) and quality.alert."""
    if edition not in EDITIONS:
        raise ValueError(f"edition must be one of {EDITIONS}, not {edition!r}")
    v = int(version)
    enterprise = edition == "enterprise"
    m2o = lambda rel, req=False, **kw: Field("many2one", relation=rel, required=req, **kw)  # noqa: E731
    specs = [
        ModelSpec("res.partner", "Contact", {"name": Field("char", required=True),
                                             "active": Field("boolean", default=True)}),
        ModelSpec("res.groups", "Access Groups", {"name": Field("char", required=True),
                                                  "full_name": Field("char")}, rec_name="full_name"),
        ModelSpec("res.users", "User", {
            "name": Field("char", required=True), "login": Field("char", required=True),
            "active": Field("boolean", default=True), "tz": Field("char", default="UTC"),
            "lang": Field("char", default="en_US"), "partner_id": m2o("res.partner"),
            "groups_id" if v <= 18 else "group_ids": Field("many2many", relation="res.groups")}),
        ModelSpec("ir.model", "Models", {"model": Field("char", required=True), "name": Field("char")},
                  rec_name="name"),
        ModelSpec("ir.model.data", "Model Data", {
            "name": Field("char", required=True), "module": Field("char", required=True),
            "model": Field("char", required=True), "res_id": Field("integer")}),
        ModelSpec("uom.uom", "Product Unit of Measure", {
            "name": Field("char", required=True), "rounding": Field("float", default=0.01),
            "active": Field("boolean", default=True)}),
        ModelSpec("product.product", "Product", {
            "name": Field("char", required=True), "default_code": Field("char"),
            "type": Field("selection", selection=product_types(version), default="consu"),
            **({"is_storable": Field("boolean", default=False)} if v >= 18 else {}),
            "uom_id": m2o("uom.uom", default=_first("uom.uom")),
            "tracking": Field("selection", selection=(("serial", "By Unique Serial Number"), ("lot", "By Lots"),
                                                      ("none", "By Quantity")), default="none"),
            "qty_available": Field("float", default=0.0, readonly=True),
            "active": Field("boolean", default=True)}, rec_name="name"),
        ModelSpec("stock.location", "Inventory Locations", {
            "name": Field("char", required=True), "complete_name": Field("char"),
            "usage": Field("selection", required=True, default="internal", selection=(
                ("supplier", "Vendor Location"), ("view", "View"), ("internal", "Internal Location"),
                ("customer", "Customer Location"), ("inventory", "Inventory Loss"),
                ("production", "Production"), ("transit", "Transit Location"))),
            # 19 dropped the flag: the scrap location is the one with usage 'inventory' (stock_location.py)
            **({"scrap_location": Field("boolean", default=False)} if v < 19 else {}),
            "active": Field("boolean", default=True)}),
        ModelSpec("stock.lot", "Lot/Serial", {
            "name": Field("char", required=True), "product_id": m2o("product.product", True),
            "ref": Field("char"), "note": Field("html")}),
        ModelSpec("mrp.workcenter", "Work Center", {
            "name": Field("char", required=True), "code": Field("char"), "active": Field("boolean", default=True),
            "working_state": Field("selection", computed=True, selection=(
                ("normal", "Normal"), ("blocked", "Blocked"), ("done", "In Progress"))),
            "oee": Field("float", computed=True, string="Overall Equipment Effectiveness"),
            "oee_target": Field("float", default=90.0), "time_efficiency": Field("float", default=100.0),
            "default_capacity": Field("float", default=1.0),
            "time_ids": Field("one2many", relation="mrp.workcenter.productivity", inverse="workcenter_id"),
            "order_ids": Field("one2many", relation="mrp.workorder", inverse="workcenter_id")}),
        ModelSpec("mrp.workcenter.productivity.loss", "Workcenter Productivity Losses", {
            "name": Field("char", required=True, string="Blocking Reason", translate=True),
            "sequence": Field("integer", default=1), "manual": Field("boolean", default=True),
            "loss_type": Field("selection", required=True, selection=LOSS_TYPES, default="availability")},
            order="sequence, id"),
        ModelSpec("mrp.workcenter.productivity", "Workcenter Productivity Log", {
            "workcenter_id": m2o("mrp.workcenter", True), "workorder_id": m2o("mrp.workorder"),
            "production_id": m2o("mrp.production", readonly=True),
            "user_id": m2o("res.users", default=_uid), "loss_id": m2o("mrp.workcenter.productivity.loss", True),
            "loss_type": Field("selection", selection=LOSS_TYPES, readonly=True),
            "description": Field("text"), "date_start": Field("datetime", required=True, default=lambda env: now_str()),
            "date_end": Field("datetime"), "duration": Field("float", readonly=True, default=0.0)},
            order="id desc", rec_name="loss_id"),
        ModelSpec("mrp.production", "Manufacturing Order", {
            "name": Field("char", required=True, default=lambda env: env.next_sequence("mrp.production", "WH/MO/")),
            "product_id": m2o("product.product", True), "product_qty": Field("float", required=True, default=1.0),
            "product_uom_id": m2o("uom.uom"), "qty_producing": Field("float", default=0.0),
            "qty_produced": Field("float", readonly=True, default=0.0),
            "state": Field("selection", selection=PRODUCTION_STATES, default="draft"), "origin": Field("char"),
            "date_start": Field("datetime", default=lambda env: now_str()), "date_finished": Field("datetime"),
            **({"lot_producing_ids": Field("many2many", relation="stock.lot")} if v >= 19
               else {"lot_producing_id": m2o("stock.lot")}),
            "workorder_ids": Field("one2many", relation="mrp.workorder", inverse="production_id")},
            order="id desc"),
        ModelSpec("mrp.workorder", "Work Order", {
            "name": Field("char", required=True), "workcenter_id": m2o("mrp.workcenter", True),
            "production_id": m2o("mrp.production", True), "product_id": m2o("product.product", readonly=True),
            "state": Field("selection", selection=workorder_states(version), default="ready" if v >= 19 else "pending"),
            "qty_production": Field("float", readonly=True, default=0.0),
            "qty_producing": Field("float", default=0.0), "qty_produced": Field("float", default=0.0),
            "qty_remaining": Field("float", computed=True), "is_user_working": Field("boolean", readonly=True),
            "date_start": Field("datetime"), "date_finished": Field("datetime"),
            "duration_expected": Field("float", default=60.0), "duration": Field("float", readonly=True),
            "time_ids": Field("one2many", relation="mrp.workcenter.productivity", inverse="workorder_id")},
            order="id"),
        ModelSpec("stock.scrap", "Scrap", {
            "name": Field("char", required=True, default=lambda env: env.next_sequence("stock.scrap", "SP/")),
            "product_id": m2o("product.product", True), "product_uom_id": m2o("uom.uom", True),
            "lot_id": m2o("stock.lot"),
            "location_id": m2o("stock.location", True, default=_first(
                "stock.location", [("usage", "=", "internal")])),
            "scrap_location_id": m2o("stock.location", True, default=_first(
                "stock.location", [("scrap_location", "=", True)] if v < 19 else [("usage", "=", "inventory")])),
            "scrap_qty": Field("float", required=True, default=1.0), "origin": Field("char"),
            "production_id": m2o("mrp.production"), "workorder_id": m2o("mrp.workorder"),
            "state": Field("selection", selection=(("draft", "Draft"), ("done", "Done")), default="draft"),
            # 18+ stock_scrap.py: scrap_reason_tag_ids Many2many('stock.scrap.reason.tag'); 17 has neither
            **({"scrap_reason_tag_ids": Field("many2many", relation="stock.scrap.reason.tag",
                                              string="Scrap Reason")} if v >= 18 else {}),
            "date_done": Field("datetime")}, order="id desc"),
        *([ModelSpec("stock.scrap.reason.tag", "Scrap Reason Tag", {
            "name": Field("char", required=True, string="Name", translate=True),
            "sequence": Field("integer", default=10), "color": Field("char", default="#3C3C3C")},
            order="sequence, id")] if v >= 18 else []),
        ModelSpec("maintenance.team", "Maintenance Teams", {
            "name": Field("char", required=True), "active": Field("boolean", default=True)}),
        ModelSpec("maintenance.stage", "Maintenance Stage", {
            "name": Field("char", required=True), "sequence": Field("integer", default=20),
            "done": Field("boolean", default=False)}, order="sequence, id"),
        ModelSpec("maintenance.equipment", "Maintenance Equipment", {
            "name": Field("char", required=True), "serial_no": Field("char"),
            "maintenance_team_id": m2o("maintenance.team"),
            **({"workcenter_id": m2o("mrp.workcenter")} if enterprise else {}),  # mrp_maintenance (Enterprise)
            "message_partner_ids": Field("many2many", relation="res.partner", string="Followers (Partners)"),
            "note": Field("html"), "active": Field("boolean", default=True)}),
        ModelSpec("maintenance.request", "Maintenance Request", {
            "name": Field("char", required=True, string="Subjects"), "equipment_id": m2o("maintenance.equipment"),
            "maintenance_type": Field("selection", default="corrective", selection=(
                ("corrective", "Corrective"), ("preventive", "Preventive"))),
            "priority": Field("selection", default="0", selection=(
                ("0", "Very Low"), ("1", "Low"), ("2", "Normal"), ("3", "High"))),
            "maintenance_team_id": m2o("maintenance.team", True, default=_first("maintenance.team")),
            "stage_id": m2o("maintenance.stage", default=_first("maintenance.stage")),
            "request_date": Field("date", default=lambda env: today_str()), "schedule_date": Field("datetime"),
            "close_date": Field("date"), "description": Field("html"),
            "user_id": m2o("res.users", string="Technician"),
            "owner_user_id": m2o("res.users", default=_uid, string="Created by User"),
            "message_partner_ids": Field("many2many", relation="res.partner", string="Followers (Partners)"),
            **({"production_id": m2o("mrp.production"), "workorder_id": m2o("mrp.workorder")}
               if enterprise else {}),  # mrp_maintenance (Enterprise)
            "kanban_state": Field("selection", default="normal", selection=(
                ("normal", "In Progress"), ("blocked", "Blocked"), ("done", "Ready for next stage")))},
            order="id desc"),
    ]
    if enterprise:  # Quality app (Enterprise): the fields andon writes, named as in Odoo's quality_control
        specs.append(ModelSpec("quality.alert", "Quality Alert", {
            "name": Field("char", default="New", string="Reference"), "title": Field("char"),
            "description": Field("html"), "workcenter_id": m2o("mrp.workcenter"),
            "workorder_id": m2o("mrp.workorder"), "production_id": m2o("mrp.production"),
            "product_id": m2o("product.product"), "lot_id": m2o("stock.lot"),
            "priority": Field("selection", default="0", selection=(
                ("0", "Normal"), ("1", "Low"), ("2", "High"), ("3", "Very High")))},
            order="id desc"))
    common = {"display_name": Field("char", computed=True), "create_date": Field("datetime", readonly=True),
              "write_date": Field("datetime", readonly=True)}
    return {spec.name: ModelSpec(spec.name, spec.description, {**spec.fields, **common}, spec.order,
                                 spec.rec_name) for spec in specs}
