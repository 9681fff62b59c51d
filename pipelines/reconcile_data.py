"""Inputs shared by the batch jobs `andon sync-shifts` and `andon reconcile`: the Parquet datasets for a range of
local dates, Odoo datetimes, the Odoo client from a site config, and the andon markers found in Odoo records.

    rows = read_dataset(root, "shift_oee", site, date(2026, 3, 2), date(2026, 3, 3))   # pyarrow.Table
    odoo_dt(1772427600000)        # '2026-03-02 05:00:00' (UTC, as Odoo stores datetimes)
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from andon.config import SiteConfig
from andon.connectors.parquet import DATASETS
from andon.errors import AndonError

PROD = "mrp.workcenter.productivity"
#: Key sync-shifts writes into a productivity record's description: one per (site, work center, shift, loss).
SHIFT_KEY = re.compile(r"\[andon-shift:([^\]/]+)/([^\]/]+)/([^\]/]+)/([^\]/]+)\]")
#: Marker kinds of odoo_sync's logs that are real stops (its `[andon:<event id>] <kind> @<time>` keys). Its
#: quality-hold logs (one window long) mark a hold, not lost time, and are left out of the time accounting.
REALTIME_KINDS = ("downtime", "downtime_closed")
_FMT = "%Y-%m-%d %H:%M:%S"


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise AndonError(f"{text!r} is not a date", hint="use YYYY-MM-DD, e.g. --from 2026-03-02") from None


def date_range(start: str, end: str) -> tuple[date, date]:
    """`--from`/`--to` as dates (both inclusive: local shift dates, the `date=` partitions of shift_oee)."""
    lo, hi = parse_date(start), parse_date(end)
    if hi < lo:
        raise AndonError(f"--to {end} is before --from {start}", hint="swap the two dates")
    return lo, hi


def read_dataset(root: str | Path, dataset: str, site: SiteConfig, lo: date, hi: date) -> pa.Table:
    """Rows of one dataset for the site and the partition dates lo..hi (inclusive); empty table when none."""
    spec = DATASETS[dataset]
    path = Path(root) / dataset / f"site={site.site.id}"
    files = []
    day = lo
    while day <= hi:
        folder = path / f"date={day.isoformat()}"
        if folder.is_dir():
            files += sorted(str(p) for p in folder.glob("part-*.parquet"))
        day += timedelta(days=1)
    if not files:
        return spec.schema.empty_table()
    table = ds.dataset(files, schema=spec.schema, format="parquet").to_table()
    order = [(k, "ascending") for k in spec.key]
    return table.take(pc.sort_indices(table, sort_keys=order))


def final_rows(table: pa.Table) -> tuple[list[dict], int]:
    """The final rows of a shift_oee table as dicts, and how many provisional ones were left out (a provisional
    row covers a shift that had not ended, or whose lateness allowance had not passed, when input stopped)."""
    final = pc.fill_null(table.column("final"), False)
    kept = table.filter(final)
    return kept.to_pylist(), table.num_rows - kept.num_rows


def check_parquet_root(root: str | Path) -> Path:
    root = Path(root)
    if not (root / "shift_oee").is_dir():
        raise AndonError(f"{root} holds no shift_oee dataset",
                         hint="pass --parquet the directory the telemetry dataflow writes to (its --out)")
    return root


def odoo_dt(epoch_ms: int) -> str:
    """Epoch milliseconds to Odoo's naive UTC 'YYYY-MM-DD HH:MM:SS' (seconds, rounded down)."""
    return datetime.fromtimestamp(epoch_ms // 1000, UTC).strftime(_FMT)


def from_odoo_dt(text: str) -> int:
    return int(datetime.strptime(text, _FMT).replace(tzinfo=UTC).timestamp() * 1000)


def ts_ms(value) -> int:
    """A pyarrow timestamp scalar value (datetime) as epoch milliseconds."""
    return int(value.timestamp() * 1000)


def shift_key(site: str, work_center: str, shift_id: str, loss: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", loss.lower()).strip("-")
    return f"[andon-shift:{site}/{work_center}/{shift_id}/{slug}]"


def odoo_client(site: SiteConfig):
    """The Odoo client for the site's settings; a clear error when no credentials are set."""
    from andon.connectors.odoo import OdooClient

    if not (site.odoo.password or site.odoo.api_key):
        raise AndonError("no Odoo credentials", hint="set ANDON_ODOO_PASSWORD or ANDON_ODOO_API_KEY "
                         "(or ANDON_ODOO_PASSWORD_FILE / ANDON_ODOO_API_KEY_FILE)")
    return OdooClient(site.odoo)


def clipped_seconds(start: str, end: str | None, lo_ms: int, hi_ms: int, now_ms: int,
                    breaks: tuple[tuple[int, int], ...] = ()) -> float:
    """Seconds of the log [start, end or now) inside [lo_ms, hi_ms), planned breaks excluded (a stop that runs
    through a break costs no planned time during it, as in shift_oee)."""
    a = max(from_odoo_dt(start), lo_ms)
    b = min(from_odoo_dt(end) if end else now_ms, hi_ms)
    if b <= a:
        return 0.0
    inside = b - a - sum(max(0, min(b, e) - max(a, s)) for s, e in breaks)
    return max(inside, 0) / 1000.0


def shift_breaks(site: SiteConfig, shift_start_ms: int) -> tuple[tuple[int, int], ...]:
    """The planned breaks of the site's shift that starts at `shift_start_ms`."""
    from andon.shifts import ShiftSchedule

    shift = ShiftSchedule.from_site(site).shift_at(shift_start_ms)
    return shift.breaks_ms if shift is not None else ()
