"""`andon run telemetry|odoo-sync|workorders`: the production entry points (each imported only when used)."""

from __future__ import annotations

import click

from andon.cli_env import Lazy, LazyGroup

DATAFLOWS: Lazy = {
    "telemetry": ("andon.pipelines.telemetry_cli:run_telemetry",
                  "Kafka readings -> business events, dead letters, Parquet (bytewax dataflow)"),
    "odoo-sync": ("andon.pipelines.odoo_sync_cli:run_odoo_sync",
                  "business events -> Odoo, idempotent, batched, with retries and a DLQ (bytewax dataflow)"),
    "workorders": ("andon.pipelines.workorders:run_workorders", "released Odoo work orders -> Kafka"),
}


@click.group(cls=LazyGroup, lazy=DATAFLOWS, name="run")
def run() -> None:
    """Production entry points (`andon run DATAFLOW --help` for its options)."""
