"""`andon odoo check --config SITE.toml`: connect as the integration user and report what the site needs from Odoo
and does not find, each with how to fix it in Odoo.

    findings = check_site(client, site)     # [Finding], errors first
    andon odoo check --config plant-a.toml  # prints them; exit 0 when nothing blocks, 1 otherwise

Two severities:
- **error**: odoo-sync cannot work at all (login, rights, missing locations, no productive loss). odoo-sync runs
  this check at start and refuses to start on any error, with the same text.
- **problem**: events of one machine or kind would be dead-lettered until fixed (a work center, equipment, loss
  reason or lot is missing). odoo-sync logs them at start and dead-letters the events concerned; `andon odoo
  check` exits 1 while any is left.
"""

from __future__ import annotations

from dataclasses import dataclass

from andon.config import SiteConfig, load_site
from andon.connectors.odoo.errors import OdooAccessError, OdooAuthError, OdooError
from andon.connectors.odoo.masterdata import ACTIVE_STATES, MasterData
from andon.errors import AndonError
from andon.states import DOWNTIME_REASON

#: Models the integration user must be able to read (and the group that grants it, docs/security.md).
READ_MODELS = (
    ("mrp.workcenter", "Manufacturing / User"), ("mrp.workorder", "Manufacturing / User"),
    ("mrp.production", "Manufacturing / User"), ("mrp.workcenter.productivity", "Manufacturing / User"),
    ("mrp.workcenter.productivity.loss", "Manufacturing / User"), ("stock.scrap", "Inventory / User"),
    ("stock.lot", "Inventory / User"), ("stock.location", "Inventory / User"), ("product.product", "Internal User"),
    ("maintenance.equipment", "Maintenance / Equipment Manager"), ("maintenance.request", "Internal User"),
)
LOSS_MENU = "Manufacturing > Configuration > Productivity Losses (as a Manufacturing / Administrator)"


@dataclass(frozen=True)
class Finding:
    severity: str  # "error" | "problem" | "note"
    subject: str
    problem: str
    fix: str

    def render(self) -> str:
        label = {"error": "ERROR  ", "problem": "PROBLEM", "note": "NOTE   "}[self.severity]
        fix = f"\n        fix: {self.fix}" if self.fix else ""
        return f"{label} {self.subject}: {self.problem}{fix}"


def required_losses(quality_loss: str = "Process Defect") -> dict[str, str]:
    """Loss reason name -> its Odoo category, for every reason andon's events name."""
    out = {name: "availability" for name in DOWNTIME_REASON.values()}
    out[quality_loss] = "quality"
    return out


def check_site(client, site: SiteConfig, *, quality_loss: str = "Process Defect") -> list[Finding]:
    """Everything the site needs from Odoo that is missing or misconfigured (empty when all is well)."""
    out: list[Finding] = []
    try:
        client.authenticate()
    except OdooAuthError as exc:
        return [Finding("error", f"login {site.odoo.username!r}", f"Odoo refused the login ({exc.odoo_message})",
                        "check odoo.username, ANDON_ODOO_PASSWORD / ANDON_ODOO_API_KEY and odoo.database; the "
                        "user must be active and, for json2, have an API key (Preferences > Account Security)")]
    md = MasterData(client, refresh_s=float("inf"))
    readable = set()
    for model, group in READ_MODELS:
        try:
            client.search(model, [], limit=1)
            readable.add(model)
        except OdooAccessError:
            out.append(Finding("error" if not model.startswith("maintenance.") else "problem", f"rights on {model}",
                               f"the integration user may not read {model}",
                               f"add the user to the group {group} (Settings > Users)"))
        except OdooError as exc:
            if "doesn't exist" in exc.odoo_message:
                app = "Maintenance" if model.startswith("maintenance.") else "Manufacturing and Inventory"
                out.append(Finding("problem" if model.startswith("maintenance.") else "error", model,
                                   "the model does not exist in this database", f"install the {app} app"))
            else:
                raise
    if {"mrp.workcenter", "mrp.workorder", "mrp.workcenter.productivity.loss", "stock.location"} - readable:
        return _sorted(out)
    schema = md.schema
    edition = "Enterprise links" if schema.equipment_center_link else "no mrp_maintenance links"
    out.append(Finding("note", "database", f"Odoo {schema.major} ({edition}; quality.alert "
                       f"{'present' if schema.has('quality.alert') else 'absent'})", ""))
    md.load()
    d = md.data
    out += _losses(client, d.losses, quality_loss)
    if d.stock_location is None:
        out.append(Finding("error", "stock location", "no internal stock location (usage = internal)",
                           "create the warehouse's stock location (Inventory > Configuration > Locations)"))
    if d.scrap_location is None:
        where = "usage Inventory Loss" if schema.major >= 19 else "'Is a Scrap Location?' ticked"
        out.append(Finding("error", "scrap location", f"no scrap location ({where})",
                           f"create a location with {where} (Inventory > Configuration > Locations)"))
    for machine in site.machines:
        out += _machine(client, md, machine, "maintenance.equipment" in readable)
    return _sorted(out)


