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
            # mrp_workorder.py `_set_qty_producing` (17/18/19): the inverse ignores 0, else the work order's
            # quantity becomes its manufacturing order's (the field is computed from the MO's).
            if not new.get("qty_producing"):
                new["qty_producing"] = production.get("qty_producing") or 0.0
            else:
                env.tx.put("mrp.production", new["production_id"],
                           {**production, "qty_producing": new["qty_producing"], "write_date": now_str()})


def _workorder_label(env: Env, rid: int) -> str:
    """mrp.workorder `_compute_display_name`: '<MO name> - <work order name>'."""
    wo = env.tx.get("mrp.workorder", rid) or {}
    mo = env.tx.get("mrp.production", wo.get("production_id") or 0) or {}
    return f"{mo.get('name', '')} - {wo.get('name', '')}"


def _check_open_time_ids(env: Env, rid: int) -> None:
    """mrp_workcenter.py `MrpWorkcenterProductivity._check_open_time_ids` (17/18/19): at most one open time log
    per user and work order."""
    log = env.tx.get("mrp.workcenter.productivity", rid)
    wo_id = log.get("workorder_id")
    if not wo_id:
        return
    users: dict[Any, int] = {}
    for other in _open_logs_of(env, wo_id):
        user = env.tx.get("mrp.workcenter.productivity", other).get("user_id") or False
        users[user] = users.get(user, 0) + 1
    if any(count > 1 for count in users.values()):
        from andon.connectors.standin.exceptions import ValidationError

        raise ValidationError(f"The Workorder ({_workorder_label(env, wo_id)}) cannot be started twice!")


def _open_logs_of(env: Env, wo_id: int, user: int | None = None) -> list[int]:
    domain: list = [("workorder_id", "=", wo_id), ("date_end", "=", False)]
    if user is not None:
        domain.append(("user_id", "=", user))
    return env.search("mrp.workcenter.productivity", domain, check=False)


CONSTRAINTS = {"mrp.workcenter.productivity": _check_open_time_ids}


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


def _minutes(start: str, end: str | None) -> float:
    return max((_dt(end or now_str()) - _dt(start)).total_seconds() / 60.0, 0.0)


def _wo_duration(env: Env, wo_id: int) -> float:
    """Minutes logged on a work order, open logs counted to now (mrp_workorder.py `get_duration`)."""
    total = 0.0
    for log_id in env.search("mrp.workcenter.productivity", [("workorder_id", "=", wo_id)], check=False):
        log = env.tx.get("mrp.workcenter.productivity", log_id)
        total += _minutes(log["date_start"], log.get("date_end") or None)
    return total


def _close(env: Env, log_ids: list[int]) -> None:
    """mrp_workcenter.py `MrpWorkcenterProductivity._close` (17/18/19): end each timer now; when its work order
    ran over its expected duration, the overrun part becomes a copy (description and all) with a performance
    loss, or the whole timer does when it started after the overrun began."""
    underperformance: list[int] = []
    for log_id in log_ids:
        _system_write(env, "mrp.workcenter.productivity", log_id, {"date_end": now_str()})
        log = env.tx.get("mrp.workcenter.productivity", log_id)
        wo = env.tx.get("mrp.workorder", log.get("workorder_id") or 0)
        if wo is None:
            continue
        duration, expected = _wo_duration(env, log["workorder_id"]), wo.get("duration_expected") or 0.0
        if duration > expected:
            end = _dt(log["date_end"]) - timedelta(minutes=duration - expected)
            productive_end = end.strftime(_FMT)
            if productive_end <= log["date_start"]:
                underperformance.append(log_id)
            else:
                copy = {k: v for k, v in log.items() if k not in ("create_date", "write_date", "duration",
                                                                 "loss_type", "production_id")}
                rights, env.rights = env.rights, None
                try:
                    underperformance.append(env.create("mrp.workcenter.productivity",
                                                       {**copy, "date_start": productive_end}))
                finally:
                    env.rights = rights
                _system_write(env, "mrp.workcenter.productivity", log_id, {"date_end": productive_end})
    if underperformance:
        performance = _loss(env, "performance")
        for log_id in underperformance:
            _system_write(env, "mrp.workcenter.productivity", log_id, {"loss_id": performance})


def end_previous(env: Env, ids: Any, doall: bool = False, **_: Any) -> bool:
    """mrp_workorder.py `end_previous`: close the open logs of the orders (only the caller's, and only one,
    unless `doall`); returns True in every version."""
    logs: list[int] = []
    for rid in _ids(ids):
        env.record("mrp.workorder", rid)
        logs += _open_logs_of(env, rid, None if doall else env.uid)
    _close(env, sorted(set(logs), reverse=True)[: None if doall else 1])
    return True


def end_all(env: Env, ids: Any, **_: Any) -> bool:
    """`end_all` = `end_previous(doall=True)`: what Odoo's block flow runs on the work center's orders
    (`MrpWorkcenterProductivity.button_block`)."""
    return end_previous(env, ids, doall=True)


def _system_write(env: Env, model: str, rid: int, vals: dict) -> None:
    rights, env.rights = env.rights, None
    try:
        env.write(model, [rid], vals)
    finally:
        env.rights = rights


