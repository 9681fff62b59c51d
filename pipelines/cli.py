"""`andon run telemetry|odoo-sync|workorders`: the production entry points."""

from __future__ import annotations

import importlib

from andon.errors import AndonError

ENTRY_POINTS = {
    "telemetry": "andon.pipelines.telemetry_cli:run_telemetry",
    "odoo-sync": "andon.pipelines.odoo_sync_cli:run_odoo_sync",
    "workorders": "andon.pipelines.workorders:run_workorders",
}


HELP = {"telemetry": "Kafka readings -> business events, dead letters, Parquet (bytewax dataflow)",
        "odoo-sync": "business events -> Odoo, idempotent, batched, with retries and a DLQ (bytewax dataflow)",
        "workorders": "released Odoo work orders -> Kafka"}


def run_main(argv: list[str]) -> int:
    if argv[:1] in (["-h"], ["--help"], ["help"]):
        print("usage: andon run DATAFLOW [options]   (andon run DATAFLOW --help for its options)\n\ndataflows:")
        for name, text in HELP.items():
            print(f"  {name:<11} {text}")
        return 0
    if not argv or argv[0] not in ENTRY_POINTS:
        raise AndonError(f"andon run needs one of: {', '.join(ENTRY_POINTS)}",
                         hint="e.g. andon run telemetry --config site.toml")
    module, func = ENTRY_POINTS[argv[0]].split(":")
    try:
        target = getattr(importlib.import_module(module), func)
    except ModuleNotFoundError as exc:
        if exc.name and module.startswith(exc.name):
            raise AndonError(f"this andon build has no {argv[0]} dataflow yet",
                             hint="see the project's open issues") from None
        raise
    return target(argv[1:])
