"""Access rights of the stand-in as Odoo grants them: standard groups with their model access (the modules'
`security/ir.model.access.csv`), implied groups, and the record rules andon meets.

A user's rights are the union over their groups (implied groups included); the administrator has all. Record
rules restrict which records a group's members see: Odoo's maintenance module lets an Internal User see only the
equipment and requests they follow, unless they are Equipment Manager.
"""

from __future__ import annotations

from collections.abc import Iterable

R, RW, RWC, CRUD = {"read"}, {"read", "write"}, {"read", "write", "create"}, {"read", "write", "create", "unlink"}

#: group xml id -> (display name, implied groups, {model: operations}); from the modules' ir.model.access.csv
#: (base, product, uom, stock, mrp, maintenance, quality) and their security XML (implied_ids).
GROUPS: dict[str, tuple[str, tuple[str, ...], dict[str, set[str]]]] = {
    "base.group_user": ("Role / User", (), {
        "res.users": R, "res.partner": R, "res.groups": R, "ir.model": R, "ir.model.data": {"read", "create"},
        "uom.uom": R, "product.product": R, "stock.location": R,
        # maintenance/security/ir.model.access.csv
        "maintenance.equipment": R, "maintenance.request": CRUD, "maintenance.team": R, "maintenance.stage": R}),
    "stock.group_stock_user": ("Inventory / User", ("base.group_user",), {
        "stock.scrap": RWC, "stock.lot": CRUD, "stock.location": R, "mrp.production": R,
        "stock.scrap.reason.tag": R}),  # 18+ (stock/security/ir.model.access.csv, review)
    "mrp.group_mrp_user": ("Manufacturing / User", ("stock.group_stock_user",), {
        # mrp/security/ir.model.access.csv
        "mrp.workcenter": R, "mrp.workcenter.productivity.loss": R, "mrp.workcenter.productivity": CRUD,
        "mrp.production": CRUD, "mrp.workorder": CRUD}),
    "mrp.group_mrp_manager": ("Manufacturing / Administrator", ("mrp.group_mrp_user",), {
        "mrp.workcenter": CRUD, "mrp.workcenter.productivity.loss": CRUD, "product.product": CRUD}),
    "maintenance.group_equipment_manager": ("Maintenance / Equipment Manager", ("base.group_user",), {
        "maintenance.equipment": CRUD, "maintenance.stage": CRUD, "maintenance.team": CRUD}),
    "quality.group_quality_user": ("Quality / User", ("base.group_user",), {"quality.alert": CRUD}),
}

#: The groups an Odoo administrator gives andon's integration user (docs/security.md).
INTEGRATION_GROUPS = ("mrp.group_mrp_user", "stock.group_stock_user", "maintenance.group_equipment_manager")
ENTERPRISE_INTEGRATION_GROUPS = (*INTEGRATION_GROUPS, "quality.group_quality_user")

#: model -> (rule domain builder, groups exempt from the rule); maintenance/security/maintenance.xml
#: `equipment_rule_user` / `equipment_request_rule_user` (and their Equipment Manager counterparts `[(1,'=',1)]`).
RULES = {
    "maintenance.equipment": (lambda uid, partner: [("message_partner_ids", "in", [partner])],
                              {"maintenance.group_equipment_manager"}),
    "maintenance.request": (lambda uid, partner: ["|", ("message_partner_ids", "in", [partner]),
                                                  ("user_id", "=", uid)],
                            {"maintenance.group_equipment_manager"}),
}


def closure(groups: Iterable[str]) -> set[str]:
    """The groups and every group they imply."""
    out: set[str] = set()
    todo = list(groups)
    while todo:
        group = todo.pop()
        if group in out:
            continue
        if group not in GROUPS:
            raise ValueError(f"unknown group {group!r}; known: {', '.join(sorted(GROUPS))}")
        out.add(group)
        todo.extend(GROUPS[group][1])
    return out


def rights_of(groups: Iterable[str]) -> dict[str, set[str]]:
    """model -> operations, the union over the groups (implied ones included)."""
    rights: dict[str, set[str]] = {}
    for group in closure(groups):
        for model, ops in GROUPS[group][2].items():
            rights.setdefault(model, set()).update(ops)
    return rights


def groups_for(model: str, operation: str) -> list[str]:
    """Names of the groups that grant `operation` on `model` (for Odoo's AccessError text)."""
    return sorted(name for name, _, acl in GROUPS.values() if operation in acl.get(model, ()))


def rules_for(groups: Iterable[str], uid: int, partner: int | None) -> dict[str, list]:
    """model -> extra domain the user's searches and reads are restricted to."""
    have = closure(groups)
    return {model: build(uid, partner or 0) for model, (build, exempt) in RULES.items() if not have & exempt}
