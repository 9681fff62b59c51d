"""`andon run telemetry|odoo-sync|workorders`: the production entry points."""

from __future__ import annotations

import importlib

from andon.errors import AndonError

ENTRY_POINTS = {
    "telemetry": "andon.pipelines.telemetry.cli:run_telemetry",
    "odoo-sync": "andon.pipelines.odoo_sync.cli:run_odoo_sync",
    "workorders": "andon.pipelines.workorders:run_workorders",
}


def run_main(argv: list[str]) -> int:
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
