"""An in-memory stand-in for `OdooClient` for unit tests of pure code (the handlers and the apply loop): tables of
dicts, Odoo-style domains (prefix `|`/`&`, `=`, `!=`, `in`, `like`, `<`, `<=`, `>`, `>=`), the few button methods
andon calls, and switches to refuse a call or fail it transiently. Not a model of Odoo's business rules: those are
the stand-in's job (connectors/standin), which the end-to-end tests use over real HTTP."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from andon.connectors.odoo.errors import OdooTransientError, OdooUserError

SERVER_NOW = "2026-03-02 09:00:00"  # the fake server's clock: what a button stamps on the logs it opens
PROD = "mrp.workcenter.productivity"


def _match(rec: dict, term) -> bool:
    name, op, value = term
    have = rec.get(name, False)
    if op == "=":
        return have == value
    if op == "!=":
        return have != value
    if op == "in":
        return have in value
    if op == "like":
        return isinstance(have, str) and value in have
    if have is False or have is None:
        return False
    return {"<": have < value, "<=": have <= value, ">": have > value, ">=": have >= value}[op]


def evaluate(rec: dict, domain: Sequence) -> bool:
    """An Odoo domain in prefix notation; terms not joined by an operator are AND-ed."""
    items = [list(t) if isinstance(t, tuple) else t for t in domain]

    def take(pos: int) -> tuple[bool, int]:
        item = items[pos]
        if item in ("|", "&"):
            left, pos = take(pos + 1)
            right, pos = take(pos)
            return (left or right) if item == "|" else (left and right), pos
        if item == "!":
            inner, pos = take(pos + 1)
            return not inner, pos
        return _match(rec, item), pos + 1

    pos, ok = 0, True
    while pos < len(items):
        value, pos = take(pos)
        ok = ok and value
    return ok


class FakeOdoo:
    """Duck-typed like `OdooClient` for what the sync calls."""

    def __init__(self) -> None:
        self.tables: dict[str, dict[int, dict]] = {}
        self.calls: list[tuple[str, str]] = []
        self.refuse: dict[tuple[str, str], Callable[[Any], str | None]] = {}
        self.transient: Counter[tuple[str, str]] = Counter()  # (model, method) -> failures still to raise
        self.wizard_on_validate = False
        self.production_fields = {"lot_producing_id": {"type": "many2one"}}
        self.major = 17  # Odoo major version the fake answers with
        self.extra_fields = {"maintenance.request": {"workorder_id", "production_id"},
                             "quality.alert": {"title", "workcenter_id", "workorder_id", "production_id"}}
        self._next = 1

    # -- seeding and reading back --------------------------------------------------------------------------
    def add(self, table: str, **vals) -> int:
        rid = self._next
        self._next += 1
        self.tables.setdefault(table, {})[rid] = {"id": rid, **vals}
        return rid

    def rows(self, model: str, domain: Sequence = ()) -> list[dict]:
        return [dict(r) for r in self.tables.get(model, {}).values() if evaluate(r, domain)]

    def writes(self) -> Counter[tuple[str, str]]:
        """(model, method) -> calls, without reads."""
        reads = {"search", "search_read", "search_count", "read", "fields_get"}
        return Counter(c for c in self.calls if c[1] not in reads)

    def _call(self, model: str, method: str, arg: Any = None) -> None:
        self.calls.append((model, method))
        if self.transient[(model, method)] > 0:
            self.transient[(model, method)] -= 1
            raise OdooTransientError(f"{model}.{method}: injected 503", reason="unavailable", model=model,
                                     method=method)
        check = self.refuse.get((model, method))
        message = check(arg) if check else None
        if message:
            raise OdooUserError(message, model=model, method=method, odoo_name="odoo.exceptions.UserError")

    # -- the OdooClient surface the sync uses ------------------------------------------------------------------
    def search_read(self, model: str, domain: Sequence = (), fields: Sequence[str] | None = None, *,
                    offset: int = 0, limit: int | None = None, order: str | None = None,
                    context: dict | None = None) -> list[dict]:
        self._call(model, "search_read")
        rows = sorted(self.rows(model, domain), key=lambda r: r["id"], reverse=bool(order and "desc" in order))
        rows = rows[offset:offset + limit if limit is not None else None]
        return [{k: v for k, v in r.items() if not fields or k in fields or k == "id"} for r in rows]

    def search(self, model: str, domain: Sequence = (), *, offset: int = 0, limit: int | None = None,
               order: str | None = None) -> list[int]:
        return [r["id"] for r in self.search_read(model, domain, ["id"], offset=offset, limit=limit, order=order)]

    def search_count(self, model: str, domain: Sequence = ()) -> int:
        self._call(model, "search_count")
        return len(self.rows(model, domain))

    def read(self, model: str, ids: Sequence[int], fields: Sequence[str] | None = None) -> list[dict]:
        self._call(model, "read")
        return [dict(self.tables[model][i]) for i in ids]

    def fields_get(self, model: str, attributes: Sequence[str] = ()) -> dict:
        """mrp.production's lot field as configured; other models: the fields their rows have, plus
        `extra_fields` (the fake is an Enterprise-like database: request and alert links exist)."""
        self._call(model, "fields_get")
        if model == "mrp.production":
            return dict(self.production_fields)
        names = {k for row in self.tables.get(model, {}).values() for k in row} | self.extra_fields.get(model, set())
        return {name: {"type": "unknown"} for name in names}

    def version(self) -> dict:
        return {"server_version": f"{self.major}.0", "server_version_info": [self.major, 0, 0, "final", 0, ""]}

    def create(self, model: str, vals: dict) -> int:
        return self.create_many(model, [vals])[0]

    def create_many(self, model: str, vals_list: Sequence[dict]) -> list[int]:
        self._call(model, "create", list(vals_list))
        ids = []
        for vals in vals_list:
            defaults = {"state": "draft"} if model == "stock.scrap" else {}
            if model == PROD:
                defaults = {"date_end": False, "workorder_id": False}
            ids.append(self.add(model, **{**defaults, **vals}))
        return ids

    def write(self, model: str, ids, vals: dict) -> bool:
        ids = [ids] if isinstance(ids, int) else list(ids)
        self._call(model, "write", (ids, vals))
        for i in ids:
            self.tables[model][i].update(vals)
        return True

    def call_button(self, model: str, ids, method: str, context: dict | None = None) -> Any:
        ids = [ids] if isinstance(ids, int) else list(ids)
        self._call(model, method, ids)
        for i in ids:
            rec = self.tables[model][i]
            if method == "button_start":
                rec["state"] = "progress"
                loss = next(lid for lid, loss in self.tables[f"{PROD}.loss"].items()
                            if loss["loss_type"] == "productive")
                self.add(PROD, workcenter_id=rec["workcenter_id"], workorder_id=i, loss_id=loss,
                         date_start=SERVER_NOW, date_end=False, description="")
            elif method == "button_finish":
                rec["state"] = "done"
                for log in self.tables.get(PROD, {}).values():
                    if log.get("workorder_id") == i and not log.get("date_end"):
                        log["date_end"] = SERVER_NOW
            elif method == "action_validate":
                if self.wizard_on_validate:
                    return {"res_model": "stock.warn.insufficient.qty.scrap", "type": "ir.actions.act_window"}
                rec["state"] = "done"
            elif method == "do_scrap":
                rec["state"] = "done"
        return True


def plant() -> FakeOdoo:
    """Two work centers (press-01 with a ready order, press-02 with none), losses, equipment, locations, a lot."""
    odoo = FakeOdoo()
    c1 = odoo.add("mrp.workcenter", code="WC-PRESS-01", name="Press 01")
    odoo.add("mrp.workcenter", code="WC-PRESS-02", name="Press 02")
    product = odoo.add("product.product", default_code="PB-100")
    mo = odoo.add("mrp.production", name="MO/0001", product_id=product)
    odoo.add("mrp.workorder", workcenter_id=c1, state="ready", qty_producing=0.0, production_id=mo,
             product_id=product, name="Pressing")
    for name, kind in (("Productive", "productive"), ("Unspecified Stop", "availability"),
                       ("Machine Offline", "availability"), ("Process Defect", "quality")):
        odoo.add(f"{PROD}.loss", name=name, loss_type=kind)
    team = odoo.add("maintenance.team", name="Internal")
    odoo.add("maintenance.equipment", name="EQ-PRESS-01", workcenter_id=c1, maintenance_team_id=team)
    odoo.add("stock.location", name="WH/Stock", usage="internal", scrap_location=False)
    odoo.add("stock.location", name="Scrap", usage="inventory", scrap_location=True)
    odoo.add("stock.lot", name="LOT-PB-100-0001", product_id=product)
    odoo.add("stock.lot", name="LOT-OTHER", product_id=product + 1000)
    for model in ("maintenance.equipment", "maintenance.request", "stock.lot"):
        odoo.add("ir.model", model=model)
    return odoo


# -- events of the example plant, at minutes after T0 ----------------------------------------------------------
T0 = 1_772_431_200_000  # 2026-03-02T06:00:00Z


def at(minute: float) -> str:
    """Odoo's datetime text of `minute` minutes after T0."""
    total = int(round(minute * 60))
    return f"2026-03-02 {6 + total // 3600:02d}:{total // 60 % 60:02d}:{total % 60:02d}"


