"""Cached Odoo master data for the sync: work centers by code, their open work orders, loss reasons, equipment,
locations, lots, and the operation watermarks andon left in Odoo. Refreshed on a schedule and on a miss.

    md = MasterData(client, refresh_s=300)
    md.work_center("WC-PRESS-01")          # {"id": 1, "code": "WC-PRESS-01", ...} or None after a refresh
    md.active_work_order(center_id)        # the order in progress, else the oldest ready one, or None
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from andon.connectors.odoo.errors import OdooError

#: Work order states a machine can be working on, best first: in progress, ready, and (16-18) waiting for
#: components, which Odoo's button_start accepts too. `pending`/`blocked` wait for another operation: not active.
ACTIVE_STATES = ("progress", "ready", "waiting")
#: Models whose presence decides what andon writes (Enterprise apps, optional community modules).
PROBED_MODELS = ("quality.alert", "maintenance.equipment", "maintenance.request", "stock.lot",
                 "stock.scrap.reason.tag")
#: Fields andon writes only where the database has them: model -> fields (mrp_maintenance is Enterprise).
PROBED_FIELDS = {"maintenance.equipment": ("workcenter_id",), "maintenance.request": ("workorder_id", "production_id"),
                 "stock.location": ("scrap_location",), "mrp.production": ("lot_producing_id", "lot_producing_ids"),
                 "quality.alert": ("workcenter_id", "workorder_id", "production_id", "title"),
                 "product.product": ("tracking",), "stock.scrap": ("scrap_reason_tag_ids",)}
#: Losses are read in Odoo's source language: their names are translatable (mrp_workcenter.py `name`,
#: translate=True) and andon's reason names are the English ones.
SOURCE_LANG = {"lang": "en_US"}
#: `[andon:<event id>] <kind> @<event time>` written into descriptions/origins: the Odoo-side idempotency key.
MARKER = re.compile(r"\[andon:([0-9a-fA-F-]{36})\](?: ([a-z_ .]+?))?(?: @(\S+))?(?:\s|$)")


def marker(event_id: str, kind: str = "", at: str = "") -> str:
    return f"[andon:{event_id}]" + (f" {kind}" if kind else "") + (f" @{at}" if at else "")


def m2o(value: Any) -> int | None:
    """The id of a many2one value as search_read returns it ([id, name], id or False)."""
    if isinstance(value, list | tuple):
        return int(value[0]) if value else None
    return int(value) if value else None


@dataclass
class WorkOrder:
    id: int
    workcenter_id: int
    state: str
    qty_producing: float
    production_id: int | None
    product_id: int | None
    name: str = ""
    production: str = ""  # the manufacturing order's name (e.g. WH/MO/00012)


@dataclass
class Schema:
    """What this database has, probed once per process: Odoo's major version, installed models, and the fields
    andon writes only where they exist (fields_get / ir.model)."""

    major: int = 17
    models: frozenset[str] = frozenset()
    fields: dict[str, frozenset[str]] = field(default_factory=dict)

    def has(self, model: str, name: str | None = None) -> bool:
        if name is None:
            return model in self.models or model not in PROBED_MODELS
        return name in self.fields.get(model, frozenset())

    @property
    def equipment_center_link(self) -> bool:
        return self.has("maintenance.equipment", "workcenter_id")

    @property
    def request_order_links(self) -> bool:
        return self.has("maintenance.request", "workorder_id") and self.has("maintenance.request", "production_id")

    @property
    def lotless_tracked_scrap_refused(self) -> bool:
        """<= 17 (and 18.0 before its fix) stock.move.line `_action_done` refuses a tracked scrap without a lot."""
        return self.major <= 17

    @classmethod
    def probe(cls, client) -> Schema:
        version = client.version()
        info = version.get("server_version_info") or [0]
        major = int(info[0]) if info and isinstance(info[0], int) else int(
            str(version.get("server_version", "0")).split(".")[0].split("~")[-1].removeprefix("saas") or 0)
        rows = client.search_read("ir.model", [("model", "in", list(PROBED_MODELS))], ["model"])
        models = frozenset(r["model"] for r in rows)
        fields: dict[str, frozenset[str]] = {}
        for model, names in PROBED_FIELDS.items():
            if model in PROBED_MODELS and model not in models:
                continue
            got = client.fields_get(model, ["type"])
            fields[model] = frozenset(n for n in names if n in got)
        return cls(major, models, fields)


@dataclass
class _Snapshot:
    centers: dict[str, dict] = field(default_factory=dict)  # code -> {id, code, name}
    orders: dict[int, list[WorkOrder]] = field(default_factory=dict)  # center id -> open orders by id
    last_product: dict[int, int] = field(default_factory=dict)  # center id -> product of its newest order
    last_production: dict[int, int | None] = field(default_factory=dict)  # center id -> MO of its newest order
    losses: dict[str, dict] = field(default_factory=dict)  # name -> {id, loss_type}
    equipment: dict[str, dict] = field(default_factory=dict)  # name -> {id, workcenter_id, team}
    equipment_by_center: dict[int, dict] = field(default_factory=dict)
    team: int | None = None
    stock_location: int | None = None
    scrap_location: int | None = None
    tracking: dict[int, str] = field(default_factory=dict)  # product id -> tracking (none, lot, serial)
    finished_at: dict[int, str] = field(default_factory=dict)  # center id -> newest operation.finished time
    has_quality_alert: bool = False
    production_lot_field: str | None = None
    #: stock.scrap.reason.tag (18+) by casefolded English name -> id; empty where the database has none
    scrap_reasons: dict[str, int] = field(default_factory=dict)


class MasterData:
    """Reads master data with few calls and keeps it for `refresh_s`; `refresh()` on a miss at most every
    `min_refresh_s` so a burst of events for an unknown work center costs one reload, not one per event."""

    def __init__(self, client, *, refresh_s: float = 300.0, min_refresh_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client, self.refresh_s, self.min_refresh_s, self._clock = client, refresh_s, min_refresh_s, clock
        self._data: _Snapshot | None = None
        self._loaded_at = float("-inf")
        self._lots: dict[str, dict | None] = {}
        self._schema: Schema | None = None
        self.loads = 0

    @property
    def schema(self) -> Schema:
        """The database's capabilities, probed on first use and kept (a module install needs a restart)."""
        if self._schema is None:
            self._schema = Schema.probe(self.client)
        return self._schema

    # -- loading -----------------------------------------------------------------------------------------
    def ensure(self) -> None:
        if self._data is None or self._clock() - self._loaded_at >= self.refresh_s:
            self.load()

    def refresh(self) -> bool:
        """Reload after a miss unless a load happened within `min_refresh_s`; True when it reloaded."""
        if self._clock() - self._loaded_at < self.min_refresh_s:
            return False
        self.load()
        return True

    def load(self) -> None:
        c = self.client
        d = _Snapshot()
        for wc in c.search_read("mrp.workcenter", [], ["id", "code", "name"]):
            if wc.get("code"):
                d.centers[wc["code"]] = {"id": wc["id"], "code": wc["code"], "name": wc["name"]}
        orders = c.search_read("mrp.workorder", [("state", "in", list(ACTIVE_STATES))],
                               ["id", "workcenter_id", "state", "qty_producing", "production_id", "product_id",
                                "name"], order="id")
        for o in orders:
            self._put_order(d, o)
        for loss in c.search_read("mrp.workcenter.productivity.loss", [], ["id", "name", "loss_type"],
                                  context=SOURCE_LANG):
            d.losses.setdefault(loss["name"], {"id": loss["id"], "loss_type": loss["loss_type"]})
        schema = self.schema
        if schema.has("maintenance.equipment"):
            fields = ["id", "name", "maintenance_team_id"] + (["workcenter_id"] if schema.equipment_center_link else [])
            for eq in c.search_read("maintenance.equipment", [], fields):
                entry = {"id": eq["id"], "workcenter_id": m2o(eq.get("workcenter_id")),
                         "team": m2o(eq.get("maintenance_team_id"))}
                d.equipment[eq["name"]] = entry
                if entry["workcenter_id"]:
                    d.equipment_by_center.setdefault(entry["workcenter_id"], entry)
            teams = c.search("maintenance.team", [], limit=1)
            d.team = teams[0] if teams else None
        stock = c.search("stock.location", [("usage", "=", "internal")], limit=1)
        d.stock_location, d.scrap_location = (stock or [None])[0], self._scrap_location()
        for log in c.search_read("mrp.workcenter.productivity", [("description", "like", "operation_finished @")],
                                 ["workcenter_id", "description"]):
            for _, kind, at in MARKER.findall(log.get("description") or ""):
                center = m2o(log["workcenter_id"])
                if kind == "operation_finished" and at and center and at > d.finished_at.get(center, ""):
                    d.finished_at[center] = at
        d.has_quality_alert = schema.has("quality.alert")
        if self.scrap_reason_tags_exist:  # names are translatable (stock_scrap.py `name`, translate=True)
            for tag in c.search_read("stock.scrap.reason.tag", [], ["id", "name"], context=SOURCE_LANG):
                d.scrap_reasons.setdefault(str(tag["name"]).casefold(), tag["id"])
        d.production_lot_field = next((f for f in ("lot_producing_id", "lot_producing_ids")
                                       if schema.has("mrp.production", f)), None)
        self._data, self._loaded_at = d, self._clock()
        self._lots.clear()
        self.loads += 1

    @property
    def scrap_reason_tags_exist(self) -> bool:
        """18+: stock.scrap.reason.tag and stock.scrap.scrap_reason_tag_ids (17 has neither)."""
        return self.schema.has("stock.scrap.reason.tag") and self.schema.has("stock.scrap", "scrap_reason_tag_ids")

    def scrap_reason_tag(self, reason: str) -> int | None:
        """The id of the stock.scrap.reason.tag named `reason` (case-insensitive), None when there is none."""
        return self.data.scrap_reasons.get(reason.casefold())

    def _scrap_location(self) -> int | None:
        """<= 18: the location flagged `scrap_location`; 19 dropped the flag (stock.scrap's domain is
        usage = 'inventory'): Odoo's own scrap location by xml id, else the first inventory-loss location."""
        c = self.client
        if self.schema.has("stock.location", "scrap_location"):
            return (c.search("stock.location", [("scrap_location", "=", True)], limit=1) or [None])[0]
        try:
            model, rid = c.ref("stock.stock_location_scrapped")
            if model == "stock.location":
                return rid
        except OdooError:
            pass
        return (c.search("stock.location", [("usage", "=", "inventory")], limit=1, order="id") or [None])[0]

    @staticmethod
    def _put_order(d: _Snapshot, o: dict) -> None:
        center = m2o(o["workcenter_id"])
        if center is None:
            return
        mo = o.get("production_id")
        wo = WorkOrder(o["id"], center, o["state"], float(o.get("qty_producing") or 0.0),
                       m2o(mo), m2o(o.get("product_id")), o.get("name") or "",
                       str(mo[1]) if isinstance(mo, list | tuple) and len(mo) > 1 else "")
        d.orders.setdefault(center, []).append(wo)
        if wo.product_id:
            d.last_product[center] = wo.product_id

    def reload_orders(self, center_id: int) -> None:
        """Re-read one work center's open orders (after a button call or a refusal about its order)."""
        d = self.data
        d.orders[center_id] = []
        for o in self.client.search_read("mrp.workorder", [("workcenter_id", "=", center_id),
                                                           ("state", "in", list(ACTIVE_STATES))],
                                         ["id", "workcenter_id", "state", "qty_producing", "production_id",
                                          "product_id", "name"], order="id"):
            self._put_order(d, o)

    @property
    def data(self) -> _Snapshot:
        self.ensure()
        assert self._data is not None
        return self._data

    # -- lookups -----------------------------------------------------------------------------------------
    def work_center(self, code: str) -> dict | None:
        center = self.data.centers.get(code)
        if center is None and self.refresh():
            center = self.data.centers.get(code)
        return center

    def active_work_order(self, center_id: int) -> WorkOrder | None:
        orders = self.data.orders.get(center_id, [])
        for state in ACTIVE_STATES:
            for wo in orders:
                if wo.state == state:
                    return wo
        return None

    def named_work_order(self, center_id: int, name: str) -> WorkOrder | None:
        """The work center's open order (in progress, else ready, else waiting) of the manufacturing order named
        `name`, or else the one whose own name is `name`; None when it has none open."""
        orders = self.data.orders.get(center_id, [])
        for key in ("production", "name"):
            for state in ACTIVE_STATES:
                for wo in orders:
                    if wo.state == state and getattr(wo, key) == name:
                        return wo
        return None

    def product_of(self, center_id: int) -> int | None:
        wo = self.active_work_order(center_id)
        if wo is not None and wo.product_id:
            return wo.product_id
        product = self.data.last_product.get(center_id)
        if product is None:
            self._newest_order(center_id)
            product = self.data.last_product.get(center_id)
        return product

    def last_production(self, center_id: int) -> int | None:
        """The manufacturing order of the work center's active order, else of its newest order (a scrap after
        the order finished belongs to it)."""
        wo = self.active_work_order(center_id)
        if wo is not None and wo.production_id:
            return wo.production_id
        if center_id not in self.data.last_production:
            self._newest_order(center_id)
        return self.data.last_production.get(center_id)

    def _newest_order(self, center_id: int) -> None:
        newest = self.client.search_read("mrp.workorder", [("workcenter_id", "=", center_id)],
                                         ["product_id", "production_id"], limit=1, order="id desc")
        product = m2o(newest[0]["product_id"]) if newest else None
        if product:
            self.data.last_product[center_id] = product
        self.data.last_production[center_id] = m2o(newest[0]["production_id"]) if newest else None

    def loss(self, name: str) -> dict | None:
        loss = self.data.losses.get(name)
        if loss is None and self.refresh():
            loss = self.data.losses.get(name)
        return loss

    def equipment(self, name: str | None, center_id: int) -> dict | None:
        if name:
            eq = self.data.equipment.get(name)
            if eq is None and self.refresh():
                eq = self.data.equipment.get(name)
            return eq
        return self.data.equipment_by_center.get(center_id)

    def tracking(self, product: int) -> str:
        """How a product is tracked in Odoo: 'none', 'lot' or 'serial' (read once per product)."""
        cache = self.data.tracking
        if product not in cache:
            rows = self.client.read("product.product", [product], ["tracking"]) if self.schema.has(
                "product.product", "tracking") else []
            cache[product] = (rows[0].get("tracking") if rows else None) or "none"
        return cache[product]

    def producing_lot(self, production: int | None) -> int | None:
        """The lot a manufacturing order is producing (lot_producing_id <= 18, the first of lot_producing_ids on
        19), or None."""
        name = self.data.production_lot_field
        if not production or not name:
            return None
        rows = self.client.read("mrp.production", [production], [name])
        value = rows[0].get(name) if rows else None
        if isinstance(value, list) and value and isinstance(value[0], int) and name == "lot_producing_ids":
            return value[0]
        return m2o(value)

    def lots(self, names: Iterable[str]) -> dict[str, dict | None]:
        """name -> {id, product_id} or None when Odoo has no such lot (looked up in one call per batch)."""
        wanted = [n for n in dict.fromkeys(names) if n not in self._lots]
        if wanted:
            found = {lot["name"]: {"id": lot["id"], "product_id": m2o(lot["product_id"])} for lot in
                     self.client.search_read("stock.lot", [("name", "in", wanted)], ["id", "name", "product_id"])}
            for n in wanted:
                self._lots[n] = found.get(n)
        return {n: self._lots.get(n) for n in names}

    def forget_lot(self, name: str) -> None:
        self._lots.pop(name, None)
