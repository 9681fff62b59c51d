"""Model behaviour the declarative schema cannot express: computed fields, save-time derivations and the button
methods andon calls, following the logic of Odoo's addons/mrp, addons/stock and addons/maintenance.

Tables read by the ORM and the dispatcher:
- `DISPLAY_NAME[model](env, id, vals) -> str`
- `COMPUTE[(model, field)](env, id) -> value` for non-stored computed fields
- `ON_SAVE[model](env, id_or_None, new_vals, old_vals)` mutates `new_vals` before it is stored
- `METHODS[(model, method)] = (right, fn)`; `fn(env, ids, *args, **kwargs)`; `right` is the access it needs
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from andon.connectors.standin.exceptions import UserError
from andon.connectors.standin.orm import Env, _ids
from andon.connectors.standin.schema import now_str

_FMT = "%Y-%m-%d %H:%M:%S"


def _dt(text: str) -> datetime:
    return datetime.strptime(text, _FMT).replace(tzinfo=UTC)


# -- display names -----------------------------------------------------------------------------------------------
def _product_name(env: Env, rid: int, vals: dict) -> str:
    code = vals.get("default_code")
    return f"[{code}] {vals['name']}" if code else vals["name"]


DISPLAY_NAME = {"product.product": _product_name}


# -- computed fields ---------------------------------------------------------------------------------------------
def _open_log_types(env: Env) -> dict[int, str]:
    """Work center id -> loss type of its newest open productivity log, cached for one call until a write."""
    cached = getattr(env, "_open_logs", None)
    if cached is not None and cached[0] == env.tx.writes:
        return cached[1]
    newest: dict[int, tuple[int, str]] = {}
    for log_id in env.tx.ids("mrp.workcenter.productivity"):
        log = env.tx.get("mrp.workcenter.productivity", log_id)
        if not log.get("date_end") and log.get("workcenter_id"):
            center = log["workcenter_id"]
            if center not in newest or log_id > newest[center][0]:
                newest[center] = (log_id, log.get("loss_type") or "")
    result = {center: loss_type for center, (_, loss_type) in newest.items()}
    env._open_logs = (env.tx.writes, result)  # type: ignore[attr-defined]
    return result


def _working_state(env: Env, rid: int) -> str:
    """none open -> normal; newest open log productive/performance -> done; any other open log -> blocked."""
    loss_type = _open_log_types(env).get(rid)
    if loss_type is None:
        return "normal"
    return "done" if loss_type in ("productive", "performance") else "blocked"


def _oee(env: Env, rid: int) -> float:
    """Time-only OEE over the last month: productive / (productive + blocked) time, in percent."""
    since = (datetime.now(UTC) - timedelta(days=30)).strftime(_FMT)
    productive = blocked = 0.0
    for log_id in env.search("mrp.workcenter.productivity", [("workcenter_id", "=", rid),
                                                             ("date_start", ">=", since)], check=False):
        log = env.tx.get("mrp.workcenter.productivity", log_id)
        if log.get("loss_type") == "productive":
            productive += log.get("duration") or 0.0
        else:
            blocked += log.get("duration") or 0.0
    return round(productive * 100.0 / (productive + blocked), 2) if productive else 0.0


def _qty_remaining(env: Env, rid: int) -> float:
    vals = env.record("mrp.workorder", rid)
    return max((vals.get("qty_production") or 0.0) - (vals.get("qty_produced") or 0.0), 0.0)


COMPUTE = {("mrp.workcenter", "working_state"): _working_state, ("mrp.workcenter", "oee"): _oee,
           ("mrp.workorder", "qty_remaining"): _qty_remaining}


# -- save-time derivations ---------------------------------------------------------------------------------------
def _save_productivity(env: Env, rid: int | None, new: dict, old: dict) -> None:
    if new.get("loss_id"):
        new["loss_type"] = env.tx.get("mrp.workcenter.productivity.loss", new["loss_id"]).get("loss_type")
    if new.get("workorder_id"):
        new["production_id"] = env.tx.get("mrp.workorder", new["workorder_id"]).get("production_id") or False
    if new.get("date_end") and new.get("date_start"):
        minutes = (_dt(new["date_end"]) - _dt(new["date_start"])).total_seconds() / 60.0
        new["duration"] = round(max(minutes, 0.0), 4)
    else:
        new["duration"] = 0.0


def _save_workorder(env: Env, rid: int | None, new: dict, old: dict) -> None:
    production = env.tx.get("mrp.production", new["production_id"]) if new.get("production_id") else None
    if production is not None:
        new["product_id"] = production.get("product_id") or False
        new["qty_production"] = production.get("product_qty") or 0.0
        if rid is not None and new.get("qty_producing") != old.get("qty_producing"):
            # Odoo's inverse: a work order's qty_producing is its manufacturing order's.
            env.tx.put("mrp.production", new["production_id"],
                       {**production, "qty_producing": new["qty_producing"], "write_date": now_str()})


def _save_scrap(env: Env, rid: int | None, new: dict, old: dict) -> None:
    if new.get("product_id") and not new.get("product_uom_id"):
        new["product_uom_id"] = env.tx.get("product.product", new["product_id"]).get("uom_id") or False
    if rid is not None and old.get("state") == "done" and new != old and new.get("state") == "done":
        changed = [k for k in new if k not in ("write_date",) and new.get(k) != old.get(k)]
        if changed:
            raise UserError("You cannot modify a scrap order that is done.")


ON_SAVE = {"mrp.workcenter.productivity": _save_productivity, "mrp.workorder": _save_workorder,
           "stock.scrap": _save_scrap}


# -- methods -----------------------------------------------------------------------------------------------------
def context_get(env: Env, **_: Any) -> dict:
    user = env.tx.get("res.users", env.uid) or {}
    return {"lang": user.get("lang") or "en_US", "tz": user.get("tz") or "UTC", "uid": env.uid}


def check_object_reference(env: Env, module: str, xml_id: str, raise_on_access_error: bool = False,
                           **_: Any) -> list:
    hits = env.search("ir.model.data", [("module", "=", module), ("name", "=", xml_id)], limit=1, check=False)
    if not hits:
        raise ValueError(f"External ID not found in the system: {module}.{xml_id}")
    data = env.tx.get("ir.model.data", hits[0])
    return [data["model"], data["res_id"]]


def _loss(env: Env, loss_type: str) -> int:
    hits = env.search("mrp.workcenter.productivity.loss", [("loss_type", "=", loss_type)], limit=1, check=False)
    if not hits:
        raise UserError(f"You need to define at least one productivity loss in the category '{loss_type}'. "
                        "Create one from the Manufacturing app, menu: Configuration / Productivity Losses.")
    return hits[0]


def _end_previous(env: Env, workorder_id: int) -> None:
    now = now_str()
    for log_id in env.search("mrp.workcenter.productivity", [("workorder_id", "=", workorder_id),
                                                             ("date_end", "=", False)], check=False):
        _system_write(env, "mrp.workcenter.productivity", log_id, {"date_end": now})


def _system_write(env: Env, model: str, rid: int, vals: dict) -> None:
    rights, env.rights = env.rights, None
    try:
        env.write(model, [rid], vals)
    finally:
        env.rights = rights


def button_start(env: Env, ids: Any, **_: Any) -> bool:
    for rid in _ids(ids):
        wo = env.record("mrp.workorder", rid)
        if wo["state"] in ("done", "cancel"):
            raise UserError(f"You cannot start a work order that is already done or cancelled ({wo['name']}).")
        if wo["state"] == "blocked":
            raise UserError("You cannot start a work order that is blocked by another work order.")
        if _working_state(env, wo["workcenter_id"]) == "blocked":
            raise UserError("Please unblock the work center to start the work order.")
        production = env.record("mrp.production", wo["production_id"])
        loss_type = "productive" if (wo.get("qty_produced") or 0) < (wo.get("qty_production") or 0) else "performance"
        rights, env.rights = env.rights, None
        try:
            env.create("mrp.workcenter.productivity", {
                "workcenter_id": wo["workcenter_id"], "workorder_id": rid, "loss_id": _loss(env, loss_type),
                "user_id": env.uid, "description": f"Time Tracking: {wo['name']}", "date_start": now_str()})
            vals: dict[str, Any] = {"state": "progress"}
            if not wo.get("date_start"):
                vals["date_start"] = now_str()
            env.write("mrp.workorder", [rid], vals)
            if production.get("state") in ("draft", "confirmed"):
                env.write("mrp.production", [wo["production_id"]], {"state": "progress"})
        finally:
            env.rights = rights
        env.tx.put("mrp.workorder", rid, {**env.record("mrp.workorder", rid), "is_user_working": True})
    return True


def button_pending(env: Env, ids: Any, **_: Any) -> bool:
    """Pause: close the running time logs; the order stays in progress, as in Odoo."""
    for rid in _ids(ids):
        env.record("mrp.workorder", rid)
        _end_previous(env, rid)
        env.tx.put("mrp.workorder", rid, {**env.record("mrp.workorder", rid), "is_user_working": False})
    return True


def button_finish(env: Env, ids: Any, **_: Any) -> bool:
    now = now_str()
    for rid in _ids(ids):
        wo = env.record("mrp.workorder", rid)
        if wo["state"] in ("done", "cancel"):
            continue
        _end_previous(env, rid)
        vals = {"qty_produced": wo.get("qty_produced") or wo.get("qty_producing") or wo.get("qty_production"),
                "state": "done", "date_finished": now}
        if not wo.get("date_start") or now < wo["date_start"]:
            vals["date_start"] = now
        env.write("mrp.workorder", [rid], vals)
        env.tx.put("mrp.workorder", rid, {**env.record("mrp.workorder", rid), "is_user_working": False})
    return True


def button_mark_done(env: Env, ids: Any, **_: Any) -> bool | dict:
    """Finish a manufacturing order, or return the wizard action Odoo would open instead (see docs/odoo.md)."""
    for rid in _ids(ids):
        mo = env.record("mrp.production", rid)
        if mo["state"] in ("done", "cancel"):
            raise UserError(f"{mo['name']} is already done or cancelled.")
        qty = mo.get("qty_producing") or 0.0
        if qty <= 0:
            if int(env.version) <= 17:
                return {"type": "ir.actions.act_window", "res_model": "mrp.immediate.production",
                        "view_mode": "form", "target": "new", "context": {"default_mo_ids": [rid]}}
            qty = mo["product_qty"]
        if qty < mo["product_qty"] and not env.context.get("skip_backorder"):
            return {"type": "ir.actions.act_window", "res_model": "mrp.production.backorder",
                    "view_mode": "form", "target": "new",
                    "context": {"default_mrp_production_ids": [rid], "button_mark_done_production_ids": [rid]}}
        wo_ids = env.search("mrp.workorder", [("production_id", "=", rid)], check=False)
        button_finish(env, wo_ids)
        env.write("mrp.production", [rid], {"qty_producing": qty, "state": "done", "date_finished": now_str()})
        env.tx.put("mrp.production", rid, {**env.record("mrp.production", rid), "qty_produced": qty})
    return True


def action_validate(env: Env, ids: Any, **_: Any) -> bool | dict:
    """Validate a scrap; returns the insufficient-quantity wizard when a storable product lacks stock."""
    for rid in _ids(ids):
        scrap = env.record("stock.scrap", rid)
        if scrap["state"] == "done":
            continue
        if scrap.get("scrap_qty", 0) <= 0:
            raise UserError("You can only enter positive quantities.")
        product = env.record("product.product", scrap["product_id"])
        storable = product.get("is_storable") if int(env.version) >= 18 else product.get("type") == "product"
        if storable and (product.get("qty_available") or 0.0) < scrap["scrap_qty"]:
            return {"type": "ir.actions.act_window", "res_model": "stock.warn.insufficient.qty.scrap",
                    "view_mode": "form", "target": "new",
                    "context": {"default_product_id": scrap["product_id"], "default_scrap_id": rid,
                                "default_quantity": scrap["scrap_qty"]}}
        env.tx.put("product.product", scrap["product_id"],
                   {**product, "qty_available": (product.get("qty_available") or 0.0) - scrap["scrap_qty"]})
        env.write("stock.scrap", [rid], {"state": "done", "date_done": now_str()})
    return True


def do_scrap(env: Env, ids: Any, **_: Any) -> bool:
    """Scrap without the stock check (what the insufficient-quantity wizard's confirm button runs)."""
    for rid in _ids(ids):
        if env.record("stock.scrap", rid)["state"] != "done":
            env.write("stock.scrap", [rid], {"state": "done", "date_done": now_str()})
    return True


METHODS = {
    ("res.users", "context_get"): ("read", context_get),
    ("ir.model.data", "check_object_reference"): ("read", check_object_reference),
    ("mrp.workorder", "button_start"): ("write", button_start),
    ("mrp.workorder", "button_pending"): ("write", button_pending),
    ("mrp.workorder", "button_finish"): ("write", button_finish),
    ("mrp.production", "button_mark_done"): ("write", button_mark_done),
    ("stock.scrap", "action_validate"): ("write", action_validate),
    ("stock.scrap", "do_scrap"): ("write", do_scrap),
}