def _sorted(findings: list[Finding]) -> list[Finding]:
    rank = {"error": 0, "problem": 1, "note": 2}
    return sorted(findings, key=lambda f: rank[f.severity])


def _losses(client, losses: dict[str, dict], quality_loss: str) -> list[Finding]:
    out = []
    if not any(v["loss_type"] == "productive" for v in losses.values()):
        out.append(Finding("error", "productive loss", "no loss reason of category Productive (Odoo's "
                           "'Fully Productive Time', mrp.block_reason7)", f"create one in {LOSS_MENU}"))
    for name, category in required_losses(quality_loss).items():
        loss = losses.get(name)
        if loss is None:
            out.append(Finding("problem", f"loss reason {name!r}", "no mrp.workcenter.productivity.loss with this "
                               "English name: downtime events naming it are dead-lettered",
                               f"create it (category {category.title()}) in {LOSS_MENU}; a translated name is "
                               "fine, andon reads the English source"))
        elif loss["loss_type"] != category:
            out.append(Finding("problem", f"loss reason {name!r}", f"its category is {loss['loss_type']}, andon "
                               f"books it as {category}", f"set its category to {category.title()} in {LOSS_MENU}"))
    return out


def _machine(client, md: MasterData, machine, equipment_readable: bool) -> list[Finding]:
    out: list[Finding] = []
    subject = f"machine {machine.id}"
    center = md.data.centers.get(machine.work_center)
    if center is None:
        return [Finding("problem", subject, f"no active work center with code {machine.work_center!r}",
                        "create it, or set its Code, in Manufacturing > Configuration > Work Centers")]
    wo = md.active_work_order(center["id"])
    if wo is None:
        out.append(Finding("problem", subject, f"work center {machine.work_center} has no work order in state "
                           f"{', '.join(ACTIVE_STATES)}: counts are skipped and operation events dead-lettered",
                           "confirm a manufacturing order with an operation on this work center"))
    if machine.equipment and equipment_readable:
        eq = md.data.equipment.get(machine.equipment)
        if eq is None:
            out.append(Finding("problem", subject, f"no maintenance.equipment named {machine.equipment!r} visible "
                               "to the integration user: its maintenance requests are dead-lettered",
                               "create the equipment (Maintenance > Equipment), and give the user Maintenance / "
                               "Equipment Manager (Internal Users see only equipment they follow)"))
        elif md.schema.equipment_center_link and eq["workcenter_id"] not in (None, center["id"]):
            out.append(Finding("problem", subject, f"equipment {machine.equipment!r} belongs to another work "
                               "center", f"set its Work Center to {machine.work_center} (Maintenance > Equipment)"))
    product = wo.product_id if wo is not None else md.product_of(center["id"])
    if product is not None and md.tracking(product) != "none":
        out += _lots(client, md, subject, product, wo)
    return out


def _lots(client, md: MasterData, subject: str, product: int, wo) -> list[Finding]:
    lots = client.search_count("stock.lot", [("product_id", "=", product)])
    producing = md.producing_lot(wo.production_id) if wo is not None else None
    name = client.read("product.product", [product], ["display_name"])[0]["display_name"]
    if not lots:
        return [Finding("problem", subject, f"product {name} is tracked by lot but has no lot: finished lots and "
                        "scraps cannot be booked", "create a lot for it (Inventory > Products > Lots/Serial Numbers)"
                        " and set it as the manufacturing order's lot to produce, or set the product's tracking "
                        "to none")]
    if producing is None and md.schema.lotless_tracked_scrap_refused:
        return [Finding("problem", subject, f"product {name} is tracked by lot and the manufacturing order has no "
                        f"lot to produce: Odoo {md.schema.major} refuses a scrap without a lot, so scraps without "
                        "a lot in the event are dead-lettered", "set the manufacturing order's Lot/Serial Number "
                        "(to produce)")]
    return []


def blocking(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity in ("error", "problem")]


def main(argv: list[str] | None = None) -> int:
    """`andon odoo ARGS...` as a function (`main(["check", "--config", path])`): its exit status."""
    from andon.cli import invoke
    from andon.connectors.odoo_cli import odoo

    return invoke(odoo, argv, "andon odoo")


def run_check(config: str) -> int:
    """`andon odoo check --config CONFIG`: print the findings; 0 when nothing blocks, else 1."""
    site = load_site(config)
    if not (site.odoo.password or site.odoo.api_key):
        raise AndonError("no Odoo credentials", hint="set ANDON_ODOO_PASSWORD or ANDON_ODOO_API_KEY")
    from andon.connectors.odoo.client import OdooClient
    from andon.connectors.odoo.resilience import RetryPolicy

    client = OdooClient(site.odoo, retry=RetryPolicy(attempts=2))
    try:
        findings = check_site(client, site)
    except OdooError as exc:
        raise AndonError(f"Odoo at {site.odoo.url} answered: {exc.odoo_message}", hint=exc.hint) from None
    finally:
        client.close()
    for finding in findings:
        print(finding.render())
    bad = blocking(findings)
    print(f"{len(bad)} to fix ({sum(f.severity == 'error' for f in bad)} stop odoo-sync from starting)"
          if bad else f"ok: Odoo has what site {site.site.id} needs")
    return 1 if bad else 0

