"""odoo_sync end to end despite Odoo's faults (test_sync_faults*.py): the faults, which variant meets which, and
the run with its checks. Each transport classifies faults its own way (XML-RPC faults and protocol errors,
odoorpc's JSON-RPC errors, JSON-2 statuses), so every transport meets every fault: JSON-RPC (17-community, the
full stream) and JSON-2 (19-community) all five, the XML-RPC variants five between them."""

from __future__ import annotations

import pytest
from odoo_variants import VARIANTS
from odoosync_tools import assert_all_applied, assert_per_machine_order, dead_letters, keyed_summary, run_sync

FAULTS = {
    "503-for-30pc": {"error_kind": "503", "error_rate": 0.3, "seed": 5},
    "outage-6s": {"outage_for_s": 6},
    "serialization-20pc": {"error_kind": "serialization", "error_rate": 0.2, "seed": 7},
    "429-10pc": {"error_kind": "429", "error_rate": 0.1, "retry_after_s": 0.2, "seed": 9},
    "slow-40ms": {"latency_ms": 40},
}
_BY_ID = {v.id: v for v in VARIANTS}
#: variant id -> the faults it meets
MATRIX = {
    "17-community": tuple(FAULTS),
    "19-community": tuple(FAULTS),
    "17-enterprise": ("503-for-30pc", "slow-40ms"),
    "18-community": ("serialization-20pc", "429-10pc"),
    "19-enterprise": ("outage-6s",),
}


def cases(*variant_ids: str) -> list:
    """pytest params (variant, faults) with ids `<variant>-<fault>`."""
    return [pytest.param(_BY_ID[v], FAULTS[kind], id=f"{v}-{kind}") for v in variant_ids for kind in MATRIX[v]]


def check_applied_despite_faults(plant, odoo, admin, broker, tmp_path, event_lines, faults, fault_summary) -> None:
    """Injects the faults into the stand-in during one `andon run odoo-sync`. Checks: every event applied exactly
    once, in per-machine order; no transient failure dead-lettered."""
    config, topics, env = plant
    odoo.set_faults(**faults)
    run_sync(config, tmp_path, env, "--breaker-reset", "1", "--hold-max", "2")
    odoo.clear_faults()
    stats = odoo.stats()["by_outcome"]
    injected = sum(n for k, n in stats.items() if k.startswith("fault:")) or odoo.stats()["calls"]  # latency: all
    expected, applied, duplicates = keyed_summary(admin, event_lines)
    what = "calls slowed" if "latency_ms" in faults else "Odoo faults"
    fault_summary(faults=f"{injected} {what} ({', '.join(f'{k}={v}' for k, v in faults.items())})",
                  readings_in="-", events_expected=expected, events_applied=applied, duplicates=duplicates,
                  lost=expected - applied, events_in=len(event_lines))
    assert_all_applied(admin, event_lines)
    assert_per_machine_order(admin, event_lines)
    if "latency_ms" not in faults:
        assert injected > 0, "the faults did happen"
    reasons = {d["andon.dlq.reason"] for d in dead_letters(broker, topics[3])}
    assert reasons <= {"no_active_work_order"}, f"a transient failure was dead-lettered: {reasons}"