def iso(minute: float) -> str:
    return at(minute).replace(" ", "T") + ".000Z"


def event(type_: str, minute: float, data, machine: str = "press-01", discriminator: str = "",
          work_center: str | None = "WC-PRESS-nn"):
    """An `Inbound` of `type_` on `machine` (work center WC-PRESS-nn of the machine's number) at `minute`."""
    from andon.connectors.odoo.sync import Inbound
    from andon.events import encode_event, make_event

    if work_center == "WC-PRESS-nn":
        work_center = f"WC-PRESS-{machine.rsplit('-', 1)[1]}"
    ms = T0 + int(round(minute * 60_000))
    e = make_event(type_, site="plant-a", machine=machine, work_center=work_center, occurred_at_ms=ms,
                   detected_at_ms=ms + 1000, data=data, discriminator=discriminator)
    return Inbound(e, encode_event(e))


def outcomes(result) -> list[tuple[str, str]]:
    """(event type, final outcome) per event: the last audit record of each."""
    final: dict[str, tuple[str, str]] = {}
    for r in result.audit:
        final[r.event_id] = (r.type, r.outcome)
    return list(final.values())


def with_posting(site, **posting):
    """`site` with other `[odoo.posting]` settings."""
    from andon.config import PostingSettings

    return site.model_copy(update={"odoo": site.odoo.model_copy(update={"posting": PostingSettings(**posting)})})
