"""The status page: one self-contained HTML document (no scripts, no external files) rendered from a status
snapshot (see `andon.pipelines.status.StatusBoard.snapshot`). It refreshes itself every 10 seconds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

STATE_COLOURS = {"running": "#1b7f3b", "stopped": "#b88a00", "breakdown": "#c62828", "setup": "#2d6cdf",
                 "material": "#8e44ad", "planned_stop": "#5b6275", "offline": "#333", "unknown": "#777"}

CSS = """
body{font:15px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
header{background:#1d2330;color:#fff;padding:14px 24px;display:flex;justify-content:space-between;align-items:center}
header h1{font-size:20px;margin:0} .ready{padding:3px 10px;border-radius:12px;font-weight:600}
.ok{background:#1b7f3b} .bad{background:#c62828}
main{padding:16px 24px;display:grid;gap:16px;grid-template-columns:repeat(auto-fit,minmax(540px,1fr))}
section{overflow-x:auto;background:#fff;border-radius:8px;padding:12px 16px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
section.wide{grid-column:1/-1} h2{font-size:16px;margin:4px 0 10px}
table{border-collapse:collapse;width:100%} th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #e3e5ea}
th{font-size:12px;text-transform:uppercase;color:#5b6275} td.num{text-align:right;font-variant-numeric:tabular-nums}
.kpis{display:flex;gap:24px} .kpi b{display:block;font-size:26px} .kpi span{font-size:12px;color:#5b6275}
.badge{color:#fff;padding:2px 8px;border-radius:10px;font-size:13px} .empty{color:#5b6275;font-style:italic}
.bar{background:#e3e5ea;border-radius:4px;height:8px;width:120px;display:inline-block;vertical-align:middle}
.bar i{display:block;height:8px;border-radius:4px;background:#2d6cdf}
"""


def _age(seconds: float) -> str:
    seconds = float(seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _time(iso: str | None) -> str:
    if not iso:
        return "-"
    return escape(iso.replace("T", " ")[:19] + " UTC")


def _confirmations(doc: dict) -> str:
    c = doc.get("confirmations")
    if c is None or "odoo_sync" not in doc.get("roles", []):
        return ""
    rows = "".join(
        f"<tr><td>{escape(p['type'])}</td><td>{escape(p['machine'])}</td><td class='num'>{_age(p['age_s'])}</td>"
        f"<td><code>{escape(p['event_id'][:16])}</code></td><td><code>{escape(p['correlation_id'][:24])}</code></td>"
        f"</tr>" for p in c["oldest"])
    table = (f"<table id='pending'><tr><th>event</th><th>machine</th><th>waiting</th><th>event id</th>"
             f"<th>correlation id</th></tr>{rows}</table>") if rows else \
        "<p class='empty'>Every event read so far is applied to Odoo.</p>"
    outcomes = ", ".join(f"{escape(k)} {v:,}" for k, v in c["outcomes"].items()) or "none yet"
    return (f"<section id='confirmations'><h2>Confirmations to Odoo</h2><div class='kpis'>"
            f"<div class='kpi'><b id='waiting'>{c['waiting']:,}</b><span>waiting</span></div>"
            f"<div class='kpi'><b id='delayed'>{c['delayed']:,}</b><span>delayed &gt; {_age(c['delayed_after_s'])}"
            f"</span></div><div class='kpi'><b id='oldest-age'>{_age(c['oldest_age_s'])}</b>"
            f"<span>oldest unapplied</span></div></div><p>Handled so far: {outcomes}</p>{table}</section>")


def _dead_letters(doc: dict) -> str:
    dead = doc.get("dead_letters", [])
    rows = "".join(f"<tr><td class='reason'>{escape(d['reason'])}</td><td>{escape(d['topic'])}</td>"
                   f"<td class='num'>{d['count']:,}</td></tr>" for d in dead)
    body = (f"<table id='dlq'><tr><th>reason</th><th>topic</th><th>entries</th></tr>{rows}</table>" if rows
            else "<p class='empty'>No dead letters.</p>")
    return f"<section id='dead-letters'><h2>Dead letters by reason</h2>{body}</section>"


def _machines(doc: dict) -> str:
    machines = doc.get("machines", [])
    if not machines and "telemetry" not in doc.get("roles", []):
        return ""
    rows = []
    for m in machines:
        colour = STATE_COLOURS.get(m["state"], "#555")
        oee = m["oee"]
        oee_cell = "-" if oee is None else (f"<span class='bar'><i style='width:{min(max(oee, 0), 1) * 100:.0f}%'>"
                                            f"</i></span> {oee * 100:.1f}%")
        rows.append(f"<tr class='machine' data-machine='{escape(m['machine'])}'><td>{escape(m['machine'])}</td>"
                    f"<td>{escape(m['work_center'] or '-')}</td><td><span class='badge' style='background:{colour}'>"
                    f"{escape(m['state'])}</span></td><td>{_time(m['since'])}</td>"
                    f"<td>{escape(m['shift_id'] or '-')}</td><td class='num'>{m['good']:,} / {m['total']:,}</td>"
                    f"<td>{oee_cell}</td></tr>")
    return (f"<section id='machines' class='wide'><h2>Machines: state and this shift's OEE so far</h2>"
            f"<table><tr><th>machine</th><th>work center</th><th>state</th><th>since</th><th>shift</th>"
            f"<th>good / total</th><th>OEE so far</th></tr>{''.join(rows)}</table></section>")


def render_status_page(doc: dict, readiness: tuple[bool, list[str]], title: str = "andon") -> str:
    ok, lines = readiness
    generated = datetime.fromtimestamp(doc.get("generated_ms", 0) / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    roles = ", ".join(doc.get("roles", [])) or "starting"
    ready = (f"<span class='ready {'ok' if ok else 'bad'}' title='{escape('; '.join(lines))}'>"
             f"{'ready' if ok else 'not ready'}</span>")
    sections = _confirmations(doc) + _dead_letters(doc) + _machines(doc)
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><meta http-equiv='refresh' content='10'>"
            f"<title>{escape(title)} status</title><style>{CSS}</style></head><body><header>"
            f"<h1>{escape(title)} status: {escape(roles)}</h1><div>{generated} {ready}</div></header>"
            f"<main>{sections}</main></body></html>")
