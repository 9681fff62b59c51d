"""Mismatches found by `andon reconcile` and their renderings: Parquet rows, a terminal table and a self-contained
HTML page (inline CSS, no scripts, no external assets).

    m = Mismatch("workorder_qty", "press-02", "WC-PRESS-02", "2026-03-02-early", "WH/MO/00002 - ...", None,
                 shop_floor=2934, odoo=2000, unit="parts", cause="edited in Odoo by hand", detail="...")
    write_parquet([m], path); print(terminal_table([m])); path.write_text(html_report([m], meta))
"""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

#: Kinds of mismatch, with what is compared.
KINDS = {
    "workorder_qty": "work order quantity (qty_producing) vs the shift's good count",
    "scrap": "scrapped quantity in Odoo (stock.scrap) vs the shift's reject count",
    "productivity": "productivity log time per loss (mrp.workcenter.productivity) vs the shift's loss tree",
    "downtime_log": "real-time downtime logs per loss and work center (mrp.workcenter.productivity) vs the "
                    "shift's downtime by reason",
    "scrap_reason": "scrap per reject reason on a work order (stock.scrap origin) vs the run's rejects by "
                    "reason",
    "productive_log": "time the work orders' timers ran per work center (mrp.workcenter.productivity, productive "
                      "and performance logs) vs the planned time the readings cover minus downtime",
}

SCHEMA = pa.schema([
    ("kind", pa.string()), ("site", pa.string()), ("machine", pa.string()), ("work_center", pa.string()),
    ("shift_id", pa.string()), ("work_order", pa.string()), ("loss", pa.string()),
    ("shop_floor", pa.float64()), ("odoo", pa.float64()), ("difference", pa.float64()), ("unit", pa.string()),
    ("cause", pa.string()), ("detail", pa.string()), ("fix", pa.string()), ("fix_event_id", pa.string()),
    ("checked_at", pa.timestamp("ms", tz="UTC")),
])


@dataclass(slots=True)
class Mismatch:
    """One disagreement between the shop floor and Odoo; `difference` = shop floor - Odoo."""

    kind: str
    machine: str
    work_center: str
    shift_id: str
    work_order: str | None
    loss: str | None
    shop_floor: float
    odoo: float
    unit: str
    cause: str
    detail: str = ""
    fix: str = ""  # what --fix does (or what a person must do)
    fix_event_id: str | None = None
    site: str = ""

    @property
    def difference(self) -> float:
        return self.shop_floor - self.odoo

    @property
    def size(self) -> str:
        if self.unit == "s":
            return f"{self.difference / 60:+.1f} min"
        return f"{self.difference:+,.0f} {self.unit}"


def write_parquet(mismatches: list[Mismatch], path: Path, checked_at_ms: int) -> Path:
    """All mismatches as one Parquet file (zstd), written to a temporary name and renamed."""
    rows = []
    for m in mismatches:
        row = asdict(m)
        row["difference"] = m.difference
        row["checked_at"] = checked_at_ms
        rows.append(row)
    columns = {name: [r[name] for r in rows] for name in SCHEMA.names}
    arrays = [pa.array(columns[f.name], pa.int64()).cast(f.type) if pa.types.is_timestamp(f.type)
              else pa.array(columns[f.name], f.type) for f in SCHEMA]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(pa.Table.from_arrays(arrays, schema=SCHEMA), tmp, compression="zstd")
    tmp.replace(path)
    return path


COLUMNS = (("kind", 13), ("work_center", 12), ("shift_id", 17), ("work_order / loss", 22), ("shop floor", 10),
           ("odoo", 10), ("size", 13), ("likely cause", 0))


def _cells(m: Mismatch) -> list[str]:
    what = m.loss or m.work_order or ""
    return [m.kind, m.work_center, m.shift_id, what, _num(m.shop_floor, m.unit), _num(m.odoo, m.unit), m.size,
            m.cause]


def _num(value: float, unit: str) -> str:
    return f"{value / 60:,.1f} min" if unit == "s" else f"{value:,.0f}"


