"""`andon reconcile` and `andon sync-shifts`: the command lines of the batch jobs over a date range of the Parquet
datasets (apart from the jobs, so that `--help` imports neither pyarrow nor the config; the jobs are
andon.pipelines.reconcile and andon.pipelines.sync_shifts)."""

from __future__ import annotations

from types import SimpleNamespace

import click

from andon.cli_env import Command, alias, bootstrap_option, config_option, eof_idle_option, option

DEFAULT_AUDIT = "andon-data/odoo-audit.jsonl"


def range_options(config_help: str):
    """--config, --parquet, --from, --to: the commands that read a date range of the Parquet datasets."""
    def decorate(f):
        for d in reversed([
            config_option(config_help, required=True),
            option("--parquet", required=True, metavar="DIR", help="Parquet root (the telemetry --out)"),
            option("--from", "start", required=True, metavar="DATE", envvar="ANDON_FROM",
                   help="first local shift date, YYYY-MM-DD"),
            option("--to", "end", required=True, metavar="DATE", envvar="ANDON_TO",
                   help="last local shift date (inclusive)"),
        ]):
            f = d(f)
        return f
    return decorate


@click.command(cls=Command, name="reconcile")
@range_options("site TOML (secrets from ANDON_* environment variables)")
@option("--out", default=None, metavar="DIR",
        help="report directory: mismatches.parquet, reconcile.html, summary.json (default PARQUET/reconcile/FROM_TO)")
@option("--fix", is_flag=True, help="emit corrective events to the events topic (odoo_sync applies them)")
@bootstrap_option("Kafka bootstrap servers for reading the events topic and for --fix (overrides "
                  "kafka.bootstrap_servers of the site config)")
@alias("--events-bootstrap", "bootstrap_servers")
@option("--events", default=None, metavar="FILE", help="read events from a JSONL file instead of the topic")
@option("--no-events", is_flag=True, help="compare without the events topic (no scrap check)")
@eof_idle_option(2.0, "seconds of silence that end reading the events topic")
@alias("--events-idle", "eof_idle", type=float)
@option("--audit", default=DEFAULT_AUDIT, show_default=True, metavar="FILE",
        help="odoo_sync's audit trail, to tell hand edits from andon's writes")
def reconcile(**params) -> int:
    """Compare shop floor (Parquet, the events topic) with Odoo; exit 0 when they agree, 1 when mismatches remain.

    Writes DIR/mismatches.parquet, DIR/reconcile.html and DIR/summary.json and prints a table. --fix produces
    corrective events to the events topic, which odoo_sync applies; it never writes Odoo itself.
    """
    from andon.pipelines.reconcile import run

    return run(SimpleNamespace(**params))


@click.command(cls=Command, name="sync-shifts")
@range_options("site TOML (Odoo secrets from ANDON_ODOO_* variables)")
@option("--dry-run", is_flag=True, help="print what would be written, write nothing")
def sync_shifts(**params) -> int:
    """Send final shift summaries (Parquet shift_oee) to Odoo as productivity records, idempotent."""
    from andon.pipelines.sync_shifts import run

    return run(SimpleNamespace(**params))