def _user_name(env: Env) -> str:
    return (env.tx.get("res.users", env.uid) or {}).get("name") or ""


def button_start(env: Env, ids: Any, raise_on_invalid_state: bool = False, **_: Any) -> bool | None:
    """mrp_workorder.py `button_start`. 17: done/cancel orders are skipped, returns True. 18/19: done/cancel is
    a UserError (skipped with raise_on_invalid_state), and the method has no return statement: None."""
    v = int(env.version)
    records = [(rid, env.record("mrp.workorder", rid)) for rid in _ids(ids)]
    if any(_working_state(env, wo["workcenter_id"]) == "blocked" for _, wo in records):
        raise UserError("Please unblock the work center to start the work order.")
    for rid, wo in records:
        if _open_logs_of(env, rid, env.uid):
            continue  # the caller already has a running timer on it
        if wo["state"] in ("done", "cancel"):
            if v <= 17 or raise_on_invalid_state:
                continue
            raise UserError("You cannot start a work order that is already done or cancelled")
        production = env.record("mrp.production", wo["production_id"])
        rights, env.rights = env.rights, None
        try:
            if not wo.get("qty_producing"):
                product = env.tx.get("product.product", wo.get("product_id") or 0) or {}
                serial = v <= 18 and product.get("tracking") == "serial"
                qty = 1.0 if serial else _qty_remaining(env, rid)
                env.write("mrp.workorder", [rid], {"qty_producing": qty})
            duration, expected = _wo_duration(env, rid), wo.get("duration_expected") or 0.0
            loss_type = "productive" if not expected or duration <= expected else "performance"
            env.create("mrp.workcenter.productivity", {
                "workcenter_id": wo["workcenter_id"], "workorder_id": rid, "loss_id": _loss(env, loss_type),
                "user_id": env.uid, "description": f"Time Tracking: {_user_name(env)}", "date_start": now_str()})
            if production.get("state") != "progress":
                env.write("mrp.production", [wo["production_id"]], {"date_start": now_str(), "state": "progress"})
            if wo["state"] != "progress":
                env.write("mrp.workorder", [rid], {"state": "progress", "date_start": now_str()})
        finally:
            env.rights = rights
        env.tx.put("mrp.workorder", rid, {**env.record("mrp.workorder", rid), "is_user_working": True})
    return True if v <= 17 else None


def button_pending(env: Env, ids: Any, **_: Any) -> bool | None:
    """Pause: close the caller's running time log (`end_previous`); the order stays in progress, as in Odoo.
    17 returns True; 19 has no return statement (None); 18 is taken as 19."""
    for rid in _ids(ids):
        env.record("mrp.workorder", rid)
    end_previous(env, ids)
    for rid in _ids(ids):
        env.tx.put("mrp.workorder", rid, {**env.record("mrp.workorder", rid), "is_user_working": False})
    return True if int(env.version) <= 17 else None


def button_finish(env: Env, ids: Any, **_: Any) -> bool:
    now = now_str()
    for rid in _ids(ids):
        wo = env.record("mrp.workorder", rid)
        if wo["state"] in ("done", "cancel"):
            continue
        end_all(env, [rid])
        wo = env.record("mrp.workorder", rid)
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
        _scrap_done(env, rid)
    return True


def _scrap_done(env: Env, rid: int) -> None:
    """`do_scrap`: the scrap move is done. <= 17, stock.move.line `_action_done` refuses a tracked product
    without a lot (18.0's later patches and 19 exempt scrap moves: `_exclude_requiring_lot`)."""
    scrap = env.record("stock.scrap", rid)
    product = env.record("product.product", scrap["product_id"])
    if int(env.version) <= 17 and (product.get("tracking") or "none") != "none" and not scrap.get("lot_id"):
        raise UserError("You need to supply a Lot/Serial Number for product: \n - "
                        f"{_product_name(env, scrap['product_id'], product)}")
    env.tx.put("product.product", scrap["product_id"],
               {**product, "qty_available": (product.get("qty_available") or 0.0) - scrap["scrap_qty"]})
    env.write("stock.scrap", [rid], {"state": "done", "date_done": now_str()})


def do_scrap(env: Env, ids: Any, **_: Any) -> bool:
    """Scrap without the stock check (what the insufficient-quantity wizard's confirm button runs)."""
    for rid in _ids(ids):
        if env.record("stock.scrap", rid)["state"] != "done":
            _scrap_done(env, rid)
    return True


METHODS = {
    ("res.users", "context_get"): ("read", context_get),
    ("ir.model.data", "check_object_reference"): ("read", check_object_reference),
    ("mrp.workorder", "button_start"): ("write", button_start),
    ("mrp.workorder", "button_pending"): ("write", button_pending),
    ("mrp.workorder", "button_finish"): ("write", button_finish),
    ("mrp.workorder", "end_previous"): ("write", end_previous),
    ("mrp.workorder", "end_all"): ("write", end_all),
    ("mrp.production", "button_mark_done"): ("write", button_mark_done),
    ("stock.scrap", "action_validate"): ("write", action_validate),
    ("stock.scrap", "do_scrap"): ("write", do_scrap),
}