def terminal_table(mismatches: list[Mismatch]) -> str:
    """A plain-text table, one line per mismatch (cause last, unclipped)."""
    if not mismatches:
        return "no mismatches: the shop floor and Odoo agree\n"
    lines = ["  ".join(f"{name:<{w}}" if w else name for name, w in COLUMNS)]
    lines.append("  ".join("-" * (w or 12) for _, w in COLUMNS))
    for m in mismatches:
        cells = _cells(m)
        lines.append("  ".join(f"{c[:w]:<{w}}" if w else c for c, (_, w) in zip(cells, COLUMNS, strict=True)))
    return "\n".join(lines) + "\n"


_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1d232a;background:#fff}
h1{font-size:22px;margin:0 0 4px}p.meta{color:#58616b;margin:0 0 18px}
.summary{display:flex;gap:12px;margin-bottom:18px}.card{border:1px solid #d5dae0;border-radius:6px;padding:10px 14px}
.card b{display:block;font-size:24px}.bad b{color:#b3261e}.good b{color:#1e7b34}
table{border-collapse:collapse;width:100%;font-size:13px}
th{background:#26323d;color:#fff;text-align:left;padding:7px 8px;position:sticky;top:0}
td{border-bottom:1px solid #e3e7eb;padding:6px 8px;vertical-align:top}
tr.mismatch:nth-child(even){background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
td.neg{color:#b3261e;font-weight:600}td.pos{color:#8a5a00;font-weight:600}
.kind{display:inline-block;border-radius:4px;padding:1px 6px;background:#e8eef6;font-size:12px}
.detail{color:#58616b;font-size:12px}p.clean{font-size:16px;color:#1e7b34}
"""


def html_report(mismatches: list[Mismatch], meta: dict) -> str:
    """The report as one HTML page; `meta` holds site, range, checked_at, counts and the fix summary."""
    e = html.escape
    by_kind: dict[str, int] = {}
    for m in mismatches:
        by_kind[m.kind] = by_kind.get(m.kind, 0) + 1
    cards = [f'<div class="card {"bad" if mismatches else "good"}"><b>{len(mismatches)}</b>mismatches</div>']
    cards += [f'<div class="card"><b>{n}</b>{e(k)}</div>' for k, n in sorted(by_kind.items())]
    cards += [f'<div class="card"><b>{e(str(v))}</b>{e(k)}</div>' for k, v in meta.get("cards", {}).items()]
    head = "".join(f"<th>{e(name)}</th>" for name in ("kind", "work center", "shift", "work order / loss",
                                                         "shop floor", "Odoo", "size", "likely cause", "fix"))
    rows = []
    for m in mismatches:
        sign = "neg" if m.difference > 0 else "pos"
        rows.append(
            f'<tr class="mismatch"><td><span class="kind">{e(m.kind)}</span></td><td>{e(m.work_center)}<div '
            f'class="detail">{e(m.machine)}</div></td><td>{e(m.shift_id)}</td><td>{e(m.loss or m.work_order or "")}'
            f'</td><td class="num">{e(_num(m.shop_floor, m.unit))}</td><td class="num">{e(_num(m.odoo, m.unit))}'
            f'</td><td class="num {sign}">{e(m.size)}</td><td>{e(m.cause)}<div class="detail">{e(m.detail)}</div>'
            f'</td><td class="detail">{e(m.fix)}</td></tr>')
    body = (f'<table id="mismatches"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
            if rows else '<p class="clean">No mismatches: the shop floor and Odoo agree.</p>')
    kinds = "".join(f"<li><b>{e(k)}</b>: {e(v)}</li>" for k, v in KINDS.items())
    notes = "".join(f"<li>{e(n)}</li>" for n in meta.get("notes", []))
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>andon reconcile '
            f'{e(meta.get("site", ""))} {e(meta.get("range", ""))}</title><style>{_CSS}</style></head><body>'
            f'<h1>Shop floor vs Odoo: {e(meta.get("site", ""))}</h1><p class="meta">shift dates '
            f'{e(meta.get("range", ""))} &middot; checked {e(meta.get("checked_at", ""))} &middot; andon reconcile'
            f'</p><div class="summary">{"".join(cards)}</div>{body}<h2>What is compared</h2><ul>{kinds}</ul>'
            f'{f"<h2>Notes</h2><ul>{notes}</ul>" if notes else ""}</body></html>\n')
